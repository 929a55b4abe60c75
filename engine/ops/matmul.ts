// Batched matmul with NumPy batch broadcasting: [..., M, K] · [..., K, N] -> [..., M, N], in f32 or f16.
// Backward: dA = dC · Bᵀ, dB = Aᵀ · dC, each summed over broadcast batch dims. Transposes are strides, not copies.
// f16 runs on the adapter's subgroup matrices where it has them (f32 accumulation), else widened to f32.
import { MM_TILE, MM_WG, SMM_WG, type SubgroupMatmulVariant, matmulKernel, subgroupMatmulKernel } from '../../kernels/matmul.wgsl';
import { type SgmatVariant, sgmatKernel, sgmatTile, sgmatWorkgroupBytes } from '../../kernels/matmul-sgmat.wgsl';
import type { DType } from '../../kernels/common';
import type { Device } from '../device';
import type { PooledBuffer } from '../buffer-pool';
import { record } from '../tape';
import { OpError, fmtShape } from '../errors';
import { broadcastShapes, numel } from '../shape';
import { type Tensor, empty } from '../tensor';
import { checkFloat } from './run';
import { transpose } from './layout';
import { cast } from './elementwise';
import { sumTo } from './reduce';

/** Matrix product a · b with torch.matmul's rules (batched, broadcast batch dimensions). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  a.assertAlive('matmul', 'input a');
  b.assertAlive('matmul', 'input b');
  const dtype = checkFloat('matmul', [a, b]);
  if (a.rank < 2 || b.rank < 2) {
    throw new OpError('matmul', `inputs must have rank >= 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  const [M, K] = a.shape.slice(-2);
  const [K2, N] = b.shape.slice(-2);
  if (K !== K2) throw new OpError('matmul', `inner dimensions differ: ${fmtShape(a.shape)} · ${fmtShape(b.shape)} (${K} vs ${K2})`);
  const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (batch.length > 6) throw new OpError('matmul', `at most 6 batch dims supported, got ${fmtShape(batch)}`);
  const nb = numel(batch);
  const dev = a.device;
  if (dtype === 'f16' && !dev.subgroupMatrix && nb * M * N > 0) return matmulWidened(a, b);
  const out = empty(dev, [...batch, M, N], dtype, 'matmul');
  const bstrides = (t: Tensor): number[] => {
    const tb = t.shape.slice(0, -2);
    const off = batch.length - tb.length;
    return batch.map((_, j) => (j < off || tb[j - off] === 1 ? 0 : t.strides[j - off]));
  };
  if (nb * M * N > 0) {
    const layout: MatmulLayout = {
      batchShape: batch,
      aBatchStrides: bstrides(a),
      bBatchStrides: bstrides(b),
      batchRank: batch.length,
      M,
      N,
      K,
      aStrideM: a.strides[a.rank - 2],
      aStrideK: a.strides[a.rank - 1],
      bStrideK: b.strides[b.rank - 2],
      bStrideN: b.strides[b.rank - 1],
      aOffset: a.offset,
      bOffset: b.offset,
    };
    if (dtype === 'f16') sgmatMatmul(dev, a.storage.buf, b.storage.buf, out.storage.buf, layout, 'f16');
    else matmulDispatch(dev, a.storage.buf, b.storage.buf, out.storage.buf, layout, undefined, matmulTiles(dev, layout));
  }
  return record(out, 'matmul', [a, b], [a, b], (gy, [as, bs]) => {
    // dA = gy · Bᵀ, dB = Aᵀ · gy, then summed over the batch dims each input was broadcast along.
    const grad = (left: boolean): Tensor => {
      const other = transpose(left ? bs : as, -1, -2);
      const full = left ? matmul(gy, other) : matmul(other, gy);
      other.dispose();
      const g = sumTo(full, (left ? a : b).shape);
      if (g !== full) full.dispose();
      return g;
    };
    return [a.requiresGrad ? grad(true) : null, b.requiresGrad ? grad(false) : null];
  });
}

/** An f16 matmul without subgroup matrices: the product of the f32 copies (recorded, so it differentiates). */
function matmulWidened(a: Tensor, b: Tensor): Tensor {
  const [a32, b32] = [a, b].map((t) => cast(t, 'f32'));
  const c32 = matmul(a32, b32);
  const c = cast(c32, 'f16');
  [a32, b32, c32].forEach((t) => t.dispose());
  return c;
}

/**
 * Operand layout of one matmul dispatch, C[batch][M×N] = A[batch][M×K] · B[batch][K×N] with C dense. Every field is
 * also a uniform of the matmul kernels (same name), so transposes, broadcasts and views are strides, not copies.
 */
export interface MatmulLayout {
  /** Batch dims of C (at most 8; empty for a plain product). */
  readonly batchShape: readonly number[];
  /** Element stride of A / B along each batch dim (0 where that operand is broadcast). */
  readonly aBatchStrides: readonly number[];
  readonly bBatchStrides: readonly number[];
  readonly batchRank: number;
  readonly M: number;
  readonly N: number;
  readonly K: number;
  /** Element strides of A along M and K, and of B along K and N. */
  readonly aStrideM: number;
  readonly aStrideK: number;
  readonly bStrideK: number;
  readonly bStrideN: number;
  /** First element of A and B in their buffers. */
  readonly aOffset: number;
  readonly bOffset: number;
}

/** Tiling of the subgroup matmul (tests, benchmarks and the tile search force variants with it). */
export type MatmulTune = Partial<Pick<SubgroupMatmulVariant, 'SG' | 'TM' | 'TN' | 'KU'>>;

/**
 * C = A·B into a dense C (batch-major): the subgroup kernel where subgroups of at least 4 lanes exist, else the
 * 4×4 register tile. `epilogue` (bias per row, SiLU) serves the 1×1 conv; it needs the subgroup kernel.
 */
export function matmulDispatch(
  dev: Device, a: PooledBuffer, b: PooledBuffer, c: PooledBuffer, L: MatmulLayout,
  epilogue: { bias: PooledBuffer | null; act: 'none' | 'silu' } = { bias: null, act: 'none' }, tune: MatmulTune = {},
): void {
  const nb = numel(L.batchShape);
  const maxZ = dev.limits.maxComputeWorkgroupsPerDimension;
  if (nb > maxZ) throw new OpError('matmul', `batch of ${nb} exceeds the device's ${maxZ} workgroups per dimension`);
  const sg = tune.SG ?? Math.min(8, dev.subgroupMinSize);
  if (sg >= 4) {
    const TM = tune.TM ?? 4;
    const TN = tune.TN ?? 16;
    const v: SubgroupMatmulVariant = { SG: sg, TM, TN, KU: tune.KU ?? 1, shuffle: sg !== dev.subgroupMinSize || dev.subgroupMaxSize !== sg, bias: epilogue.bias !== null, act: epilogue.act };
    const tiles = Math.ceil(L.N / TN) * Math.ceil(L.M / (sg * TM));
    const wgs = Math.ceil(tiles / (SMM_WG / sg));
    const gx = Math.min(wgs, maxZ);
    dev.dispatch(subgroupMatmulKernel(v), { A: a, B: b, ...(epilogue.bias ? { Bs: epilogue.bias } : {}), C: c }, { ...L }, [gx, Math.ceil(wgs / gx), nb]);
    return;
  }
  if (epilogue.bias || epilogue.act !== 'none') throw new OpError('matmul', 'a bias or activation epilogue needs the subgroups feature');
  dev.dispatch(matmulKernel(), { A: a, B: b, C: c }, { ...L }, [Math.ceil(L.N / (MM_TILE * MM_WG[0])), Math.ceil(L.M / (MM_TILE * MM_WG[1])), nb]);
}

/** Tiling of the subgroup-matrix kernels: subgroups per workgroup and matrices per subgroup along M and N, k slice depth. */
export type SgmatTune = Partial<Pick<SgmatVariant, 'WM' | 'WN' | 'TM' | 'TN' | 'KT'>>;

/**
 * The subgroup-matrix variant for an M×N product: 2×2 subgroups of 2×2 matrices, halved along a dimension the
 * product does not fill, and a 32-deep k slice (at least one matrix K); shrunk until its workgroup memory and
 * invocations fit the device.
 */
export function sgmatVariant(dev: Device, M: number, N: number, rest: Pick<SgmatVariant, 'b' | 'out' | 'bias' | 'act'>, tune: SgmatTune = {}): SgmatVariant {
  const shape = dev.subgroupMatrix;
  if (!shape) throw new OpError('matmul', 'this device has no subgroup matrices');
  const fits = (n: number, unit: number): number => (n <= unit ? 1 : 2);
  let v: SgmatVariant = {
    shape, ...rest,
    WM: tune.WM ?? fits(M, shape.M * 2), WN: tune.WN ?? fits(N, shape.N * 2),
    TM: tune.TM ?? fits(M, shape.M), TN: tune.TN ?? fits(N, shape.N),
    KT: tune.KT ?? Math.max(shape.K, 32 - (32 % shape.K)),
  };
  const ok = (u: SgmatVariant): boolean =>
    sgmatWorkgroupBytes(u) <= dev.limits.maxComputeWorkgroupStorageSize && sgmatTile(u).WG <= dev.limits.maxComputeInvocationsPerWorkgroup;
  while (!ok(v) && v.KT > shape.K) v = { ...v, KT: v.KT - shape.K };
  while (!ok(v) && v.WM * v.WN > 1) v = v.WN > 1 ? { ...v, WN: 1 } : { ...v, WM: 1 };
  if (!ok(v)) throw new OpError('matmul', `the smallest subgroup-matrix tile needs ${sgmatWorkgroupBytes(v)} bytes of workgroup memory (device: ${dev.limits.maxComputeWorkgroupStorageSize})`);
  return v;
}

/** One subgroup-matrix dispatch over a grid of BM×BN tiles (folded into two dimensions) per batch. */
export function sgmatDispatch(dev: Device, v: SgmatVariant, buffers: Readonly<Record<string, PooledBuffer>>, params: Record<string, number | readonly number[]>, M: number, N: number, nb: number): void {
  const maxZ = dev.limits.maxComputeWorkgroupsPerDimension;
  if (nb > maxZ) throw new OpError('matmul', `batch of ${nb} exceeds the device's ${maxZ} workgroups per dimension`);
  const { BM, BN } = sgmatTile(v);
  const tilesN = Math.ceil(N / BN);
  const tiles = tilesN * Math.ceil(M / BM);
  const gx = Math.min(tiles, maxZ);
  dev.dispatch(sgmatKernel(v), buffers, { ...params, M, N, tilesN, tiles }, [gx, Math.ceil(tiles / gx), nb]);
}

/** C = A·B (f16 operands, C of dtype `out`) on subgroup matrices, with matmulDispatch's layout and epilogue. */
export function sgmatMatmul(
  dev: Device, a: PooledBuffer, b: PooledBuffer, c: PooledBuffer, L: MatmulLayout, out: DType,
  epilogue: { bias: PooledBuffer | null; act: 'none' | 'silu' } = { bias: null, act: 'none' }, tune: SgmatTune = {},
): void {
  const v = sgmatVariant(dev, L.M, L.N, { b: 'strided', out, bias: epilogue.bias !== null, act: epilogue.act }, tune);
  sgmatDispatch(dev, v, { A: a, B: b, ...(epilogue.bias ? { Bias: epilogue.bias } : {}), C: c }, { ...L }, L.M, L.N, numel(L.batchShape));
}

/** Tiling of a matmul op, resolved by the device's tile search among a few register tiles (rule: 4 × 16). */
export function matmulTiles(dev: Device, L: MatmulLayout): MatmulTune {
  if (dev.subgroupMinSize < 4 || dev.compactKernels) return {};
  const rule: MatmulTune = { TM: 4, TN: 16 };
  const candidates: MatmulTune[] = [rule, { TM: 2, TN: 32 }, { TM: 4, TN: 24 }, { TM: 8, TN: 16 }];
  const key = `matmul ${L.M}x${L.N}x${L.K} b${L.batchShape.join('x')} a${L.aStrideM},${L.aStrideK} b${L.bStrideK},${L.bStrideN}`;
  return dev.tiles.choose(key, rule, candidates, () => {
    const span = (rows: number, cols: number, s0: number, s1: number): number => (rows - 1) * s0 + (cols - 1) * s1 + 1;
    const nb = numel(L.batchShape);
    const a = empty(dev, [span(L.M, L.K, L.aStrideM, L.aStrideK)], 'f32', 'matmul.tile-search');
    const b = empty(dev, [span(L.K, L.N, L.bStrideK, L.bStrideN)], 'f32', 'matmul.tile-search');
    const c = empty(dev, [nb * L.M * L.N], 'f32', 'matmul.tile-search');
    const local: MatmulLayout = { ...L, batchShape: L.batchShape, aBatchStrides: L.aBatchStrides.map(() => 0), bBatchStrides: L.bBatchStrides.map(() => 0), aOffset: 0, bOffset: 0 };
    return {
      run: (t: MatmulTune) => matmulDispatch(dev, a.storage.buf, b.storage.buf, c.storage.buf, local, undefined, t),
      dispose: () => [a, b, c].forEach((t) => t.dispose()),
    };
  });
}
