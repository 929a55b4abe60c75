// The weight gradient (see planWgrad): the sliding-window kernel (kernels/conv2d/wgrad.wgsl.ts), which keeps all
// taps of its kernel rows per invocation and slides a column window along (n, oy) rows split across workgroups,
// or a product per image on the subgroup matmul / matrices. Partial weights (row splits, images) are summed in f32.
import { convWgradKernel } from '../../../kernels/conv2d/wgrad.wgsl';
import type { DType } from '../../../kernels/common';
import { type Tensor, empty } from '../../tensor';
import { denseFromStart, densePlanes, releaseCopy } from '../layout';
import { sum } from '../reduce';
import { convert } from '../run';
import type { ConvGeometry } from './geometry';
import { type WgradPlan, type WgradTune, planWgrad } from './plan';
import { pointwiseWgrad } from './pointwise';
import { gemmWgrad } from './sgmat';

/** Weight gradient; the tiling is `tune` when given, else the device's tile search decides. */
export function convWgrad(gy: Tensor, x: Tensor, g: ConvGeometry, tune?: WgradTune): Tensor {
  const dev = gy.device;
  const dtype = gy.dtype;
  const plan = planWgrad(dev, g, dtype, tune, () => {
    const xs = empty(dev, [g.N, g.C, g.H, g.W], dtype, 'conv2d.tile-search');
    const gys = empty(dev, [g.N, g.O, g.OH, g.OW], dtype, 'conv2d.tile-search');
    return {
      run: (choice: WgradTune) => convWgrad(gys, xs, g, choice).dispose(),
      dispose: () => [xs, gys].forEach((t) => t.dispose()),
    };
  });
  const gyd = denseFromStart(gy);
  // every path reads x by planes with a batch stride: a channel slice of a larger tensor needs no copy
  const xd = densePlanes(x);
  const part = plan.kind === 'window' ? windowWgrad(plan, gyd, xd) : productWgrad(plan, gyd, xd);
  releaseCopy(gyd, gy);
  releaseCopy(xd, x);
  return sumParts(part, part.rank === 5 ? part.shape[0] : 1, dtype);
}

function windowWgrad(plan: Extract<WgradPlan, { kind: 'window' }>, gy: Tensor, x: Tensor): Tensor {
  const dev = gy.device;
  const { g, splits } = plan;
  const cpg = g.C / g.groups;
  const wshape = [g.O, cpg, g.KH, g.KW];
  const part = empty(dev, splits > 1 ? [splits, ...wshape] : wshape, 'f32', 'conv2d.wgrad');
  const { khb, nct, ocb, tiles, rows, nblk, chunk } = plan;
  dev.dispatch(
    convWgradKernel(plan.variant),
    { GY: gy.storage.buf, X: x.storage.buf, GW: part.storage.buf },
    { N: g.N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, KH: g.KH, sh: g.sh, dh: g.dh, ph: g.ph, cpg, opg: g.O / g.groups, groups: g.groups, xoff: x.offset, xbs: g.N > 1 ? x.strides[0] : 0, khb, nct, ocb, tiles, rows, nblk, chunk },
    dev.grid1d(tiles, 1),
  );
  return part;
}

/** gw[O × C·KH·KW] = Σ_n gy[n] · im2col(x[n])ᵀ: one product per image (a 1×1's im2col is x itself). */
function productWgrad(plan: Exclude<WgradPlan, { kind: 'window' }>, gy: Tensor, x: Tensor): Tensor {
  const dev = gy.device;
  const { g } = plan;
  const wshape = [g.O, g.C, g.KH, g.KW];
  const part = empty(dev, g.N > 1 ? [g.N, ...wshape] : wshape, 'f32', 'conv2d.wgrad');
  if (plan.kind === 'gemm-sgmat' && !plan.flat) gemmWgrad(dev, g, gy, x, part, plan.tune);
  else pointwiseWgrad(dev, g, gy, x, part, plan);
  return part;
}

/**
 * f32 partial results summed over their first dim (images or row splits), in `dtype`: f16 weights (mixed
 * precision) get their gradient in f16, summed in f32 first. `part` is consumed.
 */
function sumParts(part: Tensor, n: number, dtype: DType): Tensor {
  const total = n === 1 ? part : sum(part, 0);
  if (total !== part) part.dispose();
  if (dtype === total.dtype) return total;
  const narrow = convert(total, dtype);
  total.dispose();
  return narrow;
}
