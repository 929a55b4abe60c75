// Complete IoU of two sets of xyxy boxes laid out (B, 4, A), exactly as the official bbox_iou(CIoU=True): eps
// 1e-7 on heights and on the union, and the aspect term's α without gradient. With a gradient for the first boxes
// only (a prediction against targets) it runs one kernel each way (kernels/ciou.wgsl.ts); with a gradient for the
// second boxes too it is composed of elementwise ops. (The detection loss computes it inside its box-loss kernels.)
import { add, atan, clamp, concat, denseFromStart, div, maximum, minimum, mul, runKernel, scale, slice, sub, withBackward } from '../../engine/ops';
import { OpError, fmtShape } from '../../engine/errors';
import { sameShape } from '../../engine/shape';
import { type Tensor, empty } from '../../engine/tensor';
import { CIOU_WG, ciouBwdKernel, ciouFwdKernel } from '../../kernels/ciou.wgsl';

const EPS = 1e-7;
const FOUR_OVER_PI2 = 4 / Math.PI ** 2;

/** (B, 1, A) CIoU of `a` and `b` (each (B, 4, A) xyxy, f32). */
export function ciou(a: Tensor, b: Tensor): Tensor {
  if (a.rank !== 3 || a.shape[1] !== 4 || !sameShape(a.shape, b.shape)) {
    throw new OpError('ciou', `boxes must both be (B, 4, A), got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  if (b.requiresGrad || a.dtype !== 'f32' || b.dtype !== 'f32') return ciouComposed(a, b);
  const dev = a.device;
  const [B, , A] = a.shape;
  // the kernels index dense tensors from element 0
  const [ad, bd] = [denseFromStart(a), denseFromStart(b)];
  const out = empty(dev, [B, 1, A], 'f32', 'ciou');
  const params = { n: B * A, A };
  const work = { workgroups: dev.gridStride(B * A, CIOU_WG) };
  runKernel(ciouFwdKernel(), { a: ad, b: bd, out }, params, work);
  const y = withBackward(out, 'ciou', [a], [ad, bd], (gy, [as, bs]) => {
    const gyd = denseFromStart(gy);
    const ga = empty(dev, [B, 4, A], 'f32', 'ciou.grad');
    runKernel(ciouBwdKernel(), { a: as, b: bs, gy: gyd, ga }, params, work);
    if (gyd !== gy) gyd.dispose();
    return [ga];
  });
  if (ad !== a) ad.dispose();
  if (bd !== b) bd.dispose();
  return y;
}

/** The same CIoU composed of differentiable ops (gradients for both boxes). */
function ciouComposed(a: Tensor, b: Tensor): Tensor {
  const c = (t: Tensor, k: number): Tensor => slice(t, 1, k, k + 1);
  const [ax1, ay1, ax2, ay2] = [0, 1, 2, 3].map((k) => c(a, k));
  const [bx1, by1, bx2, by2] = [0, 1, 2, 3].map((k) => c(b, k));
  const w1 = sub(ax2, ax1);
  const h1 = scale(sub(ay2, ay1), 1, EPS);
  const w2 = sub(bx2, bx1);
  const h2 = scale(sub(by2, by1), 1, EPS);
  const iw = clamp(sub(minimum(ax2, bx2), maximum(ax1, bx1)), 0, Infinity);
  const ih = clamp(sub(minimum(ay2, by2), maximum(ay1, by1)), 0, Infinity);
  const inter = mul(iw, ih);
  const union = scale(sub(add(mul(w1, h1), mul(w2, h2)), inter), 1, EPS);
  const iou = div(inter, union);
  const cw = sub(maximum(ax2, bx2), minimum(ax1, bx1));
  const ch = sub(maximum(ay2, by2), minimum(ay1, by1));
  const c2 = scale(add(mul(cw, cw), mul(ch, ch)), 1, EPS);
  const dx = sub(add(bx1, bx2), add(ax1, ax2));
  const dy = sub(add(by1, by2), add(ay1, ay2));
  const rho2 = scale(add(mul(dx, dx), mul(dy, dy)), 0.25);
  const t = sub(atan(div(w2, h2)), atan(div(w1, h1)));
  const v = scale(mul(t, t), FOUR_OVER_PI2);
  // α = v / (v − iou + 1 + eps), a constant in the gradient
  const vd = v.detach();
  const alpha = div(vd, scale(sub(vd, iou.detach()), 1, 1 + EPS));
  return sub(iou, add(div(rho2, c2), mul(v, alpha)));
}

/** Concatenate (B, 1, A) coordinate planes into (B, 4, A) boxes. */
export const boxes = (x1: Tensor, y1: Tensor, x2: Tensor, y2: Tensor): Tensor => concat([x1, y1, x2, y2], 1);
