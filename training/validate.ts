// Validation as the official val loop does it: eval-mode forward of (usually) the EMA model, NMS with
// conf 0.001 / IoU 0.7 / multi-label, matching against the labels at IoU 0.50:0.95, mAP by 101-point
// interpolation, plus the validation loss terms. Boxes are compared in the letterboxed input space (the
// uniform letterbox scale does not change IoUs).
import { noGrad, tensor, tidy } from '../engine/tensor';
import type { DetectionModel } from '../models/yolo';
import type { BranchOutput } from '../models/heads';
import { cast } from '../engine/ops';
import type { Batch, DataLoader } from './data/loader';
import { detectionLoss } from './loss/detection-loss';
import { type Detection, type NmsOptions, nms } from './metrics/nms';
import { type ApResult, type Label, apPerClass, processBatch } from './metrics/map';

/** What validate() returns: precision, recall and mAP overall and per class. */
export interface ValResult extends ApResult {
  /** Mean validation loss terms [box, cls, dfl] (gained, as the training items). */
  readonly loss: number[];
  readonly images: number;
  readonly labels: number;
  readonly seconds: number;
}

/** Detections and labels of one validation image. */
export interface Prediction {
  readonly path: string;
  readonly index: number;
  readonly detections: Detection[];
  readonly labels: Label[];
}

/** Labels of image `b` of a batch in input pixels: [cls, x1, y1, x2, y2]. */
export function batchLabels(batch: Batch, b: number): Label[] {
  const [, , H, W] = batch.shape;
  const out: Label[] = [];
  for (let r = 0; r < batch.nTargets; r++) {
    const t = batch.targets.subarray(6 * r, 6 * r + 6);
    if (t[0] !== b) continue;
    out.push([t[1], (t[2] - t[4] / 2) * W, (t[3] - t[5] / 2) * H, (t[2] + t[4] / 2) * W, (t[3] + t[5] / 2) * H]);
  }
  return out;
}

/** Run NMS on one eval batch: returns the detections per image (input pixels). */
export async function detectBatch(model: DetectionModel, batch: Batch, o: NmsOptions): Promise<Detection[][]> {
  const dev = model.device;
  model.eval();
  const yP = noGrad(dev, () => tidy(dev, () => model.forward(tensor(dev, batch.images, batch.shape)).main.y!.data()));
  const y = await yP;
  const [B] = batch.shape;
  const per = y.length / B;
  const A = per / (4 + model.nc);
  return Array.from({ length: B }, (_, b) => nms(y.subarray(b * per, (b + 1) * per), model.nc, A, o));
}

/** Runs the model over a loader and computes precision, recall and mAP@0.5 / mAP@0.5:0.95 per class as the official val.py. */
export async function validate(
  model: DetectionModel,
  loader: DataLoader,
  o: { nms?: NmsOptions; keepPredictions?: number; onBatch?: (done: number, total: number) => void } = {},
): Promise<{ result: ValResult; predictions: Prediction[] }> {
  const t0 = performance.now();
  const dev = model.device;
  const nmsOpts: NmsOptions = { conf: 0.001, iou: 0.7, multiLabel: true, maxDet: 300, ...o.nms };
  const tps: boolean[][] = [];
  const confs: number[] = [];
  const classes: number[] = [];
  const targetCls: number[] = [];
  const lossSum = [0, 0, 0];
  const predictions: Prediction[] = [];
  let images = 0;
  model.eval();
  for (let b = 0; b < loader.length; b++) {
    const batch = await loader.batch(0, b);
    const [B] = batch.shape;
    const r = noGrad(dev, () =>
      tidy(dev, () => {
        const out = model.forward(tensor(dev, batch.images, batch.shape));
        // an f16 model (fuseModel dtype 'f16') returns f16 level maps: the loss is computed in f32
        const f32 = (b: BranchOutput): BranchOutput => ({ ...b, levels: b.levels.map((l) => (l.dtype === 'f16' ? cast(l, 'f32') : l)) });
        const { items } = detectionLoss({ main: f32(out.main), aux: out.aux && f32(out.aux) }, batch.targets, model.head.strides, model.nc);
        return { y: out.main.y!.data(), items: items.data() };
      }),
    );
    const y = await r.y;
    const items = await r.items;
    items.forEach((v, i) => (lossSum[i] += v));
    const per = y.length / B;
    const A = per / (4 + model.nc);
    for (let i = 0; i < B; i++) {
      const dets = nms(y.subarray(i * per, (i + 1) * per), model.nc, A, nmsOpts);
      const labels = batchLabels(batch, i);
      labels.forEach((l) => targetCls.push(l[0]));
      processBatch(dets, labels).forEach((row, d) => {
        tps.push(row);
        confs.push(dets[d][4]);
        classes.push(dets[d][5]);
      });
      if (predictions.length < (o.keepPredictions ?? 0)) predictions.push({ path: batch.paths[i], index: batch.indices[i], detections: dets, labels });
      images++;
    }
    o.onBatch?.(b + 1, loader.length);
  }
  const ap = apPerClass(tps, confs, classes, targetCls);
  return {
    result: { ...ap, loss: lossSum.map((v) => v / Math.max(loader.length, 1)), images, labels: targetCls.length, seconds: (performance.now() - t0) / 1000 },
    predictions,
  };
}
