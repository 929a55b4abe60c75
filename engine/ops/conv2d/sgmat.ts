// Implicit GEMM on the subgroup matrices (f16 operands, f32 accumulation; kernels/matmul-sgmat.wgsl.ts): the
// im2col of x is gathered while a workgroup stages its k slice, so no im2col tensor is ever written.
//   forward      y[n][O × OH·OW] = W[O × C·KH·KW] · im2col(x[n]), written through the output layout
//   weight grad  part[n][O × C·KH·KW] = gy[n][O × OH·OW] · im2col(x[n])ᵀ (a partial per image)
import { convWindow } from '../../../kernels/conv2d/params';
import type { Device } from '../../device';
import type { Tensor } from '../../tensor';
import { type SgmatTune, sgmatDispatch, sgmatVariant } from '../matmul';
import type { ConvGeometry, OutLayout } from './geometry';

export function gemmForward(dev: Device, g: ConvGeometry, x: Tensor, w: Tensor, b: Tensor | null, y: Tensor, act: 'none' | 'silu', out: OutLayout, tune: SgmatTune): void {
  const N = g.OH * g.OW;
  const v = sgmatVariant(dev, g.O, N, { b: convWindow(g), out: 'f16', bias: b !== null, act }, tune);
  sgmatDispatch(
    dev, v, { A: w.storage.buf, B: x.storage.buf, ...(b ? { Bias: b.storage.buf } : {}), C: y.storage.buf },
    {
      K: g.C * g.KH * g.KW, aOffset: w.offset, aBatchStride: 0, bOffset: x.offset, xbs: g.N > 1 ? x.strides[0] : 0, H: g.H, W: g.W, OW: g.OW, ph: g.ph, pw: g.pw,
      yoff: out.off, ybs: out.bs, ych: out.ch, yrow: out.row, ycol: out.col,
    },
    g.O, N, g.N,
  );
}

export function gemmWgrad(dev: Device, g: ConvGeometry, gy: Tensor, x: Tensor, part: Tensor, tune: SgmatTune): void {
  const N = g.C * g.KH * g.KW;
  const v = sgmatVariant(dev, g.O, N, { b: { ...convWindow(g), wgrad: true }, out: 'f32', bias: false, act: 'none' }, tune);
  sgmatDispatch(
    dev, v, { A: gy.storage.buf, B: x.storage.buf, C: part.storage.buf },
    {
      K: g.OH * g.OW, aOffset: gy.offset, aBatchStride: g.O * g.OH * g.OW, bOffset: x.offset, xbs: g.N > 1 ? x.strides[0] : 0, H: g.H, W: g.W, OW: g.OW, ph: g.ph, pw: g.pw,
      yoff: 0, ybs: 0, ych: 0, yrow: 0, ycol: 0,
    },
    g.O, N, g.N,
  );
}
