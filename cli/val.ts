// `gelan val`: P, R, mAP@0.5 and mAP@0.5:0.95 per class of weights on a dataset (the official method).
import type { Command } from 'commander';
import { createDevice } from '../engine/create-device';
import { fuseModel } from '../models';
import { DataLoader } from '../training/data/loader';
import { validate } from '../training/validate';
import { checkImageSize, modelFromWeights, weightsArg } from './common';
import { loadData } from './data';
import { progress } from './runs';
import { checked, existingFile, fraction, nameList, nonNegativeInt, positiveInt } from './options';
import { printVal } from './report';

/** `gelan val`. */
export function registerValCommand(program: Command): void {
  program
    .command('val')
    .description('validate weights on a dataset: P, R, mAP@0.5 and mAP@0.5:0.95 per class (official method)')
    .addOption(checked('--weights <file>', 'weights or training checkpoint (its EMA)', existingFile).makeOptionMandatory())
    .option('--cfg <name|file.yaml>', 'model config when the weights carry none')
    .option('--data <shapes|data.yaml|folder>', 'dataset', 'shapes')
    .addOption(checked('--imgsz <n>', 'input size', positiveInt, 160))
    .addOption(checked('--batch <n>', 'batch size', positiveInt, 16))
    .addOption(checked('--conf <x>', 'confidence threshold', fraction, 0.001))
    .addOption(checked('--iou <x>', 'NMS IoU threshold', fraction, 0.7))
    .addOption(checked('--names <a,b,c>', 'class names when --data is a folder', nameList))
    .addOption(checked('--seed <n>', 'shapes dataset seed', nonNegativeInt, 0))
    .addOption(checked('--shapes-val <n>', 'shapes dataset: validation images', positiveInt, 64))
    .option('--half', 'fused f16 inference (weights and activations; needs shader-f16)', false)
    .action(async (o: { weights: string; cfg?: string; data: string; imgsz: number; batch: number; conf: number; iou: number; names?: string; seed: number; shapesVal: number; half: boolean }) => {
      const w = weightsArg(o.weights, o.cfg);
      checkImageSize(o.imgsz, w.config);
      const data = await loadData(o.data, { trainImages: 1, valImages: o.shapesVal, imgsz: o.imgsz, seed: o.seed }, o.names?.split(','));
      const dev = await createDevice();
      const { model } = modelFromWeights(dev, w);
      if (o.half) fuseModel(model, { dtype: 'f16' });
      const loader = new DataLoader(data.val, { imgsz: o.imgsz, batchSize: o.batch, augment: false });
      const bar = progress(loader.length, 'val');
      const { result } = await validate(model, loader, { nms: { conf: o.conf, iou: o.iou }, onBatch: (d) => bar.update(d, '') });
      bar.stop();
      printVal(result, data.names);
      model.dispose();
      dev.dispose();
    });
}
