// Batched matmul C[b] = A[b] · B[b] with every operand addressed through uniform strides, so transposed
// operands (the backward's Aᵀ and Bᵀ) and broadcast batch dims (stride 0) need no copies. Each invocation
// computes a 4×4 register tile: 8 loads feed 16 FMAs per k step (loads, not math, bound llvmpipe).
import { type KernelSource, type ParamField, at8, bindingDecls, computeEntry, paramsLayout } from './common';

export const MM_TILE = 4;
export const MM_WG: readonly [number, number, number] = [8, 8, 1];

const PARAMS: ParamField[] = [
  { name: 'bshape', type: 'u32x8' },
  { name: 'abst', type: 'u32x8' },
  { name: 'bbst', type: 'u32x8' },
  { name: 'brank', type: 'u32' },
  { name: 'M', type: 'u32' },
  { name: 'N', type: 'u32' },
  { name: 'K', type: 'u32' },
  { name: 'asm_', type: 'u32' },
  { name: 'ask', type: 'u32' },
  { name: 'bsk', type: 'u32' },
  { name: 'bsn', type: 'u32' },
  { name: 'aoff', type: 'u32' },
  { name: 'boff', type: 'u32' },
];

export function matmulKernel(): KernelSource {
  const bindings = [
    { name: 'A', access: 'read' as const, type: 'f32' },
    { name: 'B', access: 'read' as const, type: 'f32' },
    { name: 'C', access: 'write' as const, type: 'f32' },
  ];
  const T = MM_TILE;
  const rows = [...Array(T).keys()];
  const code = `${paramsLayout(PARAMS).wgsl}
${bindingDecls(bindings, true)}
${computeEntry(MM_WG)} {
  let n0 = gid.x * ${T}u;
  let m0 = gid.y * ${T}u;
  let batch = gid.z;
  if (n0 >= p.N || m0 >= p.M) { return; }
  // batch offsets from the broadcast batch shape
  var rem = batch;
  var ao = p.aoff;
  var bo = p.boff;
  for (var d = i32(p.brank) - 1; d >= 0; d--) {
    let du = u32(d);
    let s = ${at8('p.bshape', 'du')};
    let c = rem % s;
    rem = rem / s;
    ao += c * ${at8('p.abst', 'du')};
    bo += c * ${at8('p.bbst', 'du')};
  }
  // clamp row/col indices so every load is in bounds; out-of-range results are never stored
${rows.map((i) => `  let am${i} = ao + min(m0 + ${i}u, p.M - 1u) * p.asm_;`).join('\n')}
${rows.map((j) => `  let bn${j} = bo + min(n0 + ${j}u, p.N - 1u) * p.bsn;`).join('\n')}
${rows.map((i) => `  var acc${i} = vec4<f32>(0.0);`).join('\n')}
  for (var k = 0u; k < p.K; k++) {
    let ka = k * p.ask;
    let kb = k * p.bsk;
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
}
`;
  return { name: 'matmul', key: 'matmul', code, workgroupSize: MM_WG, bindings: bindings.map((b) => b.access), params: PARAMS };
}
