// The forward conv: plan, then run the chosen path. The geometry is taken as given (the input gradient's phases
// use negative padding and explicit output sizes) and the output goes wherever `out` says.
import type { DType } from '../../../kernels/common';
import type { Device } from '../../device';
import { type Tensor, empty } from '../../tensor';
import { type WeightFlip, flipWeights } from './flip';
import { type ConvGeometry, type OutLayout, denseLayout } from './geometry';
import { type ForwardPlan, type FwdTune, planForward } from './plan';
import { pointwiseForward } from './pointwise';
import { gemmForward } from './sgmat';
import { windowForward } from './window';

/** `w` is the weight, or an input-gradient phase kernel as a view of the forward weight (the window kernel reads it in place). */
export function convForward(
  dev: Device, g: ConvGeometry, x: Tensor, w: Tensor | WeightFlip, b: Tensor | null, y: Tensor, act: 'none' | 'silu', acc: DType,
  out: OutLayout = denseLayout(g, y.offset), tune?: FwdTune,
): void {
  const plan = planForward(dev, g, y.dtype, out, tune, () => {
    // the tile search times candidates on scratch tensors of this shape
    const xs = empty(dev, [g.N, g.C, g.H, g.W], y.dtype, 'conv2d.tile-search');
    const ws = empty(dev, [g.O, g.C / g.groups, g.KH, g.KW], y.dtype, 'conv2d.tile-search');
    const ys = empty(dev, [g.N, g.O, g.OH, g.OW], y.dtype, 'conv2d.tile-search');
    return {
      run: (choice: FwdTune) => convForward(dev, g, xs, ws, null, ys, 'none', acc, denseLayout(g), choice),
      dispose: () => [xs, ws, ys].forEach((t) => t.dispose()),
    };
  });
  if (plan.kind === 'window') return windowForward(dev, plan, x, w, b, y, act, acc, out);
  if (!('phase' in w)) return denseForward(dev, plan, g, x, w, b, y, act, out);
  const wt = flipWeights(dev, w);
  denseForward(dev, plan, g, x, wt, b, y, act, out);
  wt.dispose();
}

/** The kernels that read a dense weight. */
function denseForward(
  dev: Device, plan: Exclude<ForwardPlan, { kind: 'window' }>, g: ConvGeometry, x: Tensor, w: Tensor, b: Tensor | null, y: Tensor, act: 'none' | 'silu', out: OutLayout,
): void {
  switch (plan.kind) {
    case 'matmul':
      return pointwiseForward(dev, plan.g, x, w, b, y, act, plan);
    case 'gemm-sgmat':
      if (plan.flat) return pointwiseForward(dev, plan.g, x, w, b, y, act, plan);
      return gemmForward(dev, g, x, w, b, y, act, out, plan.tune);
  }
}

/** Forward conv with a forced tiling, for the tile search and A/B benchmarks (dense output, no autograd). */
export function convForwardTuned(x: Tensor, w: Tensor, g: ConvGeometry, tune?: FwdTune, y?: Tensor): Tensor {
  const out = y ?? empty(x.device, [g.N, g.O, g.OH, g.OW], x.dtype, 'conv2d');
  convForward(x.device, g, x, w, null, out, 'none', 'f32', denseLayout(g, out.offset), tune);
  return out;
}
