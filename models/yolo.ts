// DetectionModel: builds the graph of a model YAML on the engine with the official channel bookkeeping
// (parse_model), runs it row by row, and reports its layer table, parameter count and FLOPs.
import type { Device } from '../engine/device';
import type { Tensor } from '../engine/tensor';
import type { DType } from '../kernels/common';
import { cast } from '../engine/ops/elementwise';
import { OpError, fmtShape } from '../engine/errors';
import { type Value, Block, Module } from './module';
import { Conv2d } from './layers';
import { CBFuse, type Ctx, type Rand, RepConvN, Sequential } from './blocks';
import { type BranchOutput, DDetect, DualDDetect, type Head } from './heads';
import { ConfigError, type ModelConfig } from './config';
import { type ResolvedRow, planModel } from './plan';

export { type ModelPlan, type ResolvedRow, SUPPORTED_MODULES, planModel } from './plan';

/** What DetectionModel.forward() returns: the main branch and, for PGI models, the auxiliary one. */
export interface ModelOutput {
  /** The branch used for inference (the only one for GELAN, the main one for YOLOv9). */
  readonly main: BranchOutput;
  /** The PGI auxiliary branch (dual-head models only). */
  readonly aux: BranchOutput | null;
}

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
