// Optimiser kernels (PyTorch semantics) over arenas: the trainer copies every parameter and gradient (or every EMA
// and model state tensor) into one dense buffer per role with buffer copies — a few µs each, where a dispatch costs
// tens to hundreds of µs on a software adapter and a model has hundreds of small tensors — so a whole model's update
// is one dispatch per parameter group. A slot is a run of elements [o_k, o_k + n_k) of every arena (the tensors
// that have a gradient; a parameter without one breaks a run); its workgroups follow the previous slot's:
// slot k owns workgroups [s_k, s_{k+1}). Optimiser state (momentum; m, v, v̂max) lives in arenas of the same layout.
//   sumsq: partials[(base + w)·OPT_WG + lane] = Σ g² over the lane's elements of workgroup w's chunk (global
//          grad-norm clipping, first pass; per-lane partials, since barriers are costly)
//   clip:  scale = min(1, maxNorm / (√Σ partials + 1e-6))   (torch.nn.utils.clip_grad_norm_; one workgroup)
//   sgd:   g = s·grad + wd·p; buf = first ? g : μ·buf + g; p −= lr·(g + μ·buf)   (nesterov) or lr·buf (plain)
//   adamw: p ·= 1 − lr·wd; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²; v̂max = max(v̂max, v) (amsgrad);
//          p −= lr/(1−β1^t) · m / (√(v̂max)/√(1−β2^t) + eps)
//   ema:   e = d·e + (1 − d)·x
// The gradient scale s is read from a one-element buffer written by `clip`, so a step needs no read-back.
// Loss scaling (mixed precision): `clip` also unscales (s includes 1/S for the loss scale S), and when the
// scaled gradients overflowed (Σ g² is inf or NaN) it writes s = −1, which makes sgd/adamw skip the step; it
// then updates S in place as torch.cuda.amp.GradScaler does (halve on overflow, double after `growth` good steps).
import { type Access, type KernelSource, type ParamField, type VariantList, checkInt, computeEntry, defineKernel, read, variantKey, write } from './common';

export const OPT_WG = 64;
/** Elements one sumsq invocation adds up (a workgroup covers OPT_WG × this and writes OPT_WG partials). */
const SUMSQ_PER_LANE = 64;
/** The clip kernel's single workgroup (within the 256 invocations every target allows). */
const CLIP_WG = 256;
/** Most runs per dispatch (uniform size and code length grow with it). */
export const OPT_MAX_SLOTS = 16;

export type MultiKind = 'sumsq' | 'sgd' | 'adamw' | 'ema';
export interface MultiVariant {
  readonly kind: MultiKind;
  /** Runs covered by this variant (1..OPT_MAX_SLOTS). */
  readonly slots: number;
  /** sgd only. */
  readonly nesterov?: boolean;
}

interface Binding {
  readonly name: string;
  readonly access: Access;
}
interface KindSpec {
  /** The arenas, in binding order: the updated one first, then what it is updated from. */
  readonly arenas: readonly Binding[];
  readonly params: readonly string[];
}

const SPECS: Record<MultiKind, KindSpec> = {
  sumsq: { arenas: [{ name: 'g', access: 'read' }, { name: 'partials', access: 'write' }], params: ['base'] },
  sgd: {
    arenas: [{ name: 'w', access: 'write' }, { name: 'g', access: 'read' }, { name: 'buf', access: 'write' }, { name: 'scale', access: 'read' }],
    params: ['first', 'lr', 'momentum', 'wd'],
  },
  adamw: {
    arenas: [{ name: 'w', access: 'write' }, { name: 'g', access: 'read' }, { name: 'm', access: 'write' }, { name: 'v', access: 'write' }, { name: 'vmax', access: 'write' }, { name: 'scale', access: 'read' }],
    params: ['lr', 'beta1', 'beta2', 'eps', 'wd', 'bc1', 'bc2sqrt'],
  },
  ema: { arenas: [{ name: 'e', access: 'write' }, { name: 'x', access: 'read' }], params: ['d'] },
};
const U32_PARAMS = new Set(['base', 'first']);

/** Elements covered by one workgroup of `kind`. */
export const elementsPerWorkgroup = (kind: MultiKind): number => (kind === 'sumsq' ? OPT_WG * SUMSQ_PER_LANE : OPT_WG);

/** The uniform fields of a variant: the kind's scalars, then the slot table (starts, sizes, offsets). */
function multiParamFields(v: MultiVariant): ParamField[] {
  const ks = [...Array(v.slots).keys()];
  return [
    ...SPECS[v.kind].params.map((name) => ({ name, type: U32_PARAMS.has(name) ? ('u32' as const) : ('f32' as const) })),
    { name: 'total', type: 'u32' },
    ...ks.slice(1).map((k) => ({ name: `s${k}`, type: 'u32' as const })),
    ...ks.map((k) => ({ name: `n${k}`, type: 'u32' as const })),
    ...ks.map((k) => ({ name: `o${k}`, type: 'u32' as const })),
  ];
}

function body(kind: MultiKind, nesterov: boolean): string {
  if (kind === 'sumsq') {
    return `let c0 = (wi - s) * ${OPT_WG * SUMSQ_PER_LANE}u + lid;
  var acc = 0.0;
  for (var j = 0u; j < ${SUMSQ_PER_LANE}u; j++) { let i = c0 + j * ${OPT_WG}u; if (i >= n) { break; } let gv = g[o + i]; acc += gv * gv; }
  partials[(p.base + wi) * ${OPT_WG}u + lid] = acc;`;
  }
  const [a, b] = SPECS[kind].arenas.map((x) => x.name);
  const update =
    kind === 'sgd'
      ? `let d = gv * sc + p.wd * pv;
  let bb = select(p.momentum * buf[j] + d, d, p.first != 0u);
  buf[j] = bb;
  let r = pv - p.lr * ${nesterov ? '(d + p.momentum * bb)' : 'bb'};`
      : kind === 'adamw'
        ? `let gr = gv * sc;
  let x1 = pv * (1.0 - p.lr * p.wd);
  let mi = p.beta1 * m[j] + (1.0 - p.beta1) * gr;
  let vi = p.beta2 * v[j] + (1.0 - p.beta2) * gr * gr;
  let vm = max(vmax[j], vi);
  m[j] = mi;
  v[j] = vi;
  vmax[j] = vm;
  let r = x1 - (p.lr / p.bc1) * mi / (sqrt(vm) / p.bc2sqrt + p.eps);`
        : `let r = p.d * pv + (1.0 - p.d) * gv;`;
  return `let i = (wi - s) * ${OPT_WG}u + lid;
  if (i >= n) { return; }
  let j = o + i;
  // the value updated and the one it is updated from (gradient, or the model's value for the EMA)
  let pv = ${a}[j];
  let gv = ${b}[j];
  ${kind === 'ema' ? '' : 'let sc = scale[0];\n  if (sc < 0.0) { return; } // overflowed under loss scaling: skip the step'}
  ${update}
  ${a}[j] = r;`;
}

export function multiTensorKernel(v: MultiVariant): KernelSource {
  checkInt(`optim.${v.kind}`, 'slots', v.slots, 1, OPT_MAX_SLOTS);
  const ks = [...Array(v.slots).keys()];
  const decls = SPECS[v.kind].arenas.map((b) => ({ ...b, type: 'f32' }));
  const nesterov = v.kind === 'sgd' && (v.nesterov ?? false);
  // slot k starts at workgroup s_k (s_0 = 0); starts ascend, so the last one not above w is w's slot
  const pick = ks
    .slice(1)
    .map((k) => `if (wi >= p.s${k}) { s = p.s${k}; n = p.n${k}; o = p.o${k}; }`)
    .join('\n  ');
  // built only when the pipeline cache misses (this runs for every optimiser dispatch)
  const code = (): string => `${computeEntry([OPT_WG, 1, 1])} {
  let wi = wid.x + wid.y * nwg.x;
  if (wi >= p.total) { return; }
  var s = 0u;
  var n = p.n0;
  var o = p.o0;
  ${pick}
  ${body(v.kind, nesterov)}
}
`;
  const variant = v.kind === 'sgd' ? { slots: v.slots, nesterov } : { slots: v.slots };
  return defineKernel({ name: `optim.${v.kind}`, key: variantKey(`optim.${v.kind}`, variant), workgroupSize: [OPT_WG, 1, 1], bindings: decls, params: multiParamFields(v), body: code });
}

const CLIP_PARAMS: ParamField[] = [
  { name: 'count', type: 'u32' },
  { name: 'maxNorm', type: 'f32' },
  { name: 'growth', type: 'f32' },
];

/**
 * The clip factor from the sumsq partials (`count` of them); with `lossScale`, also the unscaling, the overflow
 * check and the update of the loss-scale state ls = [S, good steps] (see the header).
 */
export function clipFactorKernel(v: { lossScale?: boolean } = {}): KernelSource {
  const decls = [read('partials'), write('scale'), ...(v.lossScale ? [write('ls')] : [])];
  const finish = v.lossScale
    ? `  if (lid == 0u) {
    let S = ls[0];
    let tot = sh[0];
    // inf or NaN, told by the exponent bits (float comparisons may be compiled as if NaN never occurs)
    if ((bitcast<u32>(tot) & 0x7f800000u) == 0x7f800000u) {
      scale[0] = -1.0;
      ls[0] = max(S * 0.5, 1.0);
      ls[1] = 0.0;
    } else {
      scale[0] = min(p.maxNorm / (sqrt(tot) / S + 1e-6), 1.0) / S;
      let good = ls[1] + 1.0;
      let grow = good >= p.growth;
      ls[0] = select(S, min(S * 2.0, 16777216.0), grow);
      ls[1] = select(good, 0.0, grow);
    }
  }`
    : '  if (lid == 0u) { scale[0] = min(p.maxNorm / (sqrt(sh[0]) + 1e-6), 1.0); }';
  const code = (): string => `var<workgroup> sh: array<f32, ${CLIP_WG}>;
${computeEntry([CLIP_WG, 1, 1])} {
  var acc = 0.0;
  for (var i = lid; i < p.count; i += ${CLIP_WG}u) { acc += partials[i]; }
  sh[lid] = acc;
  workgroupBarrier();
  for (var st = ${CLIP_WG / 2}u; st > 0u; st = st >> 1u) {
    if (lid < st) { sh[lid] = sh[lid] + sh[lid + st]; }
    workgroupBarrier();
  }
${finish}
}
`;
  const key = v.lossScale ? 'optim.clip.lossScale' : 'optim.clip';
  return defineKernel({ name: 'optim.clip', key, workgroupSize: [CLIP_WG, 1, 1], bindings: decls, params: CLIP_PARAMS, body: code });
}

/** Every kind at one run and at the most runs; both clip forms. */
export const variants: VariantList = () => [
  ...(['sumsq', 'sgd', 'adamw', 'ema'] as const).flatMap((kind) =>
    [1, OPT_MAX_SLOTS].map((slots) => multiTensorKernel({ kind, slots, ...(kind === 'sgd' ? { nesterov: true } : {}) })),
  ),
  clipFactorKernel(),
  clipFactorKernel({ lossScale: true }),
];
