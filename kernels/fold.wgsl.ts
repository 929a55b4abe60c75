// Inference-time weight transforms, run on the GPU over the weight tensors:
//  fold_bn:   W'[o, …] = W[o, …]·s[o], b'[o] = β[o] + (b[o] − μ[o])·s[o], s = γ / √(σ² + eps)   (Conv + BN → Conv)
//  add_center: K[o, c, i, j] = K3[o, c, i, j] + (centre tap ? K1[o, c] : 0)                    (RepConvN 3×3 + 1×1)
import { type KernelSource, type ParamField, type VariantList, computeEntry, defineKernel, flatIndex } from './common';

export const FOLD_WG = 64;

const FOLD_PARAMS: ParamField[] = [
  { name: 'O', type: 'u32' },
  { name: 'K', type: 'u32' },
  { name: 'eps', type: 'f32' },
];

export function foldBnKernel(): KernelSource {
  const decls = [
    { name: 'W', access: 'read' as const, type: 'f32' },
    { name: 'B', access: 'read' as const, type: 'f32' },
    { name: 'gamma', access: 'read' as const, type: 'f32' },
    { name: 'beta', access: 'read' as const, type: 'f32' },
    { name: 'mean', access: 'read' as const, type: 'f32' },
    { name: 'var_', access: 'read' as const, type: 'f32' },
    { name: 'Wout', access: 'write' as const, type: 'f32' },
    { name: 'Bout', access: 'write' as const, type: 'f32' },
  ];
  return defineKernel({
    name: 'fold.bn',
    key: 'fold.bn',
    workgroupSize: [FOLD_WG, 1, 1],
    bindings: decls,
    params: FOLD_PARAMS,
    body: () => `${computeEntry([FOLD_WG, 1, 1])} {
  let i = ${flatIndex(FOLD_WG)};
  if (i < p.O * p.K) {
    let o = i / p.K;
    Wout[i] = W[i] * (gamma[o] / sqrt(var_[o] + p.eps));
  }
  if (i < p.O) {
    let s = gamma[i] / sqrt(var_[i] + p.eps);
    Bout[i] = beta[i] + (B[i] - mean[i]) * s;
  }
}`,
  });
}

const CENTER_PARAMS: ParamField[] = [
  { name: 'n', type: 'u32' },
  { name: 'kk', type: 'u32' },
  { name: 'center', type: 'u32' },
];

export function addCenterKernel(): KernelSource {
  const decls = [
    { name: 'K3', access: 'read' as const, type: 'f32' },
    { name: 'K1', access: 'read' as const, type: 'f32' },
    { name: 'Kout', access: 'write' as const, type: 'f32' },
  ];
  return defineKernel({
    name: 'fold.add_center',
    key: 'fold.add_center',
    workgroupSize: [FOLD_WG, 1, 1],
    bindings: decls,
    params: CENTER_PARAMS,
    body: () => `${computeEntry([FOLD_WG, 1, 1])} {
  let i = ${flatIndex(FOLD_WG)};
  if (i >= p.n) { return; }
  let tap = i % p.kk;
  Kout[i] = K3[i] + select(0.0, K1[i / p.kk], tap == p.center);
}`,
  });
}

export const variants: VariantList = () => [foldBnKernel(), addCenterKernel()];
