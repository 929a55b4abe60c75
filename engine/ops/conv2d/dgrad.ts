// The input gradient (see planDgrad): a dense 1×1 as Wᵀ·gy; otherwise one stride-1 forward conv of gy per residue
// of the input position mod the stride, with the flipped, transposed sub-kernel of the taps that reach it (read in
// place from w, see flip.ts), written onto every s-th pixel of gx (no multiply meets a structural zero); strided and dilated at once, the gather.
import { zeros } from '../creation';
import { type Tensor, empty } from '../../tensor';
import { denseFromStart, releaseCopy } from '../layout';
import { convert } from '../run';
import { convForward } from './forward';
import { gatherDgrad } from './gather';
import type { ConvGeometry } from './geometry';
import { type Phase, planDgrad } from './plan';
import { pointwiseDgrad } from './pointwise';

export function convDgrad(gy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const dev = gy.device;
  const dtype = gy.dtype;
  const plan = planDgrad(dev, g, dtype);
  if (plan.kind === 'gather') {
    if (dtype === 'f32') return gatherDgrad(gy, w, g);
    // the gather kernel is f32-only: widen, compute, narrow
    const [gy32, w32] = [gy, w].map((t) => convert(t, 'f32'));
    const gx32 = gatherDgrad(gy32, w32, g);
    const gx = convert(gx32, dtype);
    [gy32, w32, gx32].forEach((t) => t.dispose());
    return gx;
  }
  const gyd = denseFromStart(gy);
  const wd = denseFromStart(w);
  let gx: Tensor;
  if (plan.kind === 'phases') gx = phases(gyd, wd, g, plan.phases);
  else {
    gx = empty(dev, [g.N, g.C, g.H, g.W], dtype, 'conv2d.dgrad');
    pointwiseDgrad(dev, g, gyd, wd, gx, plan.kind === 'gemm-sgmat');
  }
  releaseCopy(gyd, gy);
  releaseCopy(wd, w);
  return gx;
}

/** One forward conv per phase (dense gy and w). */
function phases(gy: Tensor, w: Tensor, g: ConvGeometry, list: readonly Phase[]): Tensor {
  const dev = gy.device;
  const dtype = gy.dtype;
  // a kernel smaller than the stride leaves some phases without taps: their pixels get no gradient
  const gx = list.every((ph) => ph.th.J > 0 && ph.tw.J > 0) ? empty(dev, [g.N, g.C, g.H, g.W], dtype, 'conv2d.dgrad') : zeros(dev, [g.N, g.C, g.H, g.W], dtype);
  for (const phase of list) {
    const { ry, rx, th, tw } = phase;
    if (th.J === 0 || tw.J === 0) continue;
    const pg: ConvGeometry = {
      N: g.N, C: g.O, H: g.OH, W: g.OW, O: g.C, OH: Math.ceil((g.H - ry) / g.sh), OW: Math.ceil((g.W - rx) / g.sw),
      KH: th.J, KW: tw.J, sh: 1, sw: 1, ph: th.pad, pw: tw.pad, dh: g.sh === 1 ? g.dh : 1, dw: g.sw === 1 ? g.dw : 1, groups: g.groups,
    };
    convForward(dev, pg, gy, { w, g, phase }, null, gx, 'none', 'f32', { off: ry * g.W + rx, bs: g.C * g.H * g.W, ch: g.H * g.W, row: g.sh * g.W, col: g.sw });
  }
  return gx;
}
