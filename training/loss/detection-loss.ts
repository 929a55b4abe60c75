// The YOLOv9 detection loss (official utils/loss_tal.py and loss_tal_dual.py), on the GPU: per branch the
// TaskAlignedAssigner, BCE over all anchors and classes, CIoU box loss and Distribution Focal Loss over the
// foreground weighted by the target scores, each normalised by S = max(Σ target scores, 1). The box decoding and the
// three terms with their gradient run in the box-loss kernels (kernels/box-loss.wgsl.ts), a few dispatches per
// branch instead of ~200 elementwise ones. Dual-head models weight the auxiliary branch 0.25; gains box 7.5, cls
// 0.5, dfl 1.5; the total is scaled by the batch size.
import type { Device } from '../../engine/device';
import { add, cast, clamp, concat, denseFromStart, div, mul, reshape, runKernel, scale, sum, withBackward } from '../../engine/ops';
import { type Tensor, empty, tensor } from '../../engine/tensor';
import { BOX_LOSS_WG, boxDecodeKernel, boxLossBwdKernel, boxLossFwdKernel } from '../../kernels/box-loss.wgsl';
import { OpError, fmtShape } from '../../engine/errors';
import type { ModelOutput } from '../../models/yolo';
import type { BranchOutput } from '../../models/heads';
import { REG_MAX, makeAnchors } from '../../models/heads';
import { type AssignTargets, type GroundTruth, assign, packTargets } from './assigner';

/** Loss gains of box (CIoU), cls (BCE) and DFL (the official hyp values). */
export const GAINS = { box: 7.5, cls: 0.5, dfl: 1.5 } as const;
/** Weight of the PGI auxiliary branch's loss. */
export const AUX_WEIGHT = 0.25;

/** What detectionLoss() returns. */
export interface LossResult {
  /** Scalar to call backward() on: batch × (7.5·box + 0.5·cls + 1.5·dfl). */
  readonly loss: Tensor;
  /** [box, cls, dfl] after gains, without the batch factor (the official logged items). */
  readonly items: Tensor;
}

/**
 * [box, cls, dfl] of one branch (unweighted by gains), each normalised by S = max(Σ target scores, 1): the boxes
 * decoded for the assigner, then the per-anchor terms and their gradient in the box-loss kernels.
 */
function branchTerms(levels: readonly Tensor[], strides: readonly number[], gt: GroundTruth, nc: number): Tensor {
  const dev = levels[0].device;
  const B = levels[0].shape[0];
  const no = 4 * REG_MAX + nc;
  if (levels.some((l) => l.shape[1] !== no)) throw new OpError('detectionLoss', `level maps ${levels.map((l) => fmtShape(l.shape)).join(', ')} do not have ${no} channels for nc ${nc}`);
  const shapes = levels.map((l) => [l.shape[2], l.shape[3]] as const);
  const a = makeAnchors(shapes, strides);
  const A = a.strides.length;
  const anchors = tensor(dev, a.points, [1, 2, A]);
  const strideT = tensor(dev, a.strides, [1, 1, A]);
  const cat = concat(levels.map((l) => reshape(l, [B, no, -1])), 2); // (B, no, A)
  // mixed-precision models hand over f16 levels: the loss runs in f32 (the cast's backward narrows the gradient)
  const pred = denseFromStart(cat.dtype === 'f32' ? cat : cast(cat, 'f32'));
  const params = { n: B * A, A, nc, no };
  const work = { workgroups: dev.gridStride(B * A, BOX_LOSS_WG) };
  const pbox = empty(dev, [B, 4, A], 'f32', 'detectionLoss'); // xyxy grid units, for the assigner
  runKernel(boxDecodeKernel(REG_MAX), { pred, anchors, pbox }, params, work);
  const t: AssignTargets = assign(pred.detach(), pbox, anchors, strideT, gt, nc);
  const S = clamp(sum(t.scores), 1, Infinity);
  const targets = { tscores: t.scores, tboxes: t.boxes, weight: t.weight, twohot: t.twohot };
  const parts = empty(dev, [3, B * A], 'f32', 'detectionLoss');
  runKernel(boxLossFwdKernel(REG_MAX), { pred, anchors, ...targets, parts }, params, work);
  const sums = withBackward(sum(parts, 1), 'boxLoss', [pred], [pred, anchors, t.scores, t.boxes, t.weight, t.twohot], (gy, [ps, an, sc, bx, wt, th]) => {
    const gsum = denseFromStart(gy);
    const gpred = empty(dev, [B, no, A], 'f32', 'detectionLoss.grad');
    runKernel(boxLossBwdKernel(REG_MAX), { pred: ps, anchors: an, tscores: sc, tboxes: bx, weight: wt, twohot: th, gsum, gpred }, params, work);
    if (gsum !== gy) gsum.dispose();
    return [gpred];
  });
  return div(sums, S);
}

function branchesOf(out: ModelOutput): { branch: BranchOutput; weight: number }[] {
  return out.aux ? [{ branch: out.aux, weight: AUX_WEIGHT }, { branch: out.main, weight: 1 }] : [{ branch: out.main, weight: 1 }];
}

/**
 * The training loss of a model output (training-mode level maps) against dataloader targets
 * (rows [img, cls, cx, cy, w, h], normalised to the input size). Call it inside the training step's tidy():
 * its intermediates are what backward() needs, and the scope frees them after the step.
 */
export function detectionLoss(out: ModelOutput, targets: Float32Array, strides: readonly number[], nc: number): LossResult {
  const first = out.main.levels[0];
  const dev: Device = first.device;
  const B = first.shape[0];
  const imgH = first.shape[2] * strides[0];
  const imgW = first.shape[3] * strides[0];
  const gt = packTargets(dev, targets, B, imgW, imgH);
  let terms: Tensor | null = null;
  for (const { branch, weight } of branchesOf(out)) {
    const t = branchTerms(branch.levels, strides, gt, nc);
    const w = weight === 1 ? t : scale(t, weight);
    terms = terms ? add(terms, w) : w;
  }
  const items = mul(terms!, tensor(dev, Float32Array.of(GAINS.box, GAINS.cls, GAINS.dfl), [3]));
  const loss = scale(sum(items), B);
  return { loss, items: items.detach() };
}
