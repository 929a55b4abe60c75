// `gelan export`: deployable files from weights — ONNX (auxiliary branch removed, folded, optionally with NMS) or
// an official-layout PyTorch checkpoint that the official detect.py / val.py / train.py load.
import { basename, dirname, extname, join } from 'node:path';
import type { Command } from 'commander';
import { createDevice } from '../engine/create-device';
import { NMS_DEFAULTS, ONNX_OPSETS, exportOnnx, exportTorchCheckpoint } from '../models';
import { modelFromWeights, writeAtomic } from './common';
import { type ValueCheck, checked, existingFile, fraction, invalid, oneOf, outputFile, positiveInt } from './options';

const FORMATS = ['onnx', 'pt'] as const;

interface ExportOpts {
  weights: string;
  format: (typeof FORMATS)[number];
  cfg?: string;
  imgsz: [number, number];
  batch: number;
  dynamic: boolean;
  half: boolean;
  nms: boolean;
  conf?: number;
  iou?: number;
  maxDet?: number;
  opset: number;
  output?: string;
}

/** `--imgsz 640` or `--imgsz 480,640` (height, width). */
const imageSize: ValueCheck<[number, number]> = (v, o) => {
  const parts = v.split(',').map((p) => positiveInt(p, o));
  if (parts.length === 1) return [parts[0], parts[0]];
  if (parts.length === 2) return [parts[0], parts[1]];
  throw invalid(o, 'N or H,W', v);
};

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description('export weights for deployment: ONNX (reparameterised and fused, optional NMS) or an official-layout PyTorch .pt')
    .addOption(checked('--weights <file>', 'weights (.safetensors, training checkpoint or official .pt)', existingFile).makeOptionMandatory())
    .addOption(checked('--format <onnx|pt>', 'onnx, or pt (a checkpoint the official YOLOv9 code loads)', oneOf(...FORMATS), 'onnx'))
    .option('--cfg <name|file.yaml>', 'model config when the weights carry none')
    .addOption(checked('--imgsz <n|h,w>', 'ONNX input size (multiples of the largest stride)', imageSize, [640, 640]))
    .addOption(checked('--batch <n>', 'ONNX batch size (without --dynamic)', positiveInt, 1))
    .option('--dynamic', 'ONNX: symbolic batch, height and width', false)
    .option('--half', 'ONNX: f16 input, weights and convolutions; pt: always f16 as the official files', false)
    .option('--nms', 'ONNX: append NonMaxSuppression (outputs num_dets, det_boxes, det_scores, det_classes)', false)
    .addOption(checked('--conf <p>', `NMS confidence threshold (default ${NMS_DEFAULTS.conf})`, fraction))
    .addOption(checked('--iou <p>', `NMS IoU threshold (default ${NMS_DEFAULTS.iou})`, fraction))
    .addOption(checked('--max-det <n>', `NMS detections per image (default ${NMS_DEFAULTS.maxDet})`, positiveInt))
    .addOption(checked('--opset <n>', `ONNX opset (${ONNX_OPSETS.min}–${ONNX_OPSETS.max})`, positiveInt, ONNX_OPSETS.min))
    .addOption(checked('--output <file>', 'output file (default: the weights file name with .onnx / -official.pt)', outputFile))
    .action(async (o: ExportOpts) => {
      const format = o.format;
      const nmsOnly = (['conf', 'iou', 'maxDet'] as const).filter((k) => o[k] !== undefined);
      if (nmsOnly.length && !o.nms) throw new Error(`--${nmsOnly[0] === 'maxDet' ? 'max-det' : nmsOnly[0]} applies only with --nms`);
      if (format === 'pt' && (o.nms || o.dynamic)) throw new Error(`--${o.nms ? 'nms' : 'dynamic'} applies only to --format onnx`);
      const stem = join(dirname(o.weights), basename(o.weights, extname(o.weights)));
      const out = o.output ?? (format === 'onnx' ? `${stem}.onnx` : `${stem}-official.pt`);
      if (out === o.weights) throw new Error(`--output ${out} would overwrite the weights`);
      if (o.output === undefined) outputFile(out, '--output');
      const dev = await createDevice();
      const { model, weights } = modelFromWeights(dev, o.weights, o.cfg);
      try {
        let bytes: Uint8Array;
        let what: string;
        if (format === 'onnx') {
          const [h, w] = o.imgsz;
          const nms = o.nms ? { conf: o.conf, iou: o.iou, maxDet: o.maxDet } : false;
          bytes = await exportOnnx(model, {
            imgsz: [h, w], batch: o.batch, dynamic: o.dynamic, half: o.half, nms, opset: o.opset,
            names: weights.names ?? undefined, source: o.weights,
          });
          what = `ONNX opset ${o.opset}, ${o.dynamic ? 'dynamic batch/height/width' : `batch ${o.batch} at ${h}x${w}`}${o.half ? ', f16' : ''}${o.nms ? ', with NMS' : ''}${model.isDual ? ', auxiliary branch removed' : ''}`;
        } else {
          bytes = await exportTorchCheckpoint(model, { names: weights.names ?? undefined, source: o.weights });
          what = 'PyTorch checkpoint in the official layout (fp16 DetectionModel)';
        }
        writeAtomic(out, bytes);
        console.log(`${o.weights} (${model.config.source}) -> ${out}: ${what}, ${(bytes.length / 2 ** 20).toFixed(1)} MiB`);
      } finally {
        model.dispose();
        dev.dispose();
      }
    });
}
