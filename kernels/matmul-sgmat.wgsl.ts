// f16 matmul and implicit-GEMM conv on subgroup matrices (Dawn's chromium_experimental_subgroup_matrix: Vulkan
// cooperative matrices, tensor cores on NVIDIA, simdgroup matrices on Apple). A workgroup owns a BM×BN tile of C;
// per KT-deep slice of k it stages A (BM×KT) and B (KT×BN) in workgroup memory as f16, zero outside the operands,
// so any strides, transposes, ragged edges and the conv's im2col gather share one multiply loop. Each subgroup
// multiplies TM×TN matrices of the adapter's M×N×K shape and keeps them as accumulators; the epilogue passes each
// through workgroup memory to add the bias, apply SiLU, convert and store with bounds checks.
import { type DType, type KernelSource, type ParamField, type SubgroupMatrixShape, type VariantList, defineKernel, variantKey } from './common';
import { BATCH_OFFSETS, MATMUL_PARAMS } from './matmul.wgsl';
import type { ConvWindow } from './conv2d/params';

export interface SgmatVariant {
  readonly shape: SubgroupMatrixShape;
  /** Subgroups per workgroup along M and along N. */
  readonly WM: number;
  readonly WN: number;
  /** Matrices per subgroup along M and along N. */
  readonly TM: number;
  readonly TN: number;
  /** k depth of one staged slice (a multiple of shape.K). */
  readonly KT: number;
  /** B is a strided matrix, or the im2col view of an NCHW image for a conv with this geometry. */
  readonly b: 'strided' | SgmatConv;
  /** Element type of C (and of the bias). */
  readonly out: DType;
  readonly bias: boolean;
  readonly act: 'none' | 'silu';
}

/**
 * The conv forms. Forward: C[o, pixel] = W[o, c·taps] · im2col(x)[c·taps, pixel], written through output strides
 * (the input gradient's phases fill every s-th pixel). Weight gradient (`wgrad`): C[o, c·taps] =
 * gy[o, pixel] · im2col(x)ᵀ[pixel, c·taps] per image, summed over the batch afterwards.
 */
export interface SgmatConv extends ConvWindow {
  readonly wgrad?: boolean;
}

export const sgmatTile = (v: SgmatVariant): { BM: number; BN: number; WG: number } => ({
  BM: v.WM * v.TM * v.shape.M,
  BN: v.WN * v.TN * v.shape.N,
  WG: v.WM * v.WN * v.shape.subgroupSize,
});

/** Workgroup memory of a variant in bytes (the tile choice must fit the device's limit). */
export function sgmatWorkgroupBytes(v: SgmatVariant): number {
  const { BM, BN } = sgmatTile(v);
  return 2 * (BM * v.KT + v.KT * BN) + (v.shape.acc === 'f32' ? 4 : 2) * v.WM * v.WN * v.shape.M * v.shape.N;
}

const STRIDED_PARAMS: ParamField[] = [
  ...MATMUL_PARAMS,
  { name: 'tilesN', type: 'u32' },
  { name: 'tiles', type: 'u32' },
];

/**
 * The conv's A is dense rows of K (the weight [O, C·taps], or gy[n] [O, pixels] for the weight gradient, abs apart
 * per image); x[c, oy·SH − ph + kh·DH, ox·SW − pw + kw·DW] is the im2col element of (c·taps + kh·KW + kw, oy·OW + ox).
 * The forward writes C[o, (oy, ox)] at yoff + n·ybs + o·ych + oy·yrow + ox·ycol.
 */
const CONV_PARAMS: ParamField[] = [
  { name: 'M', type: 'u32' },
  { name: 'N', type: 'u32' },
  { name: 'K', type: 'u32' },
  { name: 'aOffset', type: 'u32' },
  { name: 'aBatchStride', type: 'u32' },
  { name: 'bOffset', type: 'u32' },
  { name: 'xbs', type: 'u32' },
  { name: 'H', type: 'u32' },
  { name: 'W', type: 'u32' },
  { name: 'OW', type: 'u32' },
  { name: 'ph', type: 'i32' },
  { name: 'pw', type: 'i32' },
  { name: 'yoff', type: 'u32' },
  { name: 'ybs', type: 'u32' },
  { name: 'ych', type: 'u32' },
  { name: 'yrow', type: 'u32' },
  { name: 'ycol', type: 'u32' },
  { name: 'tilesN', type: 'u32' },
  { name: 'tiles', type: 'u32' },
];

export const sgmatParams = (v: SgmatVariant): readonly ParamField[] => (v.b === 'strided' ? STRIDED_PARAMS : CONV_PARAMS);

export function sgmatKernel(v: SgmatVariant): KernelSource {
  const { M: cm, N: cn, K: ck, acc } = v.shape;
  const { BM, BN, WG } = sgmatTile(v);
  const KT = v.KT;
  if (KT % ck !== 0) throw new Error(`sgmat: slice depth ${KT} is not a multiple of the matrix K ${ck}`);
  const params = sgmatParams(v);
  const bindings = [
    { name: 'A', access: 'read' as const, type: 'f16' },
    { name: 'B', access: 'read' as const, type: 'f16' },
    ...(v.bias ? [{ name: 'Bias', access: 'read' as const, type: v.out }] : []),
    { name: 'C', access: 'write' as const, type: v.out },
  ];
  const I = [...Array(v.TM).keys()];
  const J = [...Array(v.TN).keys()];
  const S = [...Array(KT / ck).keys()];
  const conv = v.b === 'strided' ? null : v.b;
  // batch offsets of A and B: strides per broadcast batch dim, or one image per batch for the conv
  const offsets = conv
    ? `  let ao = p.aOffset + batch * p.aBatchStride;
  let bo = p.bOffset + batch * p.xbs;`
    : BATCH_OFFSETS;
  const aAt = conv ? 'ao + gm * p.K + gk' : 'ao + gm * p.aStrideM + gk * p.aStrideK';
  const bLoad = conv
    ? (() => {
        const taps = conv.KH * conv.KW;
        // the im2col row (channel and tap) and column (output pixel): k and n, or n and k for the weight gradient
        const [row, pix] = conv.wgrad ? ['gn', 'gk'] : ['gk', 'gn'];
        return `      let c = ${row} / ${taps}u;
      let t = ${row} % ${taps}u;
      let iy = i32((${pix} / p.OW) * ${conv.SH}u + (t / ${conv.KW}u) * ${conv.DH}u) - p.ph;
      let ix = i32((${pix} % p.OW) * ${conv.SW}u + (t % ${conv.KW}u) * ${conv.DW}u) - p.pw;
      if (iy >= 0 && ix >= 0 && u32(iy) < p.H && u32(ix) < p.W) { v = B[bo + (c * p.H + u32(iy)) * p.W + u32(ix)]; }`;
      })()
    : `      v = B[bo + gk * p.bStrideK + gn * p.bStrideN];`;
  // where C[gm, gn] goes: dense batch-major, or through the forward conv's output strides
  const cAt = conv && !conv.wgrad ? 'p.yoff + batch * p.ybs + gm * p.ych + (gn / p.OW) * p.yrow + (gn % p.OW) * p.ycol' : 'cbase + gm * p.N + gn';
  let e = `${acc === 'f32' ? 'Cs' : 'f32(Cs'}[base + e]${acc === 'f32' ? '' : ')'}`;
  if (v.bias) e = `${e} + f32(Bias[gm])`;
  if (v.act === 'silu') e = `silu_(${e})`;
  const store = (i: number, j: number): string => `  subgroupMatrixStore<row_major>(&Cs, sg * ${cm * cn}u, acc${i}_${j}, ${cn}u);
  workgroupBarrier();
  for (var q = li; q < ${v.WM * v.WN * cm * cn}u; q += ${WG}u) {
    let s = q / ${cm * cn}u;
    let e = q % ${cm * cn}u;
    let base = s * ${cm * cn}u;
    let gm = m0 + ((s % ${v.WM}u) * ${v.TM}u + ${i}u) * ${cm}u + e / ${cn}u;
    let gn = n0 + ((s / ${v.WM}u) * ${v.TN}u + ${j}u) * ${cn}u + e % ${cn}u;
    if (gm < p.M && gn < p.N) { C[${cAt}] = ${v.out}(${e}); }
  }
  workgroupBarrier();`;
  return defineKernel({
    name: conv ? (conv.wgrad ? 'conv2d.wgrad.sgmat' : 'conv2d.sgmat') : 'matmul.sgmat',
    key: variantKey('sgmat', v),
    workgroupSize: [WG, 1, 1],
    bindings: bindings,
    params: params,
    enable: ['f16', 'subgroups', 'chromium_experimental_subgroup_matrix'],
    body: () => `var<workgroup> As: array<f16, ${BM * KT}>;
var<workgroup> Bs: array<f16, ${KT * BN}>;
var<workgroup> Cs: array<${acc}, ${v.WM * v.WN * cm * cn}>;
fn silu_(x: f32) -> f32 { return x / (1.0 + exp(-x)); }
@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32, @builtin(subgroup_id) sg: u32) {
  let tile = wid.x + wid.y * nwg.x;
  if (tile >= p.tiles) { return; }
  let n0 = (tile % p.tilesN) * ${BN}u;
  let m0 = (tile / p.tilesN) * ${BM}u;
  let batch = wid.z;
${offsets}
  // this subgroup's TM×TN matrices within the tile
  let am = (sg % ${v.WM}u) * ${v.TM * cm * KT}u;
  let bn = (sg / ${v.WM}u) * ${v.TN * cn}u;
${I.flatMap((i) => J.map((j) => `  var acc${i}_${j} = subgroup_matrix_result<${acc}, ${cn}, ${cm}>();`)).join('\n')}
  for (var k0 = 0u; k0 < p.K; k0 += ${KT}u) {
    for (var i = li; i < ${BM * KT}u; i += ${WG}u) {
      let gm = m0 + i / ${KT}u;
      let gk = k0 + i % ${KT}u;
      var v = f16(0.0);
      if (gm < p.M && gk < p.K) { v = A[${aAt}]; }
      As[i] = v;
    }
    for (var i = li; i < ${KT * BN}u; i += ${WG}u) {
      let gk = k0 + i / ${BN}u;
      let gn = n0 + i % ${BN}u;
      var v = f16(0.0);
      if (gk < p.K && gn < p.N) {
${bLoad}
      }
      Bs[i] = v;
    }
    workgroupBarrier();
${S.map(
  (s) => `    {
${I.map((i) => `      let l${i} = subgroupMatrixLoad<subgroup_matrix_left<f16, ${ck}, ${cm}>, row_major>(&As, am + ${i * cm * KT + s * ck}u, ${KT}u);`).join('\n')}
${J.map((j) => `      let r${j} = subgroupMatrixLoad<subgroup_matrix_right<f16, ${cn}, ${ck}>, row_major>(&Bs, bn + ${s * ck * BN + j * cn}u, ${BN}u);`).join('\n')}
${I.flatMap((i) => J.map((j) => `      acc${i}_${j} = subgroupMatrixMultiplyAccumulate(l${i}, r${j}, acc${i}_${j});`)).join('\n')}
    }`,
).join('\n')}
    workgroupBarrier();
  }
  let cbase = batch * p.M * p.N;
${I.flatMap((i) => J.map((j) => store(i, j))).join('\n')}
}`,
  });
}

/** The product and both conv forms with the default tiling (none without subgroup matrices). */
export const variants: VariantList = (caps) => {
  const shape = caps.subgroupMatrix;
  if (!shape) return [];
  const tile = { shape, WM: 2, WN: 2, TM: 2, TN: 2, KT: Math.max(shape.K, 32 - (32 % shape.K)) };
  const conv = { KH: 3, KW: 3, SH: 1, SW: 1, DH: 1, DW: 1 };
  return [
    sgmatKernel({ ...tile, b: 'strided', out: 'f16', bias: true, act: 'silu' }),
    sgmatKernel({ ...tile, b: 'strided', out: 'f32', bias: false, act: 'none' }),
    sgmatKernel({ ...tile, b: conv, out: 'f16', bias: true, act: 'silu' }),
    sgmatKernel({ ...tile, b: { ...conv, wgrad: true }, out: 'f32', bias: false, act: 'none' }),
  ];
};
