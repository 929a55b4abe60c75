// The YOLOv9 detection loss (official utils/loss_tal.py and loss_tal_dual.py), on the GPU: per branch the
// TaskAlignedAssigner, BCE over all anchors and classes, CIoU box loss and Distribution Focal Loss over the
// foreground weighted by the target scores, each normalised by S = max(Σ target scores, 1). Dual-head models
// weight the auxiliary branch 0.25; gains box 7.5, cls 0.5, dfl 1.5; the total is scaled by the batch size.
import type { Device } from '../../engine/device';
import { add, bceWithLogits, cast, clamp, concat, div, logsumexp, mul, reshape, scale, slice, softmax, sub, sum } from '../../engine/ops';
import { type Tensor, tensor } from '../../engine/tensor';
import { OpError, fmtShape } from '../../engine/errors';
import type { ModelOutput } from '../../models/yolo';
import type { BranchOutput } from '../../models/heads';
import { REG_MAX, makeAnchors } from '../../models/heads';
import { type AssignTargets, type GroundTruth, assign, packTargets } from './assigner';
import { ciou } from './ciou';

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

interface BranchTerms {
  box: Tensor;
  cls: Tensor;
  dfl: Tensor;
}

/** Loss terms of one branch (unweighted by gains). */
function branchTerms(levels: readonly Tensor[], strides: readonly number[], gt: GroundTruth, nc: number): BranchTerms {
  const dev = levels[0].device;
  const B = levels[0].shape[0];
  const no = 4 * REG_MAX + nc;
  if (levels.some((l) => l.shape[1] !== no)) throw new OpError('detectionLoss', `level maps ${levels.map((l) => fmtShape(l.shape)).join(', ')} do not have ${no} channels for nc ${nc}`);
  const shapes = levels.map((l) => [l.shape[2], l.shape[3]] as const);
  const a = makeAnchors(shapes, strides);
  const A = a.strides.length;
  const anchors = tensor(dev, a.points, [1, 2, A]);
  const strideT = tensor(dev, a.strides, [1, 1, A]);
  const bins = tensor(dev, Float32Array.from({ length: REG_MAX }, (_, i) => i), [1, 1, REG_MAX, 1]);
  const cat = concat(levels.map((l) => reshape(l, [B, no, -1])), 2); // (B, no, A)
  // mixed-precision models hand over f16 levels: the loss runs in f32 (the cast's backward narrows the gradient)
  const pred = cat.dtype === 'f32' ? cat : cast(cat, 'f32');
  const box4 = reshape(slice(pred, 1, 0, 4 * REG_MAX), [B, 4, REG_MAX, A]);
  const cls = slice(pred, 1, 4 * REG_MAX, no); // (B, nc, A)
  const dist = sum(mul(softmax(box4, 2), bins), 2); // (B, 4, A) expected ltrb
  const pbox = concat([sub(anchors, slice(dist, 1, 0, 2)), add(anchors, slice(dist, 1, 2, 4))], 1); // xyxy grid
  const t: AssignTargets = assign(pred.detach(), pbox.detach(), anchors, strideT, gt, nc);
  const S = clamp(sum(t.scores), 1, Infinity);
  const clsLoss = div(sum(bceWithLogits(cls, t.scores)), S);
  const boxLoss = div(sum(mul(scale(ciou(pbox, t.boxes), -1, 1), t.weight)), S);
  // DFL: cross-entropy of each side's 16 logits against the two-hot target, averaged over the 4 sides
  const ce = sub(logsumexp(box4, 2), sum(mul(box4, t.twohot), 2)); // (B, 4, A)
  const dflLoss = div(sum(mul(scale(sum(ce, 1, true), 0.25), t.weight)), S);
  return { box: boxLoss, cls: clsLoss, dfl: dflLoss };
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
  let box: Tensor | null = null;
  let cls: Tensor | null = null;
  let dfl: Tensor | null = null;
  const acc = (prev: Tensor | null, v: Tensor, w: number): Tensor => {
    const s = w === 1 ? v : scale(v, w);
    return prev ? add(prev, s) : s;
  };
  for (const { branch, weight } of branchesOf(out)) {
    const t = branchTerms(branch.levels, strides, gt, nc);
    box = acc(box, t.box, weight);
    cls = acc(cls, t.cls, weight);
    dfl = acc(dfl, t.dfl, weight);
  }
  const items = concat([scale(reshape(box!, [1]), GAINS.box), scale(reshape(cls!, [1]), GAINS.cls), scale(reshape(dfl!, [1]), GAINS.dfl)], 0);
  const loss = scale(sum(items), B);
  return { loss, items: items.detach() };
}
