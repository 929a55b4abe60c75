// Batched matmul C[b] = A[b] · B[b] with every operand addressed through uniform strides, so transposed
// operands (the backward's Aᵀ and Bᵀ) and broadcast batch dims (stride 0) need no copies. Each invocation
// computes a 4×4 register tile: 8 loads feed 16 FMAs per k step (loads, not math, bound llvmpipe).
import { type KernelSource, type ParamField, type VariantList, at8, computeEntry, defineKernel, variantKey } from './common';

export const MM_TILE = 4;
export const MM_WG: readonly [number, number, number] = [8, 8, 1];

/** Uniforms of a strided batched matmul (MatmulLayout); the subgroup-matrix kernel adds its tile counts. */
export const MATMUL_PARAMS: ParamField[] = [
  { name: 'batchShape', type: 'u32x8' },
  { name: 'aBatchStrides', type: 'u32x8' },
  { name: 'bBatchStrides', type: 'u32x8' },
  { name: 'batchRank', type: 'u32' },
  { name: 'M', type: 'u32' },
  { name: 'N', type: 'u32' },
  { name: 'K', type: 'u32' },
  { name: 'aStrideM', type: 'u32' },
  { name: 'aStrideK', type: 'u32' },
  { name: 'bStrideK', type: 'u32' },
  { name: 'bStrideN', type: 'u32' },
  { name: 'aOffset', type: 'u32' },
  { name: 'bOffset', type: 'u32' },
];

/** ao, bo: the offsets of `batch`'s A and B from the broadcast batch shape and the operands' batch strides. */
export const BATCH_OFFSETS = `  var rem = batch;
  var ao = p.aOffset;
  var bo = p.bOffset;
  for (var d = i32(p.batchRank) - 1; d >= 0; d--) {
    let du = u32(d);
    let s = ${at8('p.batchShape', 'du')};
    let c = rem % s;
    rem = rem / s;
    ao += c * ${at8('p.aBatchStrides', 'du')};
    bo += c * ${at8('p.bBatchStrides', 'du')};
  }`;

export function matmulKernel(): KernelSource {
  const bindings = [
    { name: 'A', access: 'read' as const, type: 'f32' },
    { name: 'B', access: 'read' as const, type: 'f32' },
    { name: 'C', access: 'write' as const, type: 'f32' },
  ];
  const T = MM_TILE;
  const rows = [...Array(T).keys()];
  return defineKernel({
    name: 'matmul',
    key: 'matmul',
    workgroupSize: MM_WG,
    bindings: bindings,
    params: MATMUL_PARAMS,
    body: () => `${computeEntry(MM_WG)} {
  let n0 = gid.x * ${T}u;
  let m0 = gid.y * ${T}u;
  let batch = gid.z;
  if (n0 >= p.N || m0 >= p.M) { return; }
  // batch offsets from the broadcast batch shape
${BATCH_OFFSETS}
  // clamp row/col indices so every load is in bounds; out-of-range results are never stored
${rows.map((i) => `  let am${i} = ao + min(m0 + ${i}u, p.M - 1u) * p.aStrideM;`).join('\n')}
${rows.map((j) => `  let bn${j} = bo + min(n0 + ${j}u, p.N - 1u) * p.bStrideN;`).join('\n')}
${rows.map((i) => `  var acc${i} = vec4<f32>(0.0);`).join('\n')}
  for (var k = 0u; k < p.K; k++) {
    let ka = k * p.aStrideK;
    let kb = k * p.bStrideK;
    let b = vec4<f32>(${rows.map((j) => `B[bn${j} + kb]`).join(', ')});
${rows.map((i) => `    acc${i} += A[am${i} + ka] * b;`).join('\n')}
  }
  let cbase = batch * p.M * p.N;
${rows
  .map(
    (i) => `  if (m0 + ${i}u < p.M) {
${rows.map((j) => `    if (n0 + ${j}u < p.N) { C[cbase + (m0 + ${i}u) * p.N + n0 + ${j}u] = acc${i}[${j}]; }`).join('\n')}
  }`,
  )
  .join('\n')}
}`,
  });
}

export interface SubgroupMatmulVariant {
  /** Lanes that share B loads by subgroupBroadcast (≤ the device's smallest subgroup). */
  readonly SG: number;
  /** Rows per lane. */
  readonly TM: number;
  /** Columns per lane, a multiple of 4 and of SG. */
  readonly TN: number;
  /** k steps per loop iteration (the loads of all of them first, then the FMAs; default 1). */
  readonly KU?: number;
  /**
   * Subgroups may hold more than SG lanes, so several groups share one: take neighbours' values with
   * subgroupShuffle from the group's first lane instead of subgroupBroadcast from a fixed lane.
   */
  readonly shuffle?: boolean;
  /** Epilogue for the 1×1 conv on this kernel: bias per row (output channel), then SiLU. */
  readonly bias: boolean;
  readonly act: 'none' | 'silu';
}

export const SMM_WG = 64;

/**
 * The same product with the B operand shared across a subgroup: SG lanes compute SG·TM rows × TN columns; per k
 * each lane loads its TM values of A and TN/SG values of B, and takes the other B values from its neighbours
 * with subgroupBroadcast (a register permute on llvmpipe, where loads are what costs). That is TM·TN FMAs for
 * TM + TN/SG loads, against 16 for 8 in the plain 4×4 tile.
 */
export function subgroupMatmulKernel(v: SubgroupMatmulVariant): KernelSource {
  const bindings = [
    { name: 'A', access: 'read' as const, type: 'f32' },
    { name: 'B', access: 'read' as const, type: 'f32' },
    ...(v.bias ? [{ name: 'Bs', access: 'read' as const, type: 'f32' }] : []),
    { name: 'C', access: 'write' as const, type: 'f32' },
  ];
  const R = [...Array(v.TM).keys()];
  const Q = [...Array(v.TN / v.SG).keys()];
  const C4 = [...Array(v.TN / 4).keys()];
  const GPW = SMM_WG / v.SG;
  const col = (c: number, u: number): string =>
    v.shuffle ? `subgroupShuffle(b${Math.floor(c / v.SG)}_${u}, first + ${c % v.SG}u)` : `subgroupBroadcast(b${Math.floor(c / v.SG)}_${u}, ${c % v.SG}u)`;
  const out = (r: number, c: number): string => {
    let e = `acc${r}_${c >> 2}[${c & 3}]${v.bias ? ` + bias${r}` : ''}`;
    if (v.act === 'silu') e = `silu_(${e})`;
    return e;
  };
  const KU = v.KU ?? 1;
  // one k step: loads of B (shared by broadcast) and A, then the FMAs, all suffixed by the unrolled step u
  const loads = (u: number, k: string): string => `    let ka${u} = (${k}) * p.aStrideK;
    let kb${u} = (${k}) * p.bStrideK;
${Q.map((q) => `    let b${q}_${u} = B[bn${q} + kb${u}];`).join('\n')}
${R.map((r) => `    let a${r}_${u} = A[am${r} + ka${u}];`).join('\n')}`;
  const fmas = (u: number): string => `${C4.map((c) => `    let bv${c}_${u} = vec4<f32>(${[0, 1, 2, 3].map((t) => col(4 * c + t, u)).join(', ')});`).join('\n')}
${R.flatMap((r) => C4.map((c) => `    acc${r}_${c} += a${r}_${u} * bv${c}_${u};`)).join('\n')}`;
  const U = [...Array(KU).keys()];
  // the WGSL text is built only when the pipeline cache misses (body() runs inside code())
  const kLoop = (): string => `  let kMain = p.K - p.K % ${KU}u;
  for (var k = 0u; k < kMain; k += ${KU}u) {
${U.map((u) => loads(u, `k + ${u}u`)).join('\n')}
${U.map((u) => fmas(u)).join('\n')}
  }
${KU > 1 ? `  for (var k = kMain; k < p.K; k++) {
${loads(0, 'k')}
${fmas(0)}
  }` : ''}`;
  return defineKernel({
    name: 'matmul',
    key: variantKey('matmul.subgroup', v),
    workgroupSize: [SMM_WG, 1, 1],
    bindings: bindings,
    params: MATMUL_PARAMS,
    enable: ['subgroups'],
    body: () => `fn silu_(x: f32) -> f32 { return x / (1.0 + exp(-x)); }
@compute @workgroup_size(${SMM_WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let lane = sid % ${v.SG}u;
  let first = sid - lane;
  let tilesN = (p.N + ${v.TN - 1}u) / ${v.TN}u;
  let tilesM = (p.M + ${v.SG * v.TM - 1}u) / ${v.SG * v.TM}u;
  // every lane of a group runs the k loop (they feed each other); groups past the end compute a clamped tile
  let group = (wid.x + wid.y * nwg.x) * ${GPW}u + li / ${v.SG}u;
  let tile = min(group, tilesN * tilesM - 1u);
  let live = group < tilesN * tilesM;
  let n0 = (tile % tilesN) * ${v.TN}u;
  let m0 = (tile / tilesN) * ${v.SG * v.TM}u + lane;
  let batch = wid.z;
${BATCH_OFFSETS}
  // lane rows m0 + SG·r, lane columns n0 + lane + SG·q; indices clamped so every load is in bounds
${R.map((r) => `  let am${r} = ao + min(m0 + ${v.SG * r}u, p.M - 1u) * p.aStrideM;`).join('\n')}
${Q.map((q) => `  let bn${q} = bo + min(n0 + lane + ${v.SG * q}u, p.N - 1u) * p.bStrideN;`).join('\n')}
${R.flatMap((r) => C4.map((c) => `  var acc${r}_${c} = vec4<f32>(0.0);`)).join('\n')}
${kLoop()}
  if (!live) { return; }
  let cbase = batch * p.M * p.N;
${R.map(
  (r) => `  if (m0 + ${v.SG * r}u < p.M) {
    let crow = cbase + (m0 + ${v.SG * r}u) * p.N + n0;
${v.bias ? `    let bias${r} = Bs[m0 + ${v.SG * r}u];\n` : ''}${[...Array(v.TN).keys()].map((c) => `    if (n0 + ${c}u < p.N) { C[crow + ${c}u] = ${out(r, c)}; }`).join('\n')}
  }`,
).join('\n')}
}`,
  });
}

export const variants: VariantList = (caps) => [
  matmulKernel(),
  ...(caps.subgroups
    ? [4, 8].flatMap((SG) => [false, true].map((bias) => subgroupMatmulKernel({ SG, TM: 4, TN: 16, shuffle: SG === 4, bias, act: bias ? 'silu' : 'none' })))
    : []),
];
