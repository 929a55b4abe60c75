// `gelan detect`: annotated images (and YOLO txt results) of weights on image files.
import { readFileSync, writeFileSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import type { Command } from 'commander';
import { createDevice } from '../engine/create-device';
import { DetectionModel, fuseModel } from '../models';
import { decodeImage, encodeJpeg, encodePng, type RgbImage } from '../training/data/image';
import { annotate } from '../training/data/draw';
import { detectImage } from '../training/detect';
import { checkImageSize, modelFromWeights, weightsArg } from './common';
import { discardOnFailure, nextRunDir } from './runs';
import { checked, existingFile, existingPath, fraction, nameList, positiveInt } from './options';

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png']);

/** Detect on one image file (boxes in the file's pixels). */
export async function detectFile(model: DetectionModel, path: string, imgsz: number, conf: number, iou: number): Promise<{ image: RgbImage; dets: number[][] }> {
  const image = decodeImage(new Uint8Array(readFileSync(path)), path);
  return { image, dets: await detectImage(model, image, { imgsz, conf, iou }) };
}

/** `gelan detect`. */
export function registerDetectCommand(program: Command): void {
  program
    .command('detect')
    .description('detect objects in images: annotated images (and YOLO txt results) under runs/detect/<name>')
    .addOption(checked('--weights <file>', 'weights or training checkpoint', existingFile).makeOptionMandatory())
    .addOption(checked('--source <image|folder>', 'an image or a folder of JPEG/PNG images', existingPath).makeOptionMandatory())
    .option('--cfg <name|file.yaml>', 'model config when the weights carry none')
    .addOption(checked('--conf <x>', 'confidence threshold', fraction, 0.25))
    .addOption(checked('--iou <x>', 'NMS IoU threshold', fraction, 0.45))
    .addOption(checked('--imgsz <n>', 'input size', positiveInt, 640))
    .option('--save-txt', 'also write YOLO-format results (class cx cy w h conf) to labels/', false)
    .option('--half', 'f16 inference (weights and activations; needs shader-f16)', false)
    .addOption(checked('--names <a,b,c>', 'class names (default: from the weights, else indices)', nameList))
    .option('--project <dir>', 'runs folder', 'runs/detect')
    .option('--name <name>', 'run name', 'exp')
    .action(async (o: { weights: string; source: string; cfg?: string; conf: number; iou: number; imgsz: number; saveTxt: boolean; half: boolean; names?: string; project: string; name: string }) => {
      const files = statSync(o.source).isDirectory() ? readdirSync(o.source).filter((f) => IMAGE_EXT.has(extname(f).toLowerCase())).sort().map((f) => join(o.source, f)) : [o.source];
      if (files.length === 0) throw new Error(`--source ${o.source}: no JPEG or PNG images`);
      const w = weightsArg(o.weights, o.cfg);
      checkImageSize(o.imgsz, w.config);
      const dev = await createDevice();
      const { model, weights } = modelFromWeights(dev, w);
      fuseModel(model, { dtype: o.half ? 'f16' : 'f32' });
      const names = o.names?.split(',') ?? weights.names ?? Array.from({ length: model.nc }, (_, i) => String(i));
      const dir = nextRunDir(o.project, o.name);
      // a failure (an image that does not decode) keeps what was written, but leaves no empty folder
      await discardOnFailure(dir, () => true, async () => {
        mkdirSync(o.saveTxt ? join(dir, 'labels') : dir, { recursive: true });
        for (const f of files) {
          const t0 = performance.now();
          const { image, dets } = await detectFile(model, f, o.imgsz, o.conf, o.iou);
          const out = join(dir, basename(f));
          writeFileSync(out, /\.png$/i.test(f) ? encodePng(annotate(image, dets, names)) : encodeJpeg(annotate(image, dets, names), 90));
          if (o.saveTxt) {
            const lines = dets.map(([x1, y1, x2, y2, c, k]) => `${k} ${((x1 + x2) / 2 / image.width).toFixed(6)} ${((y1 + y2) / 2 / image.height).toFixed(6)} ${((x2 - x1) / image.width).toFixed(6)} ${((y2 - y1) / image.height).toFixed(6)} ${c.toFixed(5)}`);
            writeFileSync(join(dir, 'labels', `${basename(f, extname(f))}.txt`), lines.join('\n') + (lines.length ? '\n' : ''));
          }
          const counts = new Map<string, number>();
          for (const d of dets) counts.set(names[d[5]] ?? String(d[5]), (counts.get(names[d[5]] ?? String(d[5])) ?? 0) + 1);
          console.log(`${f}: ${image.width}x${image.height}, ${[...counts].map(([n, c]) => `${c} ${n}`).join(', ') || 'no detections'} (${(performance.now() - t0).toFixed(0)} ms) -> ${out}`);
        }
      });
      model.dispose();
      dev.dispose();
    });
}
