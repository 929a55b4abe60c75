// BatchNorm2d: per-channel statistics (one workgroup per channel, two-pass mean/variance for accuracy) with
// the running-stat update done in place, the normalise+affine kernel, and the two backward kernels.
// The elementwise kernels (apply, input gradient) give each invocation a run of BN_RUN values of one channel
// plane, so the per-channel parameters are loaded once per run instead of once per value (loads, not arithmetic,
// bound these kernels).
import { type Binding, type DType, type KernelSource, type ParamField, type VariantList, computeEntry, defineKernel, flatIndex, read as r, variantKey, write as w } from './common';

export const BN_WG = 64;
/** Values of one channel plane per invocation in the elementwise kernels. */
export const BN_RUN = 8;
const PARAMS: ParamField[] = [
  { name: 'n', type: 'u32' },
  { name: 'C', type: 'u32' },
  { name: 'HW', type: 'u32' },
  { name: 'M', type: 'u32' },
  { name: 'xoff', type: 'u32' },
  // the output gradient may be a channel slice of a larger tensor: its offset and batch stride
  { name: 'gyoff', type: 'u32' },
  { name: 'gybs', type: 'u32' },
  // a second output gradient (a BatchNorm output used twice), summed with the first inside the backward kernels
  { name: 'g2off', type: 'u32' },
  { name: 'g2bs', type: 'u32' },
  { name: 'eps', type: 'f32' },
  { name: 'momentum', type: 'f32' },
];


/**
 * Storage type of the activations x, y and their gradients (f16 in mixed-precision training); statistics,
 * parameters and all arithmetic stay f32.
 */
export interface BnDtype {
  readonly dtype?: DType;
}
const dt = (v: BnDtype): DType => v.dtype ?? 'f32';
/** Variant key fields: the dtype only when it is not the default, so f32 keys stay as they were. */
const keyOf = <T extends BnDtype>(v: T): object => (dt(v) === 'f32' ? { ...v, dtype: undefined } : v);

function kernel(name: string, variant: object, bindings: Binding[], body: () => string, shared = ''): KernelSource {
  return defineKernel({
    name,
    key: variantKey(name, keyOf(variant as BnDtype)),
    workgroupSize: [BN_WG, 1, 1],
    bindings,
    params: PARAMS,
    body: () => `${shared}\n${computeEntry([BN_WG, 1, 1])} {\n${body()}\n}`,
  });
}

/**
 * Loop over the N·HW values of channel c, the plane of each image contiguous: `body` sees `xi` (index into x)
 * and `gi` (index into gy). Nested loops instead of a division per element (integer division is slow here).
 */
const perChannel = (body: string, two = false): string => `for (var n = 0u; n < p.M / p.HW; n++) {
    let xb = p.xoff + (n * p.C + c) * p.HW;
    let gb_ = p.gyoff + n * p.gybs + c * p.HW;${two ? '\n    let gb2 = p.g2off + n * p.g2bs + c * p.HW;' : ''}
    for (var h = lid; h < p.HW; h += ${BN_WG}u) {
      let xi = xb + h;
      let gi = gb_ + h;${two ? '\n      let gi2 = gb2 + h;' : ''}
      ${body}
    }
  }`;

/**
 * Invocation → (image n, channel c, run of BN_RUN values of that plane starting at h0); `body` runs per value
 * with `h` (index within the plane) and `i` (dense NCHW index), after `head` (per-channel setup).
 */
const planeRun = (head: string, body: string): string => `  let t = ${flatIndex(BN_WG)};
  let runs = (p.HW + ${BN_RUN - 1}u) / ${BN_RUN}u;
  if (t >= (p.n / p.HW) * runs) { return; }
  let plane = t / runs;
  let c = plane % p.C;
  let n = plane / p.C;
  let h0 = (t % runs) * ${BN_RUN}u;
${head}
  for (var e = 0u; e < ${BN_RUN}u; e++) {
    let h = h0 + e;
    if (h >= p.HW) { break; }
    let i = plane * p.HW + h;
    ${body}
  }`;

/** Workgroup-wide sum of `v` in shared memory; the total is left in `sh[0]`. */
const treeSum = (v: string): string => `  sh[lid] = ${v};
  workgroupBarrier();
  for (var st = ${BN_WG / 2}u; st > 0u; st = st >> 1u) {
    if (lid < st) { sh[lid] = sh[lid] + sh[lid + st]; }
    workgroupBarrier();
  }`;

const SHARED = `var<workgroup> sh: array<f32, ${BN_WG}>;\nvar<workgroup> sh2: array<f32, ${BN_WG}>;`;

/**
 * Batch mean and biased variance per channel in one pass over x (the loads bound this kernel): each invocation
 * keeps a Welford running mean and sum of squared deviations, and the tree combines them with Chan's formula,
 * as accurate as two passes. `update` also folds them into the running stats in place.
 */
export function bnStatsKernel(v: { update: boolean } & BnDtype): KernelSource {
  const decls = [r('x', dt(v)), w('mean'), w('var_'), ...(v.update ? [w('rm'), w('rv')] : [])];
  return kernel(
    'batchnorm.stats',
    v,
    decls,
    () => `  let c = wid.x;
  var cnt = 0.0;
  var mu = 0.0;
  var m2 = 0.0;
  ${perChannel('let xv = f32(x[xi]); cnt += 1.0; let d = xv - mu; mu += d / cnt; m2 += d * (xv - mu);')}
  sh[lid] = cnt;
  sh2[lid] = mu;
  sh3[lid] = m2;
  workgroupBarrier();
  for (var st = ${BN_WG / 2}u; st > 0u; st = st >> 1u) {
    if (lid < st && sh[lid + st] > 0.0) {
      let na = sh[lid];
      let nb = sh[lid + st];
      let f = nb / (na + nb);
      let d = sh2[lid + st] - sh2[lid];
      sh2[lid] = sh2[lid] + d * f;
      sh3[lid] = sh3[lid] + sh3[lid + st] + d * d * na * f;
      sh[lid] = na + nb;
    }
    workgroupBarrier();
  }
  if (lid == 0u) {
    let mu_ = sh2[0];
    let vb = sh3[0] / f32(p.M);
    mean[c] = mu_;
    var_[c] = vb;
${v.update ? `    let unbiased = vb * f32(p.M) / f32(max(p.M, 2u) - 1u);
    rm[c] = (1.0 - p.momentum) * rm[c] + p.momentum * mu_;
    rv[c] = (1.0 - p.momentum) * rv[c] + p.momentum * unbiased;` : ''}
  }`,
    `${SHARED}\nvar<workgroup> sh3: array<f32, ${BN_WG}>;`,
  );
}

export type BnActivation = 'none' | 'silu';

/** SiLU and its derivative, for the fused BatchNorm + SiLU of every YOLO Conv block. */
const SILU = `fn sig_(z: f32) -> f32 { return 1.0 / (1.0 + exp(-z)); }`;

/** y = act((x - mean[c]) / sqrt(var[c] + eps) * w[c] + b[c]) */
export function bnApplyKernel(v: { act: BnActivation } & BnDtype = { act: 'none' }): KernelSource {
  return kernel(
    'batchnorm.apply',
    v,
    [r('x', dt(v)), r('mean'), r('var_'), r('wt'), r('bs'), w('y', dt(v))],
    () => planeRun(
      `  let mu = mean[c];
  let a = inverseSqrt(var_[c] + p.eps) * wt[c];
  let b = bs[c];`,
      `let z = (f32(x[p.xoff + i]) - mu) * a + b;
    y[i] = ${dt(v)}(${v.act === 'silu' ? 'z * sig_(z)' : 'z'});`,
    ),
    SILU,
  );
}

/** The gradient reaching the BatchNorm output: gy itself, or gy · SiLU'(z) with z recomputed from x. */
const gradAtZ = (act: BnActivation, gy: string, xi: string): string =>
  act === 'silu'
    ? `let zz = (${xi} - mu) * inv * wc + bc;
    let sz = sig_(zz);
    let g = ${gy} * sz * (1.0 + zz * (1.0 - sz));`
    : `let g = ${gy};`;

/** Per channel: gb = Σ g, gw = Σ g · x̂ (x̂ the normalised input, g the gradient at the BatchNorm output). */
export function bnBwdReduceKernel(v: { act: BnActivation; two?: boolean } & BnDtype = { act: 'none' }): KernelSource {
  const two = v.two === true;
  return kernel(
    'batchnorm.bwd_reduce',
    { ...v, two: two || undefined },
    [r('gy', dt(v)), ...(two ? [r('gy2', dt(v))] : []), r('x', dt(v)), r('mean'), r('var_'), r('wt'), r('bs'), w('gw'), w('gb')],
    () => `  let c = wid.x;
  let mu = mean[c];
  let inv = inverseSqrt(var_[c] + p.eps);
  let wc = wt[c];
  let bc = bs[c];
  var s = 0.0;
  var q = 0.0;
  ${perChannel(`let xv = f32(x[xi]);
      ${gradAtZ(v.act, two ? '(f32(gy[gi]) + f32(gy2[gi2]))' : 'f32(gy[gi])', 'xv')}
      s += g;
      q += g * (xv - mu) * inv;`, two)}
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
    `${SHARED}
${SILU}`,
  );
}

/**
 * Input gradient. Training (batch statistics): gx = w·inv·(gy − gb/M − x̂·gw/M);
 * eval (running statistics are constants): gx = gy·w·inv.
 */
export function bnBwdApplyKernel(v: { training: boolean; act?: BnActivation; two?: boolean } & BnDtype): KernelSource {
  const act = v.act ?? 'none';
  const d = dt(v);
  const two = v.two === true;
  return kernel(
    'batchnorm.bwd_apply',
    { training: v.training, act, dtype: v.dtype, two: two || undefined },
    [r('gy', d), ...(two ? [r('gy2', d)] : []), r('x', d), r('mean'), r('var_'), r('wt'), r('bs'), r('gw'), r('gb'), w('gx', d)],
    () => planeRun(
      `  let mu = mean[c];
  let inv = inverseSqrt(var_[c] + p.eps);
  let wc = wt[c];
  let bc = bs[c];
  let m = f32(p.M);
  let gbm = gb[c] / m;
  let gwm = gw[c] / m;
  let gyb = p.gyoff + n * p.gybs + c * p.HW;${two ? '\n  let gyb2 = p.g2off + n * p.g2bs + c * p.HW;' : ''}`,
      `let xv = f32(x[p.xoff + i]);
    ${gradAtZ(act, two ? '(f32(gy[gyb + h]) + f32(gy2[gyb2 + h]))' : 'f32(gy[gyb + h])', 'xv')}
    gx[i] = ${d}(${v.training ? 'wc * inv * (g - gbm - (xv - mu) * inv * gwm)' : 'g * wc * inv'});`,
    ),
    SILU,
  );
}

export const variants: VariantList = (caps) =>
  (caps.f16 ? (['f32', 'f16'] as const) : (['f32'] as const)).flatMap((dtype) => [
    bnStatsKernel({ update: true, dtype }),
    bnStatsKernel({ update: false, dtype }),
    ...(['none', 'silu'] as const).flatMap((act) => [
      bnApplyKernel({ act, dtype }),
      ...[false, true].flatMap((two) => [
        bnBwdReduceKernel({ act, dtype, two }),
        bnBwdApplyKernel({ training: true, act, dtype, two }),
        bnBwdApplyKernel({ training: false, act, dtype, two }),
      ]),
    ]),
  ]);
