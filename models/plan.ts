// The official parse_model bookkeeping as a table: for each module name a YAML row may use, how its arguments are
// checked, how wide its output is, how it changes the stride and how the block is built. planModel() walks the
// rows with it, building nothing; DetectionModel builds the blocks from the plan.
import type { Device } from '../engine/device';
import { ADown, AConv, CBFuse, CBLinear, Concat, type Ctx, ELAN1, RepConvN, RepNBottleneck, RepNCSP, RepNCSPELAN4, SPPELAN, Silence, Upsample } from './blocks';
import { ConfigError, type ModelConfig } from './config';
import { DDetect, DualDDetect } from './heads';
import { Conv } from './layers';
import type { Block } from './module';

/** A model row after scaling by the depth and width multiples, with absolute sources and channel counts. */
export interface ResolvedRow {
  readonly index: number;
  /** Absolute source indices (-1 = the input image for row 0). */
  readonly from: number | number[];
  readonly n: number;
  readonly module: string;
  /** Constructor arguments after channel bookkeeping (as the official builder prints them). */
  readonly args: readonly unknown[];
  /** Output channels (a list for CBLinear). */
  readonly channels: number | number[];
  /** Output stride relative to the input image. */
  readonly stride: number;
  /** Learnable parameters of the row (all repeats). */
  readonly params: number;
  readonly line: number;
}

export type Maker = (device: Device, ctx: Ctx) => Block;

/** The rows resolved, and a maker per row that builds its block. */
export interface ModelPlan {
  readonly rows: ResolvedRow[];
  readonly makers: Maker[];
}

/** What a module rule sees of its row: the arguments, the sources and checks that fail naming file, line and layer. */
interface Row {
  readonly module: string;
  /** The YAML arguments, as written. */
  readonly a: readonly unknown[];
  readonly from: number | number[];
  /** The row's `from` as written (for messages). */
  readonly written: unknown;
  readonly chOf: (j: number) => number | number[];
  readonly strideOf: (j: number) => number;
  /** Input width of a one-input row. */
  readonly single: () => number;
  readonly argN: (lo: number, hi: number, names: string) => void;
  readonly int: (v: unknown, what: string) => number;
  readonly fail: (msg: string) => never;
  readonly width: number;
}

/** A rule's result: output width, output stride from the input's, printed args, maker. */
interface Resolved {
  readonly channels: number | number[];
  readonly stride?: (input: number) => number;
  readonly args?: readonly unknown[];
  readonly make: Maker;
}

const makeDivisible = (x: number, d: number): number => Math.ceil(x / d) * d;

/** A width-scaled module: its first argument is an output width multiplied by width_multiple (official set). */
function scaled(build: (r: Row, c1: number, c2: number) => { stride?: (input: number) => number; make: Maker }): (r: Row) => Resolved {
  return (r) => {
    const c1 = r.single();
    const c2 = makeDivisible(r.int(r.a[0], 'output channels') * r.width, 8);
    return { channels: c2, args: [c1, c2, ...r.a.slice(1)], ...build(r, c1, c2) };
  };
}

/** RepNCSP / RepNBottleneck / RepConvN outside the width-scaled set: args taken literally (c1 first), output width recorded as the input's. */
function literal(build: (n: number[]) => Maker): (r: Row) => Resolved {
  return (r) => {
    const nums = r.a.map((v, k) => r.int(v, `arg ${k}`));
    const channels = r.single();
    if (nums[0] !== channels) r.fail(`first arg (input channels) is ${nums[0]} but the input has ${String(channels)}`);
    return { channels, make: build(nums) };
  };
}

function head(r: Row): Resolved {
  // a second arg is the input widths the official builder appends in place (checkpoints' yaml has it)
  r.argN(1, 2, 'nc');
  if (!Array.isArray(r.from)) r.fail(`the head needs a list 'from'`);
  const ch = (r.from as number[]).map((j) => r.chOf(j) as number);
  if (r.a.length === 2 && JSON.stringify(r.a[1]) !== JSON.stringify(ch)) r.fail(`recorded input widths ${JSON.stringify(r.a[1])} differ from the graph's ${JSON.stringify(ch)}`);
  const nc = r.int(r.a[0], 'nc');
  const dual = r.module === 'DualDDetect';
  if (dual && ch.length % 2 !== 0) r.fail(`DualDDetect needs aux and main inputs (an even count), got ${ch.length}`);
  return { channels: 4 + nc, args: [nc, ch], make: (device, ctx) => (dual ? new DualDDetect(device, nc, ch, ctx) : new DDetect(device, nc, ch, ctx)) };
}

const MODULES: Readonly<Record<string, (r: Row) => Resolved>> = {
  Conv: scaled((r, c1, c2) => {
    r.argN(1, 6, 'c2, k, s, p, g, d');
    const [k = 1, s = 1, p = null, g = 1, d = 1] = r.a.slice(1) as (number | null)[];
    return { stride: (t) => t * r.int(s, 's'), make: (device, ctx) => new Conv(device, { c1, c2, k: r.int(k, 'k'), s: r.int(s, 's'), p: p ?? undefined, g: r.int(g, 'g'), d: r.int(d, 'd') }, ctx.rand, ctx.act) };
  }),
  AConv: scaled((r, c1, c2) => (r.argN(1, 1, 'c2'), { stride: (t) => t * 2, make: (device, ctx) => new AConv(device, c1, c2, ctx) })),
  ADown: scaled((r, c1, c2) => (r.argN(1, 1, 'c2'), { stride: (t) => t * 2, make: (device, ctx) => new ADown(device, c1, c2, ctx) })),
  ELAN1: scaled((r, c1, c2) => (r.argN(3, 3, 'c2, c3, c4'), { make: (device, ctx) => new ELAN1(device, c1, c2, r.int(r.a[1], 'c3'), r.int(r.a[2], 'c4'), ctx) })),
  RepNCSPELAN4: scaled((r, c1, c2) => {
    r.argN(3, 4, 'c2, c3, c4, c5');
    return { make: (device, ctx) => new RepNCSPELAN4(device, c1, c2, r.int(r.a[1], 'c3'), r.int(r.a[2], 'c4'), ctx, r.a[3] === undefined ? 1 : r.int(r.a[3], 'c5')) };
  }),
  SPPELAN: scaled((r, c1, c2) => (r.argN(2, 2, 'c2, c3'), { make: (device, ctx) => new SPPELAN(device, c1, c2, r.int(r.a[1], 'c3'), ctx) })),
  Concat: (r) => {
    if (!Array.isArray(r.from)) r.fail(`Concat needs a list 'from', got ${JSON.stringify(r.written)}`);
    const f = r.from as number[];
    const dim = r.a.length ? r.int((r.a[0] as number) + 1, 'dim') - 1 : 1;
    if (dim !== 1) r.fail(`only channel concatenation (dim 1) is supported, got ${dim}`);
    const strides = f.map(r.strideOf);
    if (new Set(strides).size > 1) r.fail(`inputs ${JSON.stringify(f)} have different strides ${JSON.stringify(strides)}`);
    return { channels: f.reduce((s, j) => s + (r.chOf(j) as number), 0), make: (device) => new Concat(device, dim) };
  },
  'nn.Upsample': (r) => {
    r.argN(2, 3, 'size, scale_factor, mode');
    if (r.a[0] !== null) r.fail('only scale_factor upsampling (size None) is supported');
    if (r.a[2] !== undefined && r.a[2] !== 'nearest') r.fail(`only 'nearest' mode is supported, got ${JSON.stringify(r.a[2])}`);
    const s = r.int(r.a[1], 'scale_factor');
    return { channels: r.single(), stride: (t) => t / s, make: (device) => new Upsample(device, s) };
  },
  Silence: (r) => ({ channels: r.single(), make: (device) => new Silence(device) }),
  CBLinear: (r) => {
    r.argN(1, 5, 'c2s, k, s, p, g');
    const c1 = r.single();
    if (!Array.isArray(r.a[0]) || r.a[0].length === 0) r.fail(`first arg must be the list of output widths, got ${JSON.stringify(r.a[0])}`);
    const c2s = (r.a[0] as unknown[]).map((c) => r.int(c, 'width'));
    const [k = 1, s = 1, p = null, g = 1] = r.a.slice(1) as (number | null)[];
    return {
      channels: c2s,
      args: [c1, c2s, ...r.a.slice(1)],
      stride: (t) => t * r.int(s, 's'),
      make: (device, ctx) => new CBLinear(device, c1, c2s, ctx, r.int(k, 'k'), r.int(s, 's'), p ?? undefined, r.int(g, 'g')),
    };
  },
  CBFuse: (r) => {
    if (!Array.isArray(r.from) || r.from.length < 2) r.fail(`CBFuse needs 'from' [CBLinear rows…, x], got ${JSON.stringify(r.written)}`);
    const f = r.from as number[];
    const idx = Array.isArray(r.a[0]) ? (r.a[0] as unknown[]).map((v) => (typeof v === 'number' ? v : r.fail(`index ${JSON.stringify(v)} is not a number`))) : r.fail(`first arg must be the index list, got ${JSON.stringify(r.a[0])}`);
    if (idx.length !== f.length - 1) r.fail(`${idx.length} indices for ${f.length - 1} CBLinear sources`);
    f.slice(0, -1).forEach((j, k) => {
      const c = r.chOf(j);
      if (!Array.isArray(c)) r.fail(`source ${j} is not a CBLinear row`);
      if (idx[k] < 0 || idx[k] >= (c as number[]).length) r.fail(`index ${idx[k]} is out of range for source ${j} with ${(c as number[]).length} parts`);
    });
    return { channels: r.chOf(f[f.length - 1]) as number, make: (device) => new CBFuse(device, idx) };
  },
  DDetect: head,
  DualDDetect: head,
  RepNCSP: literal((n) => (device, ctx) => new RepNCSP(device, n[0], n[1], ctx, n[2] ?? 1)),
  RepNBottleneck: literal((n) => (device, ctx) => new RepNBottleneck(device, n[0], n[1], ctx)),
  RepConvN: literal((n) => (device, ctx) => new RepConvN(device, n[0], n[1], ctx, n[2] ?? 3, n[3] ?? 1, n[4] ?? 1, n[5] ?? 1)),
};

/** Module names a model YAML may use. */
export const SUPPORTED_MODULES = Object.keys(MODULES);

/**
 * The official parse_model bookkeeping without building anything: absolute `from` indices, constructor
 * arguments, output channels and strides of every row, and a maker per row. Errors name the file, the line
 * and the layer.
 */
export function planModel(cfg: ModelConfig, inputChannels = 3): ModelPlan {
  const rows: ResolvedRow[] = [];
  const makers: Maker[] = [];
  for (const spec of cfg.rows) {
    const i = spec.index;
    const fail = (msg: string): never => {
      throw new ConfigError(cfg.source, spec.line, `layer ${i} (${spec.module}): ${msg}`);
    };
    const abs = (j: number): number => {
      const a = j < 0 ? i + j : j;
      if (a < -1 || a >= i || (a === -1 && i !== 0)) fail(`'from' index ${j} is out of range (layers 0..${i - 1} precede it)`);
      return a;
    };
    const from = Array.isArray(spec.from) ? spec.from.map(abs) : abs(spec.from);
    const chOf = (j: number): number | number[] => (j === -1 ? inputChannels : rows[j].channels);
    const strideOf = (j: number): number => (j === -1 ? 1 : rows[j].stride);
    const rule = MODULES[spec.module] ?? fail(`unknown module '${spec.module}' (supported: ${SUPPORTED_MODULES.join(', ')})`);
    const a = spec.args;
    const row: Row = {
      module: spec.module,
      a,
      from,
      written: spec.from,
      chOf,
      strideOf,
      fail,
      width: cfg.widthMultiple,
      single: () => {
        if (Array.isArray(from)) return fail(`${spec.module} takes one input, 'from' is ${JSON.stringify(spec.from)}`);
        const c = chOf(from);
        if (Array.isArray(c)) return fail(`input ${from} is a CBLinear tuple, not a tensor`);
        return c;
      },
      argN: (lo, hi, names) => {
        if (a.length < lo || a.length > hi) fail(`expected ${lo === hi ? lo : `${lo} to ${hi}`} args [${names}], got ${JSON.stringify(a)}`);
      },
      int: (v, what) => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : fail(`${what} must be a positive integer, got ${JSON.stringify(v)}`)),
    };
    const r = rule(row);
    const input = Array.isArray(from) ? strideOf(from[from.length - 1]) : strideOf(from);
    const stride = r.stride ? r.stride(input) : input;
    if (!Number.isInteger(stride) || stride < 1) fail(`upsampling below the input resolution (stride ${stride})`);
    const n = spec.n > 1 ? Math.max(Math.round(spec.n * cfg.depthMultiple), 1) : spec.n;
    makers.push(r.make);
    rows.push({ index: i, from, n, module: spec.module, args: r.args ?? [...a], channels: r.channels, stride, params: 0, line: spec.line });
  }
  return { rows, makers };
}
