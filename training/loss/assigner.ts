// Host side of the TaskAlignedAssigner: packs the gts (tiny, built on the CPU), runs the kernels of
// kernels/assigner.wgsl.ts and returns the loss targets as tensors. Nothing here needs a gradient.
import { assignMetricsKernel, assignNormsKernel, assignResolveKernel, assignTargetsKernel, assignTopkKernel, dflTargetsKernel } from '../../kernels/assigner.wgsl';
import type { Device } from '../../engine/device';
import { type Tensor, empty, tensor } from '../../engine/tensor';
import { OpError, fmtShape } from '../../engine/errors';
import { runKernel } from '../../engine/ops';
import { REG_MAX } from '../../models/heads';

export const TOPK = 10;
export const ALPHA = 0.5;
export const BETA = 6.0;
/** DFL targets are clamped to reg_max − 1 − 0.01 (the official loss builds its BboxLoss with reg_max − 1: 14.99). */
export const DFL_MAX = REG_MAX - 1 - 0.01;

/** Ground-truth boxes of a batch, padded to the same count per image. */
export interface GroundTruth {
  /** (B, M, 5) rows [cls, x1, y1, x2, y2] in pixels; padding rows are zero. */
  readonly boxes: Tensor;
  /** (B, M): 1 for a real gt. */
  readonly mask: Tensor;
  readonly maxPerImage: number;
}

/**
 * Dataloader targets (rows [img, cls, cx, cy, w, h], normalised) → padded per-image gts in pixels, as the
 * official loss's preprocess (M = the largest number of boxes in one image; at least 1 so shapes stay valid).
 */
export function packTargets(device: Device, targets: Float32Array, batch: number, imgW: number, imgH: number): GroundTruth {
  if (targets.length % 6 !== 0) throw new OpError('packTargets', `targets must be rows of 6 values, got ${targets.length} values`);
  const per: number[][][] = Array.from({ length: batch }, () => []);
  for (let r = 0; r < targets.length; r += 6) {
    const img = targets[r];
    if (!Number.isInteger(img) || img < 0 || img >= batch) throw new OpError('packTargets', `target row ${r / 6} has image index ${img}, batch is ${batch}`);
    const [cls, cx, cy, w, h] = [targets[r + 1], targets[r + 2] * imgW, targets[r + 3] * imgH, targets[r + 4] * imgW, targets[r + 5] * imgH];
    per[img].push([cls, cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]);
  }
  const M = Math.max(1, ...per.map((p) => p.length));
  const boxes = new Float32Array(batch * M * 5);
  const mask = new Float32Array(batch * M);
  per.forEach((rows, b) =>
    rows.forEach((row, g) => {
      boxes.set(row, (b * M + g) * 5);
      // the official mask: coordinate sum > 0
      mask[b * M + g] = row[1] + row[2] + row[3] + row[4] > 0 ? 1 : 0;
    }),
  );
  return { boxes: tensor(device, boxes, [batch, M, 5]), mask: tensor(device, mask, [batch, M]), maxPerImage: M };
}

/** The task-aligned assigner's targets for every anchor. */
export interface AssignTargets {
  /** (B, nc, A) class targets (one-hot × normalised alignment). */
  readonly scores: Tensor;
  /** (B, 4, A) target boxes, xyxy grid units. */
  readonly boxes: Tensor;
  /** (B, 1, A) per-anchor weight Σ_c scores (0 for background). */
  readonly weight: Tensor;
  /** (B, 4, REG_MAX, A) DFL two-hot bin weights. */
  readonly twohot: Tensor;
  /** (B, A) foreground mask (0/1) and (B, A) assigned gt index, for inspection. */
  readonly fg: Tensor;
  readonly gtIndex: Tensor;
}

/**
 * `pred`: the flattened head output (B, 64 + nc, A), dense; `pbox`: decoded xyxy grid boxes (B, 4, A), dense;
 * `anchors` (1, 2, A) grid units and `strides` (1, 1, A).
 */
export function assign(pred: Tensor, pbox: Tensor, anchors: Tensor, strides: Tensor, gt: GroundTruth, nc: number): AssignTargets {
  const dev = pred.device;
  const [B, no, A] = pred.shape;
  for (const t of [pred, pbox, anchors, strides, gt.boxes, gt.mask]) {
    t.assertAlive('assign');
    if (!(t.isContiguous && t.offset === 0)) throw new OpError('assign', `inputs must be dense, got a view of shape ${fmtShape(t.shape)}`);
  }
  if (pbox.shape[0] !== B || pbox.shape[1] !== 4 || pbox.shape[2] !== A || no !== 64 + nc) {
    throw new OpError('assign', `prediction ${fmtShape(pred.shape)} and boxes ${fmtShape(pbox.shape)} do not match nc ${nc}`);
  }
  const M = gt.maxPerImage;
  const params = { B, M, A, nc, no, topk: Math.min(TOPK, A), alpha: ALPHA, beta: BETA, dflMax: DFL_MAX };
  const bma = [B, M, A];
  const align = empty(dev, bma, 'f32', 'assign');
  const ovl = empty(dev, bma, 'f32', 'assign');
  const inside = empty(dev, bma, 'f32', 'assign');
  const pos = empty(dev, bma, 'f32', 'assign');
  const norms = empty(dev, [B, M, 2], 'f32', 'assign');
  const fg = empty(dev, [B, A], 'f32', 'assign');
  const gtIndex = empty(dev, [B, A], 'f32', 'assign');
  const scores = empty(dev, [B, nc, A], 'f32', 'assign');
  const boxes = empty(dev, [B, 4, A], 'f32', 'assign');
  const weight = empty(dev, [B, 1, A], 'f32', 'assign');
  const twohot = empty(dev, [B, 4, REG_MAX, A], 'f32', 'assign');
  runKernel(assignMetricsKernel(), { pred, pbox, anchors, strides, gt: gt.boxes, align, ovl, inside }, params, { invocations: B * M * A });
  runKernel(assignTopkKernel(), { align, inside, maskgt: gt.mask, pos }, params, { invocations: B * M });
  runKernel(assignResolveKernel(), { pos, ovl, fg, gtidx: gtIndex }, params, { invocations: B * A });
  runKernel(assignNormsKernel(), { align, ovl, pos, norms }, params, { invocations: B * M });
  runKernel(assignTargetsKernel(), { gt: gt.boxes, fg, gtidx: gtIndex, align, norms, strides, tscores: scores, tboxes: boxes, weight }, params, { invocations: B * A });
  runKernel(dflTargetsKernel(REG_MAX), { tboxes: boxes, anchors, twohot }, params, { invocations: B * A });
  [align, ovl, inside, pos, norms].forEach((t) => t.dispose());
  return { scores, boxes, weight, twohot, fg, gtIndex };
}
