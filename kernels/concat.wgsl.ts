// Concatenation of up to 8 inputs along one axis in a single dispatch. The output is seen as
// [outer, A, inner]; input k covers [start_k, start_{k+1}) of A and is read at
// off_k + o·ostride_k + (a − start_k)·inner + i, so channel slices of larger tensors need no copy.
import { type KernelSource, type ParamField, at8, bindingDecls, computeEntry, flatIndex, paramsLayout, variantKey } from './common';

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

export function concatKernel(v: { inputs: number }): KernelSource {
  const ks = [...Array(v.inputs).keys()];
  const bindings = [...ks.map((k) => ({ name: `in${k}`, access: 'read' as const, type: 'f32' })), { name: 'out', access: 'write' as const, type: 'f32' }];
  const branch = (k: number): string => `v = in${k}[${at8('p.offs', `${k}u`)} + o * ${at8('p.ostrides', `${k}u`)} + (a - ${at8('p.starts', `${k}u`)}) * p.inner + i];`;
  const chain = ks
    .map((k) => (k === v.inputs - 1 ? `{ ${branch(k)} }` : `if (a < ${at8('p.starts', `${k + 1}u`)}) { ${branch(k)} }`))
    .join(' else ');
  const code = `${paramsLayout(PARAMS).wgsl}
${bindingDecls(bindings, true)}
${computeEntry([CONCAT_WG, 1, 1])} {
  let e = ${flatIndex(CONCAT_WG)};
  if (e >= p.n) { return; }
  let i = e % p.inner;
  let a = (e / p.inner) % p.A;
  let o = e / (p.inner * p.A);
  var v = 0.0;
  ${chain}
  out[e] = v;
}
`;
  return { name: 'concat', key: variantKey('concat', v), code, workgroupSize: [CONCAT_WG, 1, 1], bindings: bindings.map((b) => b.access), params: PARAMS };
}
