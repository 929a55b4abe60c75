// Concatenation of up to 8 inputs along one axis in a single dispatch. The output is seen as
// [outer, A, inner]; input k covers [start_k, start_{k+1}) of A and is read at
// off_k + o·ostride_k + (a − start_k)·inner + i, so channel slices of larger tensors need no copy.
import { type DType, type KernelSource, type ParamField, at8, bindingDecls, computeEntry, enableF16, flatIndex, paramsLayout, variantKey } from './common';

export const CONCAT_WG = 64;
export const CONCAT_MAX_INPUTS = 8;

const PARAMS: ParamField[] = [
  { name: 'starts', type: 'u32x8' },
  { name: 'offs', type: 'u32x8' },
  { name: 'ostrides', type: 'u32x8' },
  { name: 'n', type: 'u32' },
  { name: 'A', type: 'u32' },
  { name: 'inner', type: 'u32' },
];

/** `dtype` (default f32) is the storage type of every input and the output. */
export function concatKernel(v: { inputs: number; dtype?: DType }): KernelSource {
  const ks = [...Array(v.inputs).keys()];
  const t = v.dtype ?? 'f32';
  const bindings = [...ks.map((k) => ({ name: `in${k}`, access: 'read' as const, type: t })), { name: 'out', access: 'write' as const, type: t }];
  const branch = (k: number): string => `v = in${k}[${at8('p.offs', `${k}u`)} + o * ${at8('p.ostrides', `${k}u`)} + (a - ${at8('p.starts', `${k}u`)}) * p.inner + i];`;
  const chain = ks
    .map((k) => (k === v.inputs - 1 ? `{ ${branch(k)} }` : `if (a < ${at8('p.starts', `${k + 1}u`)}) { ${branch(k)} }`))
    .join(' else ');
  const code = `${enableF16(t)}${paramsLayout(PARAMS).wgsl}
${bindingDecls(bindings, true)}
${computeEntry([CONCAT_WG, 1, 1])} {
  let e = ${flatIndex(CONCAT_WG)};
  if (e >= p.n) { return; }
  let i = e % p.inner;
  let a = (e / p.inner) % p.A;
  let o = e / (p.inner * p.A);
  var v = ${t}(0.0);
  ${chain}
  out[e] = v;
}
`;
  return { name: 'concat', key: variantKey('concat', v), code, workgroupSize: [CONCAT_WG, 1, 1], bindings: bindings.map((b) => b.access), params: PARAMS };
}
