// DetectionModel: builds the graph of a model YAML on the engine with the official channel bookkeeping
// (parse_model), runs it row by row, and reports its layer table, parameter count and FLOPs.
import type { Device } from '../engine/device';
import type { Tensor } from '../engine/tensor';
import type { DType } from '../kernels/common';
import { cast } from '../engine/ops/elementwise';
import { OpError, fmtShape } from '../engine/errors';
import { type Value, Block, Module } from './module';
import { type Activation, Conv, Conv2d } from './layers';
import { ADown, AConv, CBFuse, CBLinear, Concat, type Ctx, ELAN1, type Rand, RepConvN, RepNBottleneck, RepNCSP, RepNCSPELAN4, SPPELAN, Sequential, Silence, Upsample } from './blocks';
import { type BranchOutput, DDetect, DualDDetect, type Head } from './heads';
import { ConfigError, type ModelConfig } from './config';

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

type Maker = (device: Device, ctx: Ctx) => Block;

/** Learnable parameter count of a block, computed from its constructor without building it. */
export interface ModelPlan {
  readonly rows: ResolvedRow[];
  readonly makers: Maker[];
}

/** What DetectionModel.forward() returns: the main branch and, for PGI models, the auxiliary one. */
export interface ModelOutput {
  /** The branch used for inference (the only one for GELAN, the main one for YOLOv9). */
  readonly main: BranchOutput;
  /** The PGI auxiliary branch (dual-head models only). */
  readonly aux: BranchOutput | null;
}

const makeDivisible = (x: number, d: number): number => Math.ceil(x / d) * d;

/** Modules whose first argument is an output width scaled by width_multiple (official parse_model set). */
const WIDTH_SCALED = new Set(['Conv', 'AConv', 'ADown', 'ELAN1', 'RepNCSPELAN4', 'SPPELAN']);
/** Module names a model YAML may use. */
export const SUPPORTED_MODULES = [...WIDTH_SCALED, 'Concat', 'nn.Upsample', 'Silence', 'CBLinear', 'CBFuse', 'DDetect', 'DualDDetect', 'RepNCSP', 'RepNBottleneck', 'RepConvN'];

/** A YOLOv9/GELAN detector built from a model config: backbone, neck, detection head(s), and the PGI auxiliary branch when the config has one. */
export class DetectionModel extends Module {
  readonly rows: readonly ResolvedRow[];
  readonly layers: readonly Block[];
  readonly head: Head;
  readonly nc: number;
  /** Largest stride: input sides must be multiples of it. */
  readonly maxStride: number;
  private readonly lastUse: number[];

  constructor(device: Device, readonly config: ModelConfig, rand: Rand, readonly inputChannels = 3) {
    super(device);
    this.nc = config.nc;
    const plan = planModel(config, inputChannels);
    const ctx: Ctx = { rand, act: config.activation };
    const layers = plan.makers.map((make, i) => {
      const n = plan.rows[i].n;
      return n > 1 ? new Sequential(device, Array.from({ length: n }, () => make(device, ctx))) : make(device, ctx);
    });
    const rows = plan.rows.map((r, i) => ({ ...r, params: layers[i].numParameters() }));
    this.rows = rows;
    this.layers = layers;
    this.child('model', new Sequential(device, layers));
    const last = layers[layers.length - 1];
    if (!(last instanceof DDetect || last instanceof DualDDetect)) {
      throw new ConfigError(config.source, rows[rows.length - 1].line, `the last layer must be DDetect or DualDDetect, got ${rows[rows.length - 1].module}`);
    }
    this.head = last;
    const headRow = rows[rows.length - 1];
    const srcs = headRow.from as number[];
    const nl = last instanceof DualDDetect ? srcs.length / 2 : srcs.length;
    last.strides = srcs.slice(0, nl).map((j) => rows[j].stride);
    last.initBias();
    this.maxStride = Math.max(...rows.map((r) => r.stride));
    // free each row's output after the last row that reads it
    this.lastUse = rows.map((r) => r.index);
    for (const r of rows) for (const j of Array.isArray(r.from) ? r.from : [r.from]) if (j >= 0) this.lastUse[j] = Math.max(this.lastUse[j], r.index);
  }

  get isDual(): boolean {
    return this.head instanceof DualDDetect;
  }

  /** Storage type of the weights: 'f16' after fuseModel(model, { dtype: 'f16' }). */
  get dtype(): DType {
    return this.namedParameters().next().value![1].dtype;
  }

  private mixed = false;

  /**
   * Mixed-precision training: activations (and their gradients) in f16, weights kept in f32 as master copies and
   * cast to f16 where a conv uses them (their gradients come back in f32); BatchNorm statistics and parameters
   * stay f32 and the loss runs in f32. Pair it with loss scaling (the Trainer's `mixedPrecision` option does
   * both). Needs shader-f16 and f32 weights.
   */
  setMixedPrecision(on: boolean): this {
    if (on && !this.device.features.f16) {
      throw new OpError('DetectionModel.setMixedPrecision', "mixed precision needs the shader-f16 feature, which this device does not have; train in f32");
    }
    if (on && this.dtype !== 'f32') throw new OpError('DetectionModel.setMixedPrecision', `needs f32 master weights, the model's are ${this.dtype} (fused for f16 inference)`);
    this.mixed = on;
    return this;
  }

  get mixedPrecision(): boolean {
    return this.mixed;
  }

  /**
   * Inputs of another dtype are cast to the model's (f16 under mixed precision); levels come out in that dtype,
   * decoded `y` in f32.
   */
  forward(input: Tensor): ModelOutput {
    input.assertAlive('DetectionModel.forward', 'input');
    const dtype = this.mixed ? 'f16' : this.dtype;
    const x = input.dtype === dtype ? input : cast(input, dtype);
    const [, C, H, W] = x.shape;
    if (x.rank !== 4 || C !== this.inputChannels || H % this.maxStride !== 0 || W % this.maxStride !== 0) {
      throw new OpError('DetectionModel.forward', `input must be (batch, ${this.inputChannels}, H, W) with H and W multiples of ${this.maxStride}, got ${fmtShape(x.shape)}`);
    }
    const outs: (Value | null)[] = [];
    const free = (v: Value | null): void => (Array.isArray(v) ? v : v ? [v] : []).forEach((t) => t.dispose());
    const rowsN = this.rows.length;
    for (let i = 0; i < rowsN - 1; i++) {
      const r = this.rows[i];
      const m = this.layers[i];
      const get = (j: number): Value => (j === -1 ? x : outs[j]!);
      let y: Value;
      if (m instanceof CBFuse) {
        const f = r.from as number[];
        y = m.fuse(f.slice(0, -1).map((j) => get(j) as Tensor[]), get(f[f.length - 1]) as Tensor);
      } else {
        const inp = Array.isArray(r.from) ? r.from.map((j) => get(j) as Tensor) : get(r.from);
        y = m.forward(inp);
      }
      outs.push(y);
      // release inputs whose last reader was this row
      for (const j of Array.isArray(r.from) ? r.from : [r.from]) if (j >= 0 && this.lastUse[j] === i) free(outs[j]), (outs[j] = null);
      if (this.lastUse[i] === i && i !== rowsN - 2) free(outs[i]), (outs[i] = null);
    }
    const headRow = this.rows[rowsN - 1];
    const feats = (headRow.from as number[]).map((j) => outs[j] as Tensor);
    const result: ModelOutput = this.head instanceof DualDDetect ? this.head.run(feats) : { main: this.head.run(feats), aux: null };
    outs.forEach((v) => free(v));
    if (x !== input) x.dispose();
    return result;
  }

  /** GFLOPs (2 × multiply-adds of every conv, RepConvN folded) for an input of `size`×`size`. */
  gflops(size = 640): number {
    let macs = 0;
    this.rows.forEach((r, i) => {
      const levels = r.module === 'DDetect' || r.module === 'DualDDetect' ? (r.from as number[]).map((j) => this.rows[j].stride) : null;
      let li = 0;
      const visit = (m: Module, level: number | null): void => {
        // counted as deployed: RepConvN's 1×1 branch is folded into its 3×3 kernel
        if (m instanceof RepConvN && m.conv2) {
          visit(m.conv1!, level);
          return;
        }
        if (m instanceof Conv2d) {
          const s = level ?? r.stride;
          const k = m.weight.shape;
          macs += k[0] * k[1] * k[2] * k[3] * (size / s) ** 2;
        }
        for (const kid of m.childModules.values()) visit(kid, level);
      };
      if (levels) {
        // head towers: Sequential(levels) per tower; level l runs at its input's stride
        for (const [name, tower] of this.layers[i].childModules) {
          if (name.startsWith('dfl')) continue;
          li = 0;
          for (const lvl of tower.childModules.values()) visit(lvl, levels[(name === 'cv4' || name === 'cv5' ? levels.length / 2 : 0) + li++]);
        }
      } else visit(this.layers[i], null);
    });
    return (2 * macs) / 1e9;
  }

  /** The layer table (index, from, n, params, module, args, output shape at `size`). */
  table(size = 640): string[] {
    const head = `${'#'.padStart(3)} ${'from'.padStart(18)} ${'n'.padStart(3)} ${'params'.padStart(10)}  ${'module'.padEnd(14)} ${'arguments'.padEnd(34)} output`;
    const lines = this.rows.map((r) => {
      const ch = r.channels;
      const hw = `${size / r.stride}x${size / r.stride}`;
      const out = r.module === 'DDetect' || r.module === 'DualDDetect' ? `(b, ${4 + this.nc}, anchors)` : Array.isArray(ch) ? ch.map((c) => `${c}x${hw}`).join(', ') : `${ch}x${hw}`;
      return `${String(r.index).padStart(3)} ${JSON.stringify(r.from).padStart(18)} ${String(r.n).padStart(3)} ${String(r.params).padStart(10)}  ${r.module.padEnd(14)} ${JSON.stringify(r.args).padEnd(34)} ${out}`;
    });
    return [head, ...lines];
  }
}

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
    const single = (what: string): number => {
      if (Array.isArray(from)) return fail(`${what} takes one input, 'from' is ${JSON.stringify(spec.from)}`);
      const c = chOf(from);
      if (Array.isArray(c)) return fail(`input ${from} is a CBLinear tuple, not a tensor`);
      return c;
    };
    const a = spec.args;
    const argN = (lo: number, hi: number, names: string): void => {
      if (a.length < lo || a.length > hi) fail(`expected ${lo === hi ? lo : `${lo} to ${hi}`} args [${names}], got ${JSON.stringify(a)}`);
    };
    const int = (v: unknown, what: string): number => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : fail(`${what} must be a positive integer, got ${JSON.stringify(v)}`));
    const n = spec.n > 1 ? Math.max(Math.round(spec.n * cfg.depthMultiple), 1) : spec.n;
    let make: Maker;
    let channels: number | number[];
    let stride = Array.isArray(from) ? strideOf(from[from.length - 1]) : strideOf(from);
    let args: unknown[];
    if (!SUPPORTED_MODULES.includes(spec.module)) fail(`unknown module '${spec.module}' (supported: ${SUPPORTED_MODULES.join(', ')})`);
    if (WIDTH_SCALED.has(spec.module)) {
      const c1 = single(spec.module);
      const c2 = makeDivisible(int(a[0], 'output channels') * cfg.widthMultiple, 8);
      args = [c1, c2, ...a.slice(1)];
      channels = c2;
      switch (spec.module) {
        case 'Conv': {
          argN(1, 6, 'c2, k, s, p, g, d');
          const [k = 1, s = 1, p = null, g = 1, d = 1] = a.slice(1) as (number | null)[];
          make = (device, ctx) => new Conv(device, { c1, c2, k: int(k, 'k'), s: int(s, 's'), p: p ?? undefined, g: int(g, 'g'), d: int(d, 'd') }, ctx.rand, ctx.act);
          stride *= int(s, 's');
          break;
        }
        case 'AConv':
          argN(1, 1, 'c2');
          make = (device, ctx) => new AConv(device, c1, c2, ctx);
          stride *= 2;
          break;
        case 'ADown':
          argN(1, 1, 'c2');
          make = (device, ctx) => new ADown(device, c1, c2, ctx);
          stride *= 2;
          break;
        case 'ELAN1':
          argN(3, 3, 'c2, c3, c4');
          make = (device, ctx) => new ELAN1(device, c1, c2, int(a[1], 'c3'), int(a[2], 'c4'), ctx);
          break;
        case 'RepNCSPELAN4':
          argN(3, 4, 'c2, c3, c4, c5');
          make = (device, ctx) => new RepNCSPELAN4(device, c1, c2, int(a[1], 'c3'), int(a[2], 'c4'), ctx, a[3] === undefined ? 1 : int(a[3], 'c5'));
          break;
        default:
          argN(2, 2, 'c2, c3');
          make = (device, ctx) => new SPPELAN(device, c1, c2, int(a[1], 'c3'), ctx);
      }
    } else {
      args = [...a];
      switch (spec.module) {
        case 'Concat': {
          if (!Array.isArray(from)) fail(`Concat needs a list 'from', got ${JSON.stringify(spec.from)}`);
          const f = from as number[];
          const dim = a.length ? int((a[0] as number) + 1, 'dim') - 1 : 1;
          if (dim !== 1) fail(`only channel concatenation (dim 1) is supported, got ${dim}`);
          const strides = f.map(strideOf);
          if (new Set(strides).size > 1) fail(`inputs ${JSON.stringify(f)} have different strides ${JSON.stringify(strides)}`);
          channels = f.reduce((s, j) => s + (chOf(j) as number), 0);
          make = (device, ctx) => new Concat(device, dim);
          break;
        }
        case 'nn.Upsample': {
          argN(2, 3, 'size, scale_factor, mode');
          if (a[0] !== null) fail('only scale_factor upsampling (size None) is supported');
          if (a[2] !== undefined && a[2] !== 'nearest') fail(`only 'nearest' mode is supported, got ${JSON.stringify(a[2])}`);
          const s = int(a[1], 'scale_factor');
          channels = single('Upsample');
          stride /= s;
          make = (device, ctx) => new Upsample(device, s);
          break;
        }
        case 'Silence':
          channels = single('Silence');
          make = (device, ctx) => new Silence(device);
          break;
        case 'CBLinear': {
          argN(1, 5, 'c2s, k, s, p, g');
          const c1 = single('CBLinear');
          if (!Array.isArray(a[0]) || a[0].length === 0) fail(`first arg must be the list of output widths, got ${JSON.stringify(a[0])}`);
          const c2s = (a[0] as unknown[]).map((c) => int(c, 'width'));
          const [k = 1, s = 1, p = null, g = 1] = a.slice(1) as (number | null)[];
          args = [c1, c2s, ...a.slice(1)];
          channels = c2s;
          stride *= int(s, 's');
          make = (device, ctx) => new CBLinear(device, c1, c2s, ctx, int(k, 'k'), int(s, 's'), p ?? undefined, int(g, 'g'));
          break;
        }
        case 'CBFuse': {
          if (!Array.isArray(from) || from.length < 2) fail(`CBFuse needs 'from' [CBLinear rows…, x], got ${JSON.stringify(spec.from)}`);
          const f = from as number[];
          const idx = Array.isArray(a[0]) ? (a[0] as unknown[]).map((v) => (typeof v === 'number' ? v : fail(`index ${JSON.stringify(v)} is not a number`))) : fail(`first arg must be the index list, got ${JSON.stringify(a[0])}`);
          if (idx.length !== f.length - 1) fail(`${idx.length} indices for ${f.length - 1} CBLinear sources`);
          f.slice(0, -1).forEach((j, k) => {
            const c = chOf(j);
            if (!Array.isArray(c)) fail(`source ${j} is not a CBLinear row`);
            if (idx[k] < 0 || idx[k] >= (c as number[]).length) fail(`index ${idx[k]} is out of range for source ${j} with ${(c as number[]).length} parts`);
          });
          channels = chOf(f[f.length - 1]) as number;
          make = (device, ctx) => new CBFuse(device, idx);
          break;
        }
        case 'DDetect':
        case 'DualDDetect': {
          // a second arg is the input widths the official builder appends in place (checkpoints' yaml has it)
          argN(1, 2, 'nc');
          if (!Array.isArray(from)) fail(`the head needs a list 'from'`);
          const ch = (from as number[]).map((j) => chOf(j) as number);
          if (a.length === 2 && JSON.stringify(a[1]) !== JSON.stringify(ch)) fail(`recorded input widths ${JSON.stringify(a[1])} differ from the graph's ${JSON.stringify(ch)}`);
          const nc = int(a[0], 'nc');
          if (spec.module === 'DualDDetect' && ch.length % 2 !== 0) fail(`DualDDetect needs aux and main inputs (an even count), got ${ch.length}`);
          args = [nc, ch];
          channels = 4 + nc;
          make = (device, ctx) => (spec.module === 'DDetect' ? new DDetect(device, nc, ch, ctx) : new DualDDetect(device, nc, ch, ctx));
          break;
        }
        default: {
          // RepNCSP / RepNBottleneck / RepConvN: outside the official width-scaled set, so their args are
          // taken literally (c1 first) and the output width recorded is the input's, as parse_model does.
          const nums = a.map((v, k) => int(v, `arg ${k}`));
          channels = single(spec.module);
          if (spec.module === 'RepNCSP') make = (device, ctx) => new RepNCSP(device, nums[0], nums[1], ctx, nums[2] ?? 1);
          else if (spec.module === 'RepNBottleneck') make = (device, ctx) => new RepNBottleneck(device, nums[0], nums[1], ctx);
          else make = (device, ctx) => new RepConvN(device, nums[0], nums[1], ctx, nums[2] ?? 3, nums[3] ?? 1, nums[4] ?? 1, nums[5] ?? 1);
          if (nums[0] !== channels) fail(`first arg (input channels) is ${nums[0]} but the input has ${String(channels)}`);
        }
      }
    }
    if (!Number.isInteger(stride) || stride < 1) fail(`upsampling below the input resolution (stride ${stride})`);
    makers.push(make);
    rows.push({ index: i, from, n, module: spec.module, args, channels, stride, params: 0, line: spec.line });
  }
  return { rows, makers };
}
