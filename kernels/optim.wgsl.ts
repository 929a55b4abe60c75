// Optimiser updates in place over one parameter's buffers (PyTorch semantics). The gradient is multiplied by a
// scale read from a one-element buffer — the global-norm clip factor, computed on the GPU, so a step needs no
// read-back.
//   sgd:   g = s·grad + wd·p; buf = first ? g : μ·buf + g; p −= lr·(g + μ·buf)   (nesterov) or lr·buf (plain)
//   adamw: p ·= 1 − lr·wd; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; v̂max = max(v̂max, v) (amsgrad);
//          p −= lr/(1−β1^t) · m / (√(v̂max)/√(1−β2^t) + eps)
//   ema:   e = d·e + (1 − d)·x
import { type KernelSource, type ParamField, bindingDecls, computeEntry, flatIndex, paramsLayout, variantKey } from './common';

export const OPT_WG = 64;

const SGD_PARAMS: ParamField[] = [
  { name: 'n', type: 'u32' },
  { name: 'first', type: 'u32' },
  { name: 'lr', type: 'f32' },
  { name: 'momentum', type: 'f32' },
  { name: 'wd', type: 'f32' },
];

export function sgdKernel(v: { nesterov: boolean }): KernelSource {
  const decls = [
    { name: 'p_', access: 'write' as const, type: 'f32' },
    { name: 'g', access: 'read' as const, type: 'f32' },
    { name: 'buf', access: 'write' as const, type: 'f32' },
    { name: 'scale', access: 'read' as const, type: 'f32' },
  ];
  const code = `${paramsLayout(SGD_PARAMS).wgsl}
${bindingDecls(decls, true)}
${computeEntry([OPT_WG, 1, 1])} {
  let i = ${flatIndex(OPT_WG)};
  if (i >= p.n) { return; }
  let w = p_[i];
  let d = g[i] * scale[0] + p.wd * w;
  let b = select(p.momentum * buf[i] + d, d, p.first != 0u);
  buf[i] = b;
  p_[i] = w - p.lr * ${v.nesterov ? '(d + p.momentum * b)' : 'b'};
}
`;
  return { name: 'optim.sgd', key: variantKey('optim.sgd', v), code, workgroupSize: [OPT_WG, 1, 1], bindings: decls.map((d) => d.access), params: SGD_PARAMS };
}

const ADAM_PARAMS: ParamField[] = [
  { name: 'n', type: 'u32' },
  { name: 'lr', type: 'f32' },
  { name: 'beta1', type: 'f32' },
  { name: 'beta2', type: 'f32' },
  { name: 'eps', type: 'f32' },
  { name: 'wd', type: 'f32' },
  { name: 'bc1', type: 'f32' },
  { name: 'bc2sqrt', type: 'f32' },
];

export function adamwKernel(): KernelSource {
  const decls = [
    { name: 'p_', access: 'write' as const, type: 'f32' },
    { name: 'g', access: 'read' as const, type: 'f32' },
    { name: 'm', access: 'write' as const, type: 'f32' },
    { name: 'v', access: 'write' as const, type: 'f32' },
    { name: 'vmax', access: 'write' as const, type: 'f32' },
    { name: 'scale', access: 'read' as const, type: 'f32' },
  ];
  const code = `${paramsLayout(ADAM_PARAMS).wgsl}
${bindingDecls(decls, true)}
${computeEntry([OPT_WG, 1, 1])} {
  let i = ${flatIndex(OPT_WG)};
  if (i >= p.n) { return; }
  let gr = g[i] * scale[0];
  let w = p_[i] * (1.0 - p.lr * p.wd);
  let mi = p.beta1 * m[i] + (1.0 - p.beta1) * gr;
  let vi = p.beta2 * v[i] + (1.0 - p.beta2) * gr * gr;
  let vm = max(vmax[i], vi);
  m[i] = mi;
  v[i] = vi;
  vmax[i] = vm;
  p_[i] = w - (p.lr / p.bc1) * mi / (sqrt(vm) / p.bc2sqrt + p.eps);
}
`;
  return { name: 'optim.adamw', key: 'optim.adamw', code, workgroupSize: [OPT_WG, 1, 1], bindings: decls.map((d) => d.access), params: ADAM_PARAMS };
}

const EMA_PARAMS: ParamField[] = [
  { name: 'n', type: 'u32' },
  { name: 'd', type: 'f32' },
];

export function emaKernel(): KernelSource {
  const decls = [
    { name: 'e', access: 'write' as const, type: 'f32' },
    { name: 'x', access: 'read' as const, type: 'f32' },
  ];
  const code = `${paramsLayout(EMA_PARAMS).wgsl}
${bindingDecls(decls, true)}
${computeEntry([OPT_WG, 1, 1])} {
  let i = ${flatIndex(OPT_WG)};
  if (i >= p.n) { return; }
  e[i] = p.d * e[i] + (1.0 - p.d) * x[i];
}
`;
  return { name: 'optim.ema', key: 'optim.ema', code, workgroupSize: [OPT_WG, 1, 1], bindings: decls.map((d) => d.access), params: EMA_PARAMS };
}
