// One phase of the transposed weight: W'[g·cpg + ci, oj, jh, jw] = W[g·opg + oj, ci, k0h + sh·(JH−1−jh), k0w + sw·(JW−1−jw)].
// For stride 1 (k0 = 0, J = K) that is the whole kernel flipped and transposed, and the input gradient is a
// forward conv of the output gradient with it. For stride s the input pixels with one residue (ry, rx) mod s
// are reached only by the taps k ≡ k0 (mod s): each such phase is a stride-1 conv with this sub-kernel.
import { type DType, type KernelSource, type ParamField, type VariantList, computeEntry, defineKernel, flatIndex } from '../common';

const WG = 64;
const PARAMS: ParamField[] = ['O', 'cpg', 'opg', 'KH', 'KW', 'k0h', 'k0w', 'sh', 'sw', 'JH', 'JW'].map((name) => ({ name, type: 'u32' }) as ParamField);

export function flipWeightKernel(dtype: DType = 'f32'): KernelSource {
  const decls = [
    { name: 'W', access: 'read' as const, type: dtype },
    { name: 'Wt', access: 'write' as const, type: dtype },
  ];
  return defineKernel({
    name: 'conv2d.flip',
    key: `conv2d.flip.${dtype}`,
    workgroupSize: [WG, 1, 1],
    bindings: decls,
    params: PARAMS,
    body: () => `${computeEntry([WG, 1, 1])} {
  let i = ${flatIndex(WG)};
  let JJ = p.JH * p.JW;
  if (i >= p.O * p.cpg * JJ) { return; }
  // i indexes W'[c, oj, jh, jw] with c in [0, groups·cpg)
  let jw = i % p.JW;
  let jh = (i / p.JW) % p.JH;
  let oj = (i / JJ) % p.opg;
  let c = i / (JJ * p.opg);
  let g = c / p.cpg;
  let ci = c % p.cpg;
  let kh = p.k0h + p.sh * (p.JH - 1u - jh);
  let kw = p.k0w + p.sw * (p.JW - 1u - jw);
  Wt[i] = W[(((g * p.opg + oj) * p.cpg + ci) * p.KH + kh) * p.KW + kw];
}`,
  });
}
export const FLIP_WG = WG;

export const variants: VariantList = (caps) => (caps.f16 ? [flipWeightKernel('f32'), flipWeightKernel('f16')] : [flipWeightKernel('f32')]);
