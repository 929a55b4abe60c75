// BatchNorm2d: per-channel statistics (one workgroup per channel, two-pass mean/variance for accuracy) with
// the running-stat update done in place, the normalise+affine kernel, and the two backward kernels.
import { type KernelSource, type ParamField, bindingDecls, computeEntry, flatIndex, paramsLayout, variantKey } from './common';

export const BN_WG = 64;
const PARAMS: ParamField[] = [
  { name: 'n', type: 'u32' },
  { name: 'C', type: 'u32' },
  { name: 'HW', type: 'u32' },
  { name: 'M', type: 'u32' },
  { name: 'xoff', type: 'u32' },
  { name: 'eps', type: 'f32' },
  { name: 'momentum', type: 'f32' },
];

type Decl = { name: string; access: 'read' | 'write'; type: string };
const r = (name: string): Decl => ({ name, access: 'read', type: 'f32' });
const w = (name: string): Decl => ({ name, access: 'write', type: 'f32' });

function kernel(name: string, variant: object, decls: Decl[], body: string, shared = ''): KernelSource {
  const code = `${paramsLayout(PARAMS).wgsl}\n${bindingDecls(decls, true)}\n${shared}\n${computeEntry([BN_WG, 1, 1])} {\n${body}\n}\n`;
  return { name, key: variantKey(name, variant), code, workgroupSize: [BN_WG, 1, 1], bindings: decls.map((d) => d.access), params: PARAMS };
}

/** Address of element e (over N·HW) of channel c. */
const addr = (base: string): string => `${base} + ((e / p.HW) * p.C + c) * p.HW + e % p.HW`;

/** Workgroup-wide sum of `v` in shared memory; the total is left in `sh[0]`. */
const treeSum = (v: string): string => `  sh[lid] = ${v};
  workgroupBarrier();
  for (var st = ${BN_WG / 2}u; st > 0u; st = st >> 1u) {
    if (lid < st) { sh[lid] = sh[lid] + sh[lid + st]; }
    workgroupBarrier();
  }`;

const SHARED = `var<workgroup> sh: array<f32, ${BN_WG}>;\nvar<workgroup> sh2: array<f32, ${BN_WG}>;`;

/** Batch mean and biased variance per channel; `update` also folds them into the running stats in place. */
export function bnStatsKernel(v: { update: boolean }): KernelSource {
  const decls = [r('x'), w('mean'), w('var_'), ...(v.update ? [w('rm'), w('rv')] : [])];
  return kernel(
    'batchnorm.stats',
    v,
    decls,
    `  let c = wid.x;
  var s = 0.0;
  for (var e = lid; e < p.M; e += ${BN_WG}u) { s += x[${addr('p.xoff')}]; }
${treeSum('s')}
  let mu = sh[0] / f32(p.M);
  workgroupBarrier();
  var q = 0.0;
  for (var e = lid; e < p.M; e += ${BN_WG}u) { let d = x[${addr('p.xoff')}] - mu; q += d * d; }
${treeSum('q')}
  if (lid == 0u) {
    let vb = sh[0] / f32(p.M);
    mean[c] = mu;
    var_[c] = vb;
${v.update ? `    let unbiased = vb * f32(p.M) / f32(max(p.M, 2u) - 1u);
    rm[c] = (1.0 - p.momentum) * rm[c] + p.momentum * mu;
    rv[c] = (1.0 - p.momentum) * rv[c] + p.momentum * unbiased;` : ''}
  }`,
    SHARED,
  );
}

/** y = (x - mean[c]) / sqrt(var[c] + eps) * w[c] + b[c] */
export function bnApplyKernel(): KernelSource {
  return kernel(
    'batchnorm.apply',
    {},
    [r('x'), r('mean'), r('var_'), r('wt'), r('bs'), w('y')],
    `  let i = ${flatIndex(BN_WG)};
  if (i >= p.n) { return; }
  let c = (i / p.HW) % p.C;
  y[i] = (x[p.xoff + i] - mean[c]) * inverseSqrt(var_[c] + p.eps) * wt[c] + bs[c];`,
  );
}

/** Per channel: gb = Σ gy, gw = Σ gy · x̂ (x̂ the normalised input). */
export function bnBwdReduceKernel(): KernelSource {
  return kernel(
    'batchnorm.bwd_reduce',
    {},
    [r('gy'), r('x'), r('mean'), r('var_'), w('gw'), w('gb')],
    `  let c = wid.x;
  let mu = mean[c];
  let inv = inverseSqrt(var_[c] + p.eps);
  var s = 0.0;
  var q = 0.0;
  for (var e = lid; e < p.M; e += ${BN_WG}u) {
    let g = gy[${addr('0u')}];
    s += g;
    q += g * (x[${addr('p.xoff')}] - mu) * inv;
  }
  sh2[lid] = q;
${treeSum('s')}
  if (lid == 0u) { gb[c] = sh[0]; }
  workgroupBarrier();
  sh[lid] = sh2[lid];
  workgroupBarrier();
  for (var st = ${BN_WG / 2}u; st > 0u; st = st >> 1u) {
    if (lid < st) { sh[lid] = sh[lid] + sh[lid + st]; }
    workgroupBarrier();
  }
  if (lid == 0u) { gw[c] = sh[0]; }`,
    SHARED,
  );
}

/**
 * Input gradient. Training (batch statistics): gx = w·inv·(gy − gb/M − x̂·gw/M);
 * eval (running statistics are constants): gx = gy·w·inv.
 */
export function bnBwdApplyKernel(v: { training: boolean }): KernelSource {
  return kernel(
    'batchnorm.bwd_apply',
    v,
    [r('gy'), r('x'), r('mean'), r('var_'), r('wt'), r('gw'), r('gb'), w('gx')],
    `  let i = ${flatIndex(BN_WG)};
  if (i >= p.n) { return; }
  let c = (i / p.HW) % p.C;
  let inv = inverseSqrt(var_[c] + p.eps);
${
  v.training
    ? `  let xh = (x[p.xoff + i] - mean[c]) * inv;
  let m = f32(p.M);
  gx[i] = wt[c] * inv * (gy[i] - gb[c] / m - xh * gw[c] / m);`
    : '  gx[i] = gy[i] * wt[c] * inv;'
}`,
  );
}
