// The forward window kernel (kernels/conv2d/fwd-window.wgsl.ts): each invocation computes `outChannels` output
// channels × `columns` adjacent columns of one output row, loading each input row window once for all taps. `w` may
// be an input-gradient phase kernel, read in place from the forward weight (flip.ts).
import { WINDOW_WG, convWindowKernel, windowVec4 } from '../../../kernels/conv2d/fwd-window.wgsl';
import { convWindow } from '../../../kernels/conv2d/params';
import type { DType } from '../../../kernels/common';
import type { Device } from '../../device';
import type { Tensor } from '../../tensor';
import { type WeightFlip, flipParams } from './flip';
import type { OutLayout } from './geometry';
import type { ForwardPlan } from './plan';

export function windowForward(
  dev: Device, plan: Extract<ForwardPlan, { kind: 'window' }>, x: Tensor, w: Tensor | WeightFlip, b: Tensor | null, y: Tensor, act: 'none' | 'silu', acc: DType, out: OutLayout,
): void {
  const { g, flat, outChannels: to, columns: tw, subgroups } = plan;
  const opg = g.O / g.groups;
  const tilesX = Math.ceil(g.OW / tw);
  const tiles = g.N * g.OH * tilesX;
  const tilesPad = Math.ceil(tiles / WINDOW_WG) * WINDOW_WG;
  const octiles = g.O / to;
  const flip = 'phase' in w ? w : null;
  const weight = 'phase' in w ? w.w : w;
  const xbs = g.N > 1 ? x.strides[0] : 0;
  const vec4 = windowVec4(g.W, x.offset, xbs, g.pw) ? { vec4Pad: g.pw } : {};
  dev.dispatch(
    convWindowKernel({ ...convWindow(g), to, tw, subgroups, bias: b !== null, act, ...(y.dtype === 'f16' ? { dtype: y.dtype, acc } : {}), ...(flip ? { flip: true } : {}), ...vec4 }),
    { X: x.storage.buf, Wt: weight.storage.buf, ...(b ? { Bs: b.storage.buf } : {}), Y: y.storage.buf },
    {
      N: g.N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, cpg: g.C / g.groups, opg, xoff: x.offset, xbs,
      tilesX, tiles, tilesPad, octiles, ph: g.ph, pw: g.pw, yoff: out.off, ybs: out.bs, ych: flat ? g.OW : out.ch, yrow: flat ? g.OW : out.row, ycol: out.col,
      ...(flip ? flipParams(flip) : {}),
    },
    dev.grid1d(tilesPad * octiles, WINDOW_WG),
  );
}
