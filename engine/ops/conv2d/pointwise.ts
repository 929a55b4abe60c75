// Dense 1×1 convs as matrix products per image, on the subgroup matmul (f32) or the subgroup matrices (f16):
// the forward W[O×C]·x[n][C×HW], the input gradient Wᵀ[C×O]·gy[n][O×HW] and the weight gradient
// gy[n][O×HW]·x[n]ᵀ[HW×C] (a partial per image, summed by the caller). Transposes are strides, not copies.
import type { Device } from '../../device';
import type { PooledBuffer } from '../../buffer-pool';
import type { Tensor } from '../../tensor';
import { type MatmulLayout, type MatmulTune, type SgmatTune, matmulDispatch, matmulTiles, sgmatMatmul } from '../matmul';
import type { ConvGeometry } from './geometry';

/** Which product engine runs it, with its tiling. */
export type ProductTune = { readonly kind: 'matmul'; readonly tune: MatmulTune } | { readonly kind: 'gemm-sgmat'; readonly tune: SgmatTune };

interface Epilogue {
  readonly bias: PooledBuffer | null;
  readonly act: 'none' | 'silu';
}

function product(dev: Device, a: PooledBuffer, b: PooledBuffer, c: PooledBuffer, L: MatmulLayout, c16: boolean, how: ProductTune, epilogue?: Epilogue): void {
  if (how.kind === 'gemm-sgmat') sgmatMatmul(dev, a, b, c, L, c16 ? 'f16' : 'f32', epilogue, how.tune);
  else matmulDispatch(dev, a, b, c, L, epilogue, how.tune);
}

/** y[n] = W · x[n] (+ bias, SiLU); `g` is the flattened geometry (one row of OH·OW pixels per image). */
export function pointwiseForward(dev: Device, g: ConvGeometry, x: Tensor, w: Tensor, b: Tensor | null, y: Tensor, act: 'none' | 'silu', how: ProductTune): void {
  const L: MatmulLayout = {
    batchShape: [g.N], aBatchStrides: [0], bBatchStrides: [g.N > 1 ? x.strides[0] : 0], batchRank: 1,
    M: g.O, N: g.OW, K: g.C, aStrideM: g.C, aStrideK: 1, bStrideK: g.OW, bStrideN: 1, aOffset: w.offset, bOffset: x.offset,
  };
  product(dev, w.storage.buf, x.storage.buf, y.storage.buf, L, y.dtype === 'f16', how, { bias: b ? b.storage.buf : null, act });
}

/** gx[n] = Wᵀ · gy[n] (dense gy and w); the subgroup matmul's tiling comes from the device's tile search. */
export function pointwiseDgrad(dev: Device, g: ConvGeometry, gy: Tensor, w: Tensor, gx: Tensor, sgmat: boolean): void {
  const HW = g.H * g.W;
  const L: MatmulLayout = {
    batchShape: [g.N], aBatchStrides: [0], bBatchStrides: [g.O * HW], batchRank: 1,
    M: g.C, N: HW, K: g.O, aStrideM: 1, aStrideK: g.C, bStrideK: HW, bStrideN: 1, aOffset: w.offset, bOffset: gy.offset,
  };
  const how: ProductTune = sgmat ? { kind: 'gemm-sgmat', tune: {} } : { kind: 'matmul', tune: matmulTiles(dev, L) };
  product(dev, w.storage.buf, gy.storage.buf, gx.storage.buf, L, gx.dtype === 'f16', how);
}

/** part[n] = gy[n] · x[n]ᵀ in f32 (dense gy and x); `g` is the flattened geometry. */
export function pointwiseWgrad(dev: Device, g: ConvGeometry, gy: Tensor, x: Tensor, part: Tensor, how: ProductTune): void {
  const L: MatmulLayout = {
    batchShape: [g.N], aBatchStrides: [g.O * g.OW], bBatchStrides: [x.strides[0]], batchRank: 1,
    M: g.O, N: g.C, K: g.OW, aStrideM: g.OW, aStrideK: 1, bStrideK: 1, bStrideN: g.OW, aOffset: gy.offset, bOffset: x.offset,
  };
  product(dev, gy.storage.buf, x.storage.buf, part.storage.buf, L, false, how);
}
