// `gelan export`: deployable files from weights — ONNX (auxiliary branch removed, folded, optionally with NMS) or
// an official-layout PyTorch checkpoint that the official detect.py / val.py / train.py load.
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { Command } from 'commander';
import { createDevice } from '../engine/create-device';
import { NMS_DEFAULTS, ONNX_OPSETS, exportOnnx, exportTorchCheckpoint } from '../models';
import { modelFromWeights, writeAtomic } from './common';

interface ExportOpts {
  weights: string;
  format: string;
  cfg?: string;
  imgsz: string;
  batch: string;
  dynamic: boolean;
  half: boolean;
  nms: boolean;
  conf?: string;
  iou?: string;
  maxDet?: string;
  opset: string;
  output?: string;
}

const FORMATS = ['onnx', 'pt'] as const;

/** A number option, or a one-line error naming it. */
function num(opt: string, v: string, integer: boolean): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new Error(`${opt} expects ${integer ? 'an integer' : 'a number'}, got '${v}'`);
  return n;
}

/** `--imgsz 640` or `--imgsz 480,640` (height, width). */
function imgsz(v: string): [number, number] {
  const parts = v.split(',').map((p) => num('--imgsz', p, true));
  if (parts.length === 1) return [parts[0], parts[0]];
  if (parts.length === 2) return [parts[0], parts[1]];
  throw new Error(`--imgsz expects N or H,W, got '${v}'`);
}

export function registerExportCommand(program: Command): void {
  program
    .command('export')
    .description('export weights for deployment: ONNX (reparameterised and fused, optional NMS) or an official-layout PyTorch .pt')
    .requiredOption('--weights <file>', 'weights (.safetensors, training checkpoint or official .pt)')
    .option('--format <onnx|pt>', 'onnx, or pt (a checkpoint the official YOLOv9 code loads)', 'onnx')
    .option('--cfg <name|file.yaml>', 'model config when the weights carry none')
    .option('--imgsz <n|h,w>', 'ONNX input size (multiples of the largest stride)', '640')
    .option('--batch <n>', 'ONNX batch size (without --dynamic)', '1')
    .option('--dynamic', 'ONNX: symbolic batch, height and width', false)
    .option('--half', 'ONNX: f16 input, weights and convolutions; pt: always f16 as the official files', false)
    .option('--nms', 'ONNX: append NonMaxSuppression (outputs num_dets, det_boxes, det_scores, det_classes)', false)
    .option('--conf <p>', `NMS confidence threshold (default ${NMS_DEFAULTS.conf})`)
    .option('--iou <p>', `NMS IoU threshold (default ${NMS_DEFAULTS.iou})`)
    .option('--max-det <n>', `NMS detections per image (default ${NMS_DEFAULTS.maxDet})`)
    .option('--opset <n>', `ONNX opset (${ONNX_OPSETS.min}–${ONNX_OPSETS.max})`, String(ONNX_OPSETS.min))
    .option('--output <file>', 'output file (default: the weights file name with .onnx / -official.pt)')
    .action(async (o: ExportOpts) => {
      if (!(FORMATS as readonly string[]).includes(o.format)) throw new Error(`--format ${o.format}: supported formats are ${FORMATS.join(', ')}`);
      const format = o.format as (typeof FORMATS)[number];
      const nmsOnly = (['conf', 'iou', 'maxDet'] as const).filter((k) => o[k] !== undefined);
      if (nmsOnly.length && !o.nms) throw new Error(`--${nmsOnly[0] === 'maxDet' ? 'max-det' : nmsOnly[0]} applies only with --nms`);
      if (format === 'pt' && (o.nms || o.dynamic)) throw new Error(`--${o.nms ? 'nms' : 'dynamic'} applies only to --format onnx`);
      const stem = join(dirname(o.weights), basename(o.weights, extname(o.weights)));
      const out = o.output ?? (format === 'onnx' ? `${stem}.onnx` : `${stem}-official.pt`);
      if (out === o.weights) throw new Error(`--output ${out} would overwrite the weights`);
      if (!existsSync(dirname(out) || '.')) throw new Error(`--output ${out}: folder ${dirname(out)} does not exist`);
      const dev = await createDevice();
      const { model, weights } = modelFromWeights(dev, o.weights, o.cfg);
      try {
        let bytes: Uint8Array;
        let what: string;
        if (format === 'onnx') {
          const [h, w] = imgsz(o.imgsz);
          const nms = o.nms
            ? { conf: o.conf === undefined ? undefined : num('--conf', o.conf, false), iou: o.iou === undefined ? undefined : num('--iou', o.iou, false), maxDet: o.maxDet === undefined ? undefined : num('--max-det', o.maxDet, true) }
            : false;
          bytes = await exportOnnx(model, {
            imgsz: [h, w], batch: num('--batch', o.batch, true), dynamic: o.dynamic, half: o.half, nms, opset: num('--opset', o.opset, true),
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
