// Optimiser kernels (PyTorch semantics), each covering several tensors per dispatch: on a software adapter the
// cost of a dispatch is mostly fixed, and a model has hundreds of small parameter tensors. A dispatch binds up to
// `slots` tensors (WGSL cannot index bindings, so a switch picks the slot); their workgroups follow one another:
// slot k owns workgroups [s_k, s_{k+1}) and n_k elements. Optimiser state lives in arenas (one per state slot:
// momentum; m, v, v̂max) at offset o_k, so it costs no binding per tensor.
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
import { type Access, type KernelSource, type ParamField, type VariantList, computeEntry, defineKernel, read, variantKey, write } from './common';

export const OPT_WG = 64;
/** Elements one sumsq invocation adds up (a workgroup covers OPT_WG × this and writes OPT_WG partials). */
const SUMSQ_PER_LANE = 64;
/** The clip kernel's single workgroup (within the 256 invocations every target allows). */
const CLIP_WG = 256;
/** Most tensors per dispatch (uniform size and code length grow with it). */
export const OPT_MAX_SLOTS = 16;

export type MultiKind = 'sumsq' | 'sgd' | 'adamw' | 'ema';
export interface MultiVariant {
  readonly kind: MultiKind;
  /** Tensors bound by this variant (1..OPT_MAX_SLOTS). */
  readonly slots: number;
  /** sgd only. */
  readonly nesterov?: boolean;
}

interface Binding {
  readonly name: string;
  readonly access: Access;
}
interface KindSpec {
  /** Bindings of each slot (suffixed with the slot index). */
  readonly perSlot: readonly Binding[];
  readonly shared: readonly Binding[];
  readonly params: readonly string[];
  /** Per-slot offset into the state arenas. */
  readonly stateOffset: boolean;
}

const SPECS: Record<MultiKind, KindSpec> = {
  sumsq: { perSlot: [{ name: 'g', access: 'read' }], shared: [{ name: 'partials', access: 'write' }], params: ['base'], stateOffset: false },
  sgd: {
    perSlot: [{ name: 'w', access: 'write' }, { name: 'g', access: 'read' }],
    shared: [{ name: 'buf', access: 'write' }, { name: 'scale', access: 'read' }],
    params: ['first', 'lr', 'momentum', 'wd'],
    stateOffset: true,
  },
  adamw: {
    perSlot: [{ name: 'w', access: 'write' }, { name: 'g', access: 'read' }],
    shared: [{ name: 'm', access: 'write' }, { name: 'v', access: 'write' }, { name: 'vmax', access: 'write' }, { name: 'scale', access: 'read' }],
    params: ['lr', 'beta1', 'beta2', 'eps', 'wd', 'bc1', 'bc2sqrt'],
    stateOffset: true,
  },
  ema: { perSlot: [{ name: 'e', access: 'write' }, { name: 'x', access: 'read' }], shared: [], params: ['d'], stateOffset: false },
};
const U32_PARAMS = new Set(['base', 'first']);

/** Tensors per dispatch of `kind` on a device with `maxStorageBuffers` storage buffers per shader stage. */
export function multiSlots(kind: MultiKind, maxStorageBuffers: number): number {
  const s = SPECS[kind];
  return Math.max(1, Math.min(OPT_MAX_SLOTS, Math.floor((maxStorageBuffers - s.shared.length) / s.perSlot.length)));
}

/** Elements covered by one workgroup of `kind`. */
export const elementsPerWorkgroup = (kind: MultiKind): number => (kind === 'sumsq' ? OPT_WG * SUMSQ_PER_LANE : OPT_WG);

/** The uniform fields of a variant: the kind's scalars, then the slot table (starts, sizes, state offsets). */
function multiParamFields(v: MultiVariant): ParamField[] {
  const s = SPECS[v.kind];
  const ks = [...Array(v.slots).keys()];
  return [
    ...s.params.map((name) => ({ name, type: U32_PARAMS.has(name) ? ('u32' as const) : ('f32' as const) })),
    { name: 'total', type: 'u32' },
    ...ks.slice(1).map((k) => ({ name: `s${k}`, type: 'u32' as const })),
    ...ks.map((k) => ({ name: `n${k}`, type: 'u32' as const })),
    ...(s.stateOffset ? ks.map((k) => ({ name: `o${k}`, type: 'u32' as const })) : []),
  ];
}

/** `switch k` with one case per slot (the last one as default), `body(k)` inside each. */
const perSlot = (slots: number, body: (k: number) => string): string =>
  `switch k {\n${[...Array(slots).keys()].map((k) => `    ${k === slots - 1 ? 'default' : `case ${k}u`}: { ${body(k)} }`).join('\n')}\n  }`;

function body(v: MultiVariant): string {
  const K = v.slots;
  switch (v.kind) {
    case 'sumsq': {
      const loop = (k: number): string =>
        `for (var j = 0u; j < ${SUMSQ_PER_LANE}u; j++) { let i = c0 + j * ${OPT_WG}u; if (i >= n) { break; } let x = g${k}[i]; acc += x * x; }`;
      return `let c0 = (w - s) * ${OPT_WG * SUMSQ_PER_LANE}u + lid;
  var acc = 0.0;
  ${perSlot(K, loop)}
  partials[(p.base + w) * ${OPT_WG}u + lid] = acc;`;
    }
    case 'sgd':
    case 'adamw':
    case 'ema': {
      const [a, b] = SPECS[v.kind].perSlot.map((x) => x.name);
      const update =
        v.kind === 'sgd'
          ? `let d = y * sc + p.wd * x;
  let bb = select(p.momentum * buf[j] + d, d, p.first != 0u);
  buf[j] = bb;
  let r = x - p.lr * ${v.nesterov ? '(d + p.momentum * bb)' : 'bb'};`
          : v.kind === 'adamw'
            ? `let gr = y * sc;
  let x1 = x * (1.0 - p.lr * p.wd);
  let mi = p.beta1 * m[j] + (1.0 - p.beta1) * gr;
  let vi = p.beta2 * v[j] + (1.0 - p.beta2) * gr * gr;
  let vm = max(vmax[j], vi);
  m[j] = mi;
  v[j] = vi;
  vmax[j] = vm;
  let r = x1 - (p.lr / p.bc1) * mi / (sqrt(vm) / p.bc2sqrt + p.eps);`
            : `let r = p.d * x + (1.0 - p.d) * y;`;
      return `let i = (w - s) * ${OPT_WG}u + lid;
  if (i >= n) { return; }
  var x = 0.0;
  var y = 0.0;
  ${perSlot(K, (k) => `x = ${a}${k}[i]; y = ${b}${k}[i];`)}
  ${SPECS[v.kind].stateOffset ? 'let j = o + i;' : ''}
  ${v.kind === 'ema' ? '' : 'let sc = scale[0];\n  if (sc < 0.0) { return; } // overflowed under loss scaling: skip the step'}
  ${update}
  ${perSlot(K, (k) => `${a}${k}[i] = r;`)}`;
    }
  }
}

export function multiTensorKernel(v: MultiVariant): KernelSource {
  const spec = SPECS[v.kind];
  if (!(Number.isInteger(v.slots) && v.slots >= 1 && v.slots <= OPT_MAX_SLOTS)) throw new Error(`optim.${v.kind}: slots must be 1..${OPT_MAX_SLOTS}, got ${v.slots}`);
  const ks = [...Array(v.slots).keys()];
  const decls = [...ks.flatMap((k) => spec.perSlot.map((b) => ({ ...b, name: `${b.name}${k}`, type: 'f32' }))), ...spec.shared.map((b) => ({ ...b, type: 'f32' }))];
  const fields = multiParamFields(v);
  // slot k starts at workgroup s_k (s_0 = 0); starts ascend, so the last one not above w is w's slot
  const pick = ks
    .slice(1)
    .map((k) => `if (w >= p.s${k}) { k = ${k}u; s = p.s${k}; n = p.n${k};${spec.stateOffset ? ` o = p.o${k};` : ''} }`)
    .join('\n  ');
  // built only when the pipeline cache misses (this runs for every optimiser dispatch)
  const code = (): string => `${computeEntry([OPT_WG, 1, 1])} {
  let w = wid.x + wid.y * nwg.x;
  if (w >= p.total) { return; }
  var k = 0u;
  var s = 0u;
  var n = p.n0;
  ${spec.stateOffset ? 'var o = p.o0;' : ''}
  ${pick}
  ${body(v)}
}
`;
  const variant = v.kind === 'sgd' ? { slots: v.slots, nesterov: v.nesterov ?? false } : { slots: v.slots };
  return defineKernel({ name: `optim.${v.kind}`, key: variantKey(`optim.${v.kind}`, variant), workgroupSize: [OPT_WG, 1, 1], bindings: decls, params: fields, body: code });
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

/** Every kind at one slot and at the most slots the device's storage-buffer limit allows; both clip forms. */
export const variants: VariantList = (caps) => [
  ...(['sumsq', 'sgd', 'adamw', 'ema'] as const).flatMap((kind) =>
    [...new Set([1, multiSlots(kind, caps.maxStorageBuffers)])].map((slots) => multiTensorKernel({ kind, slots, ...(kind === 'sgd' ? { nesterov: true } : {}) })),
  ),
  clipFactorKernel(),
  clipFactorKernel({ lossScale: true }),
];
