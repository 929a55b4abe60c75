// BatchNorm2d. Training mode runs one kernel per direction, one workgroup per channel (a 64-invocation tree, or one
// subgroup on software adapters: BnLanes): the forward takes the batch statistics in one pass, updates the running
// ones in place and normalises in a second pass over the channel, still in cache; the backward sums the parameter
// gradients and then writes the input gradient. That halves BatchNorm's dispatches (a tiny dispatch costs ~70–90 µs
// on lavapipe, host included). The forward can add a residual before its SiLU (RepConvN's two branches). Eval mode
// normalises with the running statistics in an elementwise kernel that gives each invocation a run of BN_RUN
// values of one channel plane, so the per-channel parameters are loaded once per run (loads, not arithmetic,
// bound it).
import { type Binding, type DType, type KernelCaps, type KernelSource, type ParamField, type VariantList, computeEntry, defineKernel, gridStride, read as r, variantKey, write as w } from './common';

export const BN_WG = 64;
/** Storage buffers of the residual backward with one output gradient (one more with two). */
export const BN_RESIDUAL_BUFFERS = 11;
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
  // offset of the residual added before the activation (a dense tensor shaped like x)
  { name: 'roff', type: 'u32' },
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

/**
 * The per-channel kernels' workgroup: BN_WG invocations summing through a workgroup-memory tree, or (`lanes`) one
 * subgroup of that many lanes summing with subgroupAdd. On a software adapter a workgroup runs on one CPU thread
 * either way, and each of the tree's seven barriers switches between its 8-wide SIMD slices; one subgroup of 8
 * lanes is one slice and needs none. On lavapipe that took a training BatchNorm + SiLU of [16, 64, 4, 4] from
 * 0.55–0.79 to 0.22–0.37 ms per call, and a yolov9-shapes training step's BatchNorm kernels from 229 to 108 ms.
 */
export interface BnLanes {
  readonly lanes?: number;
  /**
   * With `lanes`: read and write the activations four values at a time (array<vec4>), for planes, offsets and batch
   * strides that are multiples of 4. llvmpipe loads a storage value lane by lane whatever its width, so a vec4 load
   * costs about what a scalar one does: a [16, 32, 64, 64] BatchNorm + SiLU pass took 2.1–3.2 ms instead of 3.6–5.8.
   */
  readonly vec4?: boolean;
}
const wgOf = (v: BnLanes): number => v.lanes ?? BN_WG;

/** The value type the per-channel loops compute in (f32 or vec4<f32>) and the helpers that go with it. */
interface Lane {
  /** Values per load (1 or 4). */
  readonly V: 1 | 4;
  /** f32 or vec4<f32>. */
  readonly F: string;
  /** An expression of type F (a load of any storage type) as F. */
  readonly ld: (e: string) => string;
  /** An F as the storage type `d`. */
  readonly st: (d: DType, e: string) => string;
  /** The sum of an F's components. */
  readonly total: (e: string) => string;
  /** An element index of the dense activations divided by V. */
  readonly idx: (e: string) => string;
  /** The storage element type of activations of dtype `d`. */
  readonly el: (d: DType) => string;
}

function laneOf(v: BnLanes): Lane {
  if (v.vec4 && !v.lanes) throw new Error('batchnorm: vec4 loads need the subgroup form (lanes)');
  const V = v.vec4 ? 4 : 1;
  const F = V === 4 ? 'vec4<f32>' : 'f32';
  return {
    V,
    F,
    ld: (e) => `${F}(${e})`,
    st: (d, e) => (V === 4 ? `vec4<${d}>(${e})` : `${d}(${e})`),
    total: (e) => (V === 4 ? `dot(${e}, vec4<f32>(1.0))` : e),
    idx: (e) => (V === 4 ? `(${e}) / 4u` : e),
    el: (d) => (V === 4 ? `vec4<${d}>` : d),
  };
}

function kernel(name: string, variant: object, bindings: Binding[], body: () => string, shared = ''): KernelSource {
  const wg = wgOf(variant as BnLanes);
  return defineKernel({
    name,
    key: variantKey(name, keyOf(variant as BnDtype)),
    workgroupSize: [wg, 1, 1],
    bindings,
    params: PARAMS,
    enable: (variant as BnLanes).lanes ? ['subgroups'] : [],
    body: () => `${shared}\n${computeEntry([wg, 1, 1])} {\n${body()}\n}`,
  });
}

/**
 * Loop over the N·HW values of channel c, the plane of each image contiguous, `wg` invocations apart: `body` sees
 * `xi` (index into x) and `gi` (index into gy), in units of L.V values. Nested loops instead of a division per element (integer division
 * is slow here).
 */
const perChannel = (body: string, two = false, wg = BN_WG, block?: Block, L: Lane = laneOf({})): string => `for (var n = 0u; n < p.M / p.HW; n++) {${block ? `\n    ${block.init}` : ''}
    let xb = ${L.idx('p.xoff + (n * p.C + c) * p.HW')};
    let gb_ = ${L.idx('p.gyoff + n * p.gybs + c * p.HW')};${two ? `\n    let gb2 = ${L.idx('p.g2off + n * p.g2bs + c * p.HW')};` : ''}
    for (var h = lid; h < ${L.idx('p.HW')}; h += ${wg}u) {
      let xi = xb + h;
      let gi = gb_ + h;${two ? '\n      let gi2 = gb2 + h;' : ''}
      ${body}
    }${block ? `\n    ${block.fold}` : ''}
  }`;

/**
 * Sums kept per image plane and folded into the channel's totals after each plane (`init` before the plane, `fold`
 * after it): one subgroup sums a channel in 8 lanes, and a lane's running sum over M/8 values loses digits. The
 * yolov9-t loss test's worst parameter gradient (norm vs the official float64): tree 1.1e-3, one running sum per
 * lane 2.3e-3 (over its 2e-3 bound), sums per plane 9.4e-4.
 */
interface Block {
  readonly init: string;
  readonly fold: string;
}

/**
 * Invocation → (image n, channel c, run of BN_RUN values of that plane starting at h0); `body` runs per value
 * with `h` (index within the plane) and `i` (dense NCHW index), after `head` (per-channel setup).
 */
const planeRun = (head: string, body: string): string => `  let runs = (p.HW + ${BN_RUN - 1}u) / ${BN_RUN}u;
${gridStride(BN_WG, 't', '(p.n / p.HW) * runs', `    let plane = t / runs;
    let c = plane % p.C;
    let n = plane / p.C;
    let h0 = (t % runs) * ${BN_RUN}u;
  ${head}
    for (var e = 0u; e < ${BN_RUN}u; e++) {
      let h = h0 + e;
      if (h >= p.HW) { break; }
      let i = plane * p.HW + h;
      ${body}
    }`)}`;

const SHARED = `var<workgroup> sh: array<f32, ${BN_WG}>;\nvar<workgroup> sh2: array<f32, ${BN_WG}>;`;

export type BnActivation = 'none' | 'silu';

/** The logistic function (SiLU and its derivative), on f32 or vec4<f32>, for the fused BatchNorm + SiLU of every YOLO Conv block. */
const silu = (F = 'f32'): string => `fn sig_(z: ${F}) -> ${F} { return 1.0 / (1.0 + exp(-z)); }`;
const SILU = silu();

/**
 * Training-mode forward, one workgroup per channel: the batch mean and biased variance in one pass over x (the
 * loads bound this kernel: each invocation keeps a Welford running mean and sum of squared deviations, and the
 * tree combines them with Chan's formula, as accurate as two passes), the running statistics updated in place
 * when `update`, then y = act((x − mean)·w/√(var + eps) + b) in a second pass over the channel, which is still
 * in cache. One dispatch instead of a statistics and an apply kernel. `residual`: y = act(BN(x) + res), the sum
 * and the activation of RepConvN's two branches inside the second branch's BatchNorm.
 */
export function bnTrainKernel(v: { update: boolean; act: BnActivation; residual?: boolean } & BnDtype & BnLanes): KernelSource {
  const d = dt(v);
  const wg = wgOf(v);
  const L = laneOf(v);
  const F = L.F;
  // The channel's mean and biased variance. Tree: each invocation keeps a Welford (cnt, mu, m2) and the tree merges
  // them with Chan's formula. Lanes: each lane sums d = x − K and d² for K the channel's first value, and the lanes
  // add their sums; the shift keeps the sums small on a channel far from zero (a lane's Welford over M/8 values
  // drifts there: 2e-4 of the output on the reference test's mean-600σ channel, against 1e-4 allowed). Where K lies
  // far from the mean (an outlier at the corner), Σd²/M − mean(d)² would cancel: a second pass sums (x − mean)².
  const stats = v.lanes
    ? `  let K = f32(x[${L.idx('p.xoff + c * p.HW')}]${L.V === 4 ? '.x' : ''});
  var s1 = 0.0;
  var s2 = 0.0;
  ${perChannel(`let dx = ${L.ld('x[xi]')} - K; b1 += dx; b2 += dx * dx;`, false, wg, { init: `var b1 = ${F}(0.0);\n    var b2 = ${F}(0.0);`, fold: `s1 += ${L.total('b1')};\n    s2 += ${L.total('b2')};` }, L)}
  let dm = subgroupAdd(s1) / f32(p.M);
  let mu_ = K + dm;
  var vb = subgroupAdd(s2) / f32(p.M) - dm * dm;
  let again = dm * dm > 4.0 * vb;
  var q = 0.0;
  if (again) {
    ${perChannel(`let dx = ${L.ld('x[xi]')} - mu_; bq += dx * dx;`, false, wg, { init: `var bq = ${F}(0.0);`, fold: `q += ${L.total('bq')};` }, L)}
  }
  // (outside the branch: subgroup operations need uniform control flow)
  let sq = subgroupAdd(q);
  if (again) { vb = sq / f32(p.M); }`
    : `  var cnt = 0.0;
  var mu = 0.0;
  var m2 = 0.0;
  ${perChannel('let xv = f32(x[xi]); cnt += 1.0; let d = xv - mu; mu += d / cnt; m2 += d * (xv - mu);', false, wg)}
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
  let mu_ = sh2[0];
  let vb = sh3[0] / f32(p.M);`;
  const decls = [r('x', L.el(d)), w('mean'), w('var_'), ...(v.update ? [w('rm'), w('rv')] : []), r('wt'), r('bs'), ...(v.residual ? [r('res', L.el(d))] : []), w('y', L.el(d))];
  return kernel(
    'batchnorm.train',
    v,
    decls,
    () => `  let c = wid.x;
${stats}
  if (lid == 0u) {
    mean[c] = mu_;
    var_[c] = vb;
${v.update ? `    let unbiased = vb * f32(p.M) / f32(max(p.M, 2u) - 1u);
    rm[c] = (1.0 - p.momentum) * rm[c] + p.momentum * mu_;
    rv[c] = (1.0 - p.momentum) * rv[c] + p.momentum * unbiased;` : ''}
  }
  let a = inverseSqrt(vb + p.eps) * wt[c];
  let b = bs[c];
  ${perChannel(`let z = (${L.ld('x[xi]')} - mu_) * a + b${v.residual ? ` + ${L.ld(`res[${L.idx('p.roff')} + xi - ${L.idx('p.xoff')}]`)}` : ''};
      y[xi - ${L.idx('p.xoff')}] = ${L.st(d, v.act === 'silu' ? 'z * sig_(z)' : 'z')};`, false, wg, undefined, L)}`,
    v.lanes ? silu(F) : `${SHARED}\nvar<workgroup> sh3: array<f32, ${BN_WG}>;\n${SILU}`,
  );
}

/** Eval mode (running statistics): y = act((x - mean[c]) / sqrt(var[c] + eps) * w[c] + b[c]) */
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
const gradAtZ = (act: BnActivation, gy: string, xi: string, residual = false, L: Lane = laneOf({})): string =>
  act === 'silu'
    ? `let zz = (${xi} - mu) * inv * wc + bc${residual ? ` + ${L.ld(`res[${L.idx('p.roff')} + xi - ${L.idx('p.xoff')}]`)}` : ''};
    let sz = sig_(zz);
    let g = ${gy} * sz * (1.0 + zz * (1.0 - sz));`
    : `let g = ${gy};`;

/**
 * Backward, one workgroup per channel: gb = Σ g and gw = Σ g·x̂ (g the gradient at the BatchNorm output, x̂ the
 * normalised input), then, when `input`, the input gradient in a second pass over the channel:
 * training (batch statistics) gx = w·inv·(g − gb/M − x̂·gw/M); eval (running statistics are constants)
 * gx = g·w·inv. `two`: the output was used twice, and its two gradients are summed here. `residual` (with SiLU):
 * the forward added `res` before the SiLU; g is also the residual's gradient, written to `gres`.
 */
export function bnBackwardKernel(v: { training: boolean; act: BnActivation; input: boolean; two?: boolean; residual?: boolean } & BnDtype & BnLanes): KernelSource {
  const two = v.two === true;
  const wg = wgOf(v);
  // gb = Σ g and gw = Σ g·x̂ over the channel
  const sums = v.lanes
    ? `  let S = subgroupAdd(s);
  let Q = subgroupAdd(q);`
    : `  sh[lid] = s;
  sh2[lid] = q;
  workgroupBarrier();
  for (var st = ${BN_WG / 2}u; st > 0u; st = st >> 1u) {
    if (lid < st) {
      sh[lid] = sh[lid] + sh[lid + st];
      sh2[lid] = sh2[lid] + sh2[lid + st];
    }
    workgroupBarrier();
  }
  let S = sh[0];
  let Q = sh2[0];`;
  const res = v.residual === true;
  if (res && v.act !== 'silu') throw new Error('batchnorm.bwd: a residual needs the SiLU (without it the residual gradient is gy itself)');
  const d = dt(v);
  const L = laneOf(v);
  const g = gradAtZ(v.act, two ? `(${L.ld('gy[gi]')} + ${L.ld('gy2[gi2]')})` : L.ld('gy[gi]'), 'xv', res, L);
  return kernel(
    'batchnorm.bwd',
    { ...v, two: two || undefined, residual: res || undefined },
    [
      r('gy', L.el(d)), ...(two ? [r('gy2', L.el(d))] : []), r('x', L.el(d)), r('mean'), r('var_'), r('wt'), r('bs'), ...(res ? [r('res', L.el(d))] : []),
      w('gw'), w('gb'), ...(v.input ? [w('gx', L.el(d))] : []), ...(res ? [w('gres', L.el(d))] : []),
    ],
    () => `  let c = wid.x;
  let mu = mean[c];
  let inv = inverseSqrt(var_[c] + p.eps);
  let wc = wt[c];
  let bc = bs[c];
  var s = 0.0;
  var q = 0.0;
  ${perChannel(`let xv = ${L.ld('x[xi]')};
      ${g}${res ? `
      gres[xi - ${L.idx('p.xoff')}] = ${L.st(d, 'g')};` : ''}
      ${v.lanes ? 'bs_' : 's'} += g;
      ${v.lanes ? 'bq_' : 'q'} += g * (xv - mu) * inv;`, two, wg, v.lanes ? { init: `var bs_ = ${L.F}(0.0);\n    var bq_ = ${L.F}(0.0);`, fold: `s += ${L.total('bs_')};\n    q += ${L.total('bq_')};` } : undefined, L)}
${sums}
  if (lid == 0u) {
    gb[c] = S;
    gw[c] = Q;
  }
${v.input ? `  let m = f32(p.M);
  let gbm = S / m;
  let gwm = Q / m;
  ${perChannel(`let xv = ${L.ld('x[xi]')};
      ${g}
      gx[xi - ${L.idx('p.xoff')}] = ${L.st(d, v.training ? 'wc * inv * (g - gbm - (xv - mu) * inv * gwm)' : 'g * wc * inv')};`, two, wg, undefined, L)}` : ''}`,
    v.lanes ? silu(L.F) : `${SHARED}
${SILU}`,
  );
}

export const variants: VariantList = (caps) => [
  ...variantsOf(caps, {}),
  // one subgroup of 8 lanes per channel (lavapipe), scalar and vec4 loads
  ...(caps.subgroups ? [...variantsOf(caps, { lanes: 8 }), ...variantsOf(caps, { lanes: 8, vec4: true })] : []),
];

const variantsOf = (caps: KernelCaps, lanes: BnLanes): KernelSource[] =>
  (caps.f16 ? (['f32', 'f16'] as const) : (['f32'] as const)).flatMap((dtype) =>
    (['none', 'silu'] as const).flatMap((act) => [
      bnTrainKernel({ update: true, act, dtype, ...lanes }),
      bnTrainKernel({ update: false, act, dtype, ...lanes }),
      ...(lanes.lanes ? [] : [bnApplyKernel({ act, dtype })]),
      ...[false, true].flatMap((training) => [false, true].flatMap((input) => [false, true].map((two) => bnBackwardKernel({ training, act, input, two, dtype, ...lanes })))),
      // the residual backward binds 11 storage buffers (12 with two gradients): not on SwiftShader's 10
      ...(act === 'silu' && caps.maxStorageBuffers >= BN_RESIDUAL_BUFFERS
        ? [
            bnTrainKernel({ update: true, act, residual: true, dtype, ...lanes }),
            ...[false, true].filter((two) => caps.maxStorageBuffers >= BN_RESIDUAL_BUFFERS + Number(two)).map((two) => bnBackwardKernel({ training: true, act, input: true, two, residual: true, dtype, ...lanes })),
          ]
        : []),
    ]),
  );
