// The weight of the transposed convolution: W'[g·cpg + ci, oj, kh, kw] = W[g·opg + oj, ci, KH−1−kh, KW−1−kw].
// With it, the input gradient of a stride-1 conv is an ordinary forward conv of the output gradient, so it
// runs on the (faster) forward kernel.
import { type KernelSource, type ParamField, bindingDecls, computeEntry, flatIndex, paramsLayout } from '../common';

const WG = 64;
const PARAMS: ParamField[] = ['O', 'cpg', 'opg', 'KH', 'KW'].map((name) => ({ name, type: 'u32' }) as ParamField);

export function flipWeightKernel(): KernelSource {
  const decls = [
    { name: 'W', access: 'read' as const, type: 'f32' },
    { name: 'Wt', access: 'write' as const, type: 'f32' },
  ];
  const code = `${paramsLayout(PARAMS).wgsl}
${bindingDecls(decls, true)}
${computeEntry([WG, 1, 1])} {
  let i = ${flatIndex(WG)};
  let KK = p.KH * p.KW;
  if (i >= p.O * p.cpg * KK) { return; }
  // i indexes W'[c, oj, kh, kw] with c in [0, groups·cpg)
  let kw = i % p.KW;
  let kh = (i / p.KW) % p.KH;
  let oj = (i / KK) % p.opg;
  let c = i / (KK * p.opg);
  let g = c / p.cpg;
  let ci = c % p.cpg;
  Wt[i] = W[(((g * p.opg + oj) * p.cpg + ci) * p.KH + (p.KH - 1u - kh)) * p.KW + (p.KW - 1u - kw)];
}
`;
  return { name: 'conv2d.flip', key: 'conv2d.flip', code, workgroupSize: [WG, 1, 1], bindings: decls.map((d) => d.access), params: PARAMS };
}
export const FLIP_WG = WG;
