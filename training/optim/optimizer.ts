// SGD with Nesterov momentum (the official default) and AdamW (amsgrad, as the official option), over the
// official parameter groups, with global gradient-norm clipping. Every update is an in-place GPU kernel over
// several parameters per dispatch (kernels/optim.wgsl.ts); the clip factor stays on the GPU, so a step records
// work and never waits. Optimiser state lives in arenas (one buffer per state slot and arena) so that it costs
// no binding per parameter; `state` hands out views of them.
import type { GradScaler } from './grad-scaler';
import { OPT_WG, clipFactorKernel } from '../../kernels/optim.wgsl';
import type { Device } from '../../engine/device';
import { type Tensor, empty, noGrad, view } from '../../engine/tensor';
import { copyInto, full, reshape, runKernel, zeros } from '../../engine/ops';
import { contiguousStrides } from '../../engine/shape';
import type { Module } from '../../models/module';
import { type GroupName, type ParamRef, GROUP_ORDER, parameterGroups } from './groups';
import { assertFlat, batches, dispatchMulti, slotsFor, workgroupsFor } from './multi-tensor';

export interface GroupSettings {
  lr: number;
  momentum: number;
  weightDecay: number;
}

/** An optimiser the trainer offers. */
export type OptimizerName = 'SGD' | 'AdamW';

/** Options of Optimizer. */
export interface OptimizerOptions {
  readonly name?: OptimizerName;
  readonly lr: number;
  /** SGD momentum / Adam β1. */
  readonly momentum: number;
  /** Decay of group 'weight' (already scaled to the nominal batch by the caller). */
  readonly weightDecay: number;
  /** Clip the global L2 norm of all gradients to this (official: 10). 0 disables. */
  readonly maxGradNorm?: number;
}

interface Live {
  readonly ref: ParamRef;
  readonly p: Tensor;
  readonly g: Tensor;
}

/** Where a parameter's state lives: elements [offset, offset + size) of each state slot's buffer of one arena. */
interface Segment {
  readonly arena: number;
  readonly offset: number;
  readonly size: number;
  readonly shape: readonly number[];
}

interface StateArenas {
  /** Per arena, one buffer (a dense tensor) per state slot. */
  readonly bases: Tensor[][];
  readonly segments: Map<string, Segment>;
}

/** SGD, Adam or AdamW over the official parameter groups (weights with decay, BatchNorm weights and biases without), stepped by GPU kernels. */
export class Optimizer {
  readonly name: OptimizerName;
  readonly groups: Record<GroupName, GroupSettings>;
  readonly refs: readonly ParamRef[];
  readonly maxGradNorm: number;
  /**
   * Per parameter key: momentum buffer (SGD) or [m, v, vmax] (AdamW), views of the arenas. Tensors put here
   * from outside (a restored checkpoint) are moved into the arenas at the next step.
   */
  readonly state = new Map<string, Tensor[]>();
  /** Completed steps (Adam's t; SGD's first-step test). */
  steps = 0;
  /** The clip factor of the last step (a 1-element GPU tensor), for inspection. */
  lastClip: Tensor | null = null;
  private arenas: StateArenas | null = null;
  /** The views of `state` this optimiser made (to notice entries replaced from outside). */
  private issued = new Map<string, Tensor[]>();

  constructor(private readonly model: Module, o: OptimizerOptions) {
    this.name = o.name ?? 'SGD';
    const g = parameterGroups(model);
    this.refs = GROUP_ORDER.flatMap((k) => g[k]);
    this.groups = {
      bias: { lr: o.lr, momentum: o.momentum, weightDecay: 0 },
      weight: { lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay },
      bn: { lr: o.lr, momentum: o.momentum, weightDecay: 0 },
    };
    this.maxGradNorm = o.maxGradNorm ?? 10;
  }

  private get device(): Device {
    return this.model.device;
  }

  /** Parameters that have a gradient now, with their settings. */
  private live(): Live[] {
    const params = new Map([...this.model.namedParameters()]);
    const out: Live[] = [];
    for (const ref of this.refs) {
      const p = params.get(ref.key);
      if (!p?.grad) continue;
      assertFlat(`optimizer: ${ref.key}`, p);
      assertFlat(`optimizer: gradient of ${ref.key}`, p.grad);
      out.push({ ref, p, g: p.grad });
    }
    return out;
  }

  /**
   * min(1, max / (‖g‖₂ + 1e-6)) over all gradients, as a (1) tensor (torch.nn.utils.clip_grad_norm_): partial
   * sums of squares (OPT_WG per workgroup), several gradients per dispatch, then one dispatch for the factor.
   * Under loss scaling the factor also unscales, or is −1 (skip the step) when the scaled gradients overflowed,
   * and the scaler's state is updated on the GPU.
   */
  private clipFactor(grads: readonly Tensor[], scaler: GradScaler | null): Tensor {
    const dev = this.device;
    const clip = this.maxGradNorm > 0;
    if ((!clip && !scaler) || grads.length === 0) return full(dev, [1], 1);
    const count = OPT_WG * grads.reduce((a, g) => a + workgroupsFor('sumsq', g.size), 0);
    const partials = empty(dev, [Math.max(count, 1)], 'f32', 'optimizer');
    let base = 0;
    for (const b of batches(grads, slotsFor(dev, 'sumsq'))) {
      base += dispatchMulti('sumsq', b.map((g) => ({ tensors: { g }, n: g.size })), { partials }, { base });
    }
    const factor = empty(dev, [1], 'f32', 'optimizer');
    runKernel(
      clipFactorKernel({ lossScale: scaler !== null }),
      { partials, scale: factor, ...(scaler ? { ls: scaler.state } : {}) },
      { count, maxNorm: clip ? this.maxGradNorm : 3e38, growth: scaler?.growthInterval ?? 0 },
      { workgroups: [1, 1, 1] },
    );
    partials.dispose();
    return factor;
  }

  /** State tensors per parameter: 1 (SGD momentum) or 3 (AdamW m, v, v̂max). */
  private get slotCount(): number {
    return this.name === 'SGD' ? 1 : 3;
  }

  /**
   * The arenas, (re)built when missing, when a parameter changed size, or when `state` was changed from outside
   * (a checkpoint restored into it): what `state` holds then is copied into fresh arenas.
   */
  private arenasFor(live: readonly Live[]): StateArenas {
    const a = this.arenas;
    const valid =
      a !== null &&
      live.every((x) => a.segments.get(x.ref.key)?.size === x.p.size) &&
      [...this.issued].every(([k, v]) => this.state.get(k) === v) &&
      [...this.state.keys()].every((k) => this.issued.has(k) || !a.segments.has(k));
    if (valid) return a;
    const dev = this.device;
    const params = new Map([...this.model.namedParameters()]);
    // greedy packing in group order; an arena never exceeds what one binding may cover
    const cap = Math.floor(Math.min(dev.limits.maxStorageBufferBindingSize, dev.limits.maxBufferSize) / 4);
    const segments = new Map<string, Segment>();
    const used: number[] = [];
    for (const ref of this.refs) {
      const p = params.get(ref.key);
      if (!p) continue;
      if (used.length === 0 || used[used.length - 1] + p.size > cap) used.push(0);
      segments.set(ref.key, { arena: used.length - 1, offset: used[used.length - 1], size: p.size, shape: p.shape });
      used[used.length - 1] += p.size;
    }
    const next: StateArenas = { bases: used.map((u) => Array.from({ length: this.slotCount }, () => zeros(dev, [Math.max(u, 1)]).keep())), segments };
    const issued = new Map<string, Tensor[]>();
    for (const [key, slots] of [...this.state]) {
      const at = segments.get(key);
      if (!at) continue;
      if (slots.length !== this.slotCount || slots.some((t) => t.size !== at.size || t.dtype !== 'f32' || !t.isContiguous)) {
        throw new Error(`optimizer: state of ${key} is [${slots.map((t) => t.toString()).join(', ')}]; ${this.name} needs ${this.slotCount} dense float32 tensors of ${at.size} elements`);
      }
      const views = slots.map((t, i) => {
        const base = next.bases[at.arena][i];
        const seg = view(base, at.shape, contiguousStrides(at.shape), at.offset).keep();
        // restored state may come flat: same elements, the parameter's shape
        const src = reshape(t, at.shape);
        copyInto(seg, src);
        src.dispose();
        return seg;
      });
      slots.forEach((t) => t.dispose());
      this.state.set(key, views);
      issued.set(key, views);
    }
    a?.bases.flat().forEach((t) => t.dispose());
    this.arenas = next;
    this.issued = issued;
    return next;
  }

  /** Views of `key`'s arena segments, handed out on its first step (the segment is still zero then). */
  private stateViews(key: string, arenas: StateArenas): void {
    if (this.state.has(key)) return;
    const at = arenas.segments.get(key)!;
    const views = arenas.bases[at.arena].map((b) => view(b, at.shape, contiguousStrides(at.shape), at.offset).keep());
    this.state.set(key, views);
    this.issued.set(key, views);
  }

  /**
   * One update of every parameter with a gradient; gradients are left in place (call zeroGrad()). With a
   * GradScaler (mixed precision), the gradients are those of scaler.scale(loss): they are unscaled, and the step
   * is skipped (parameters and state untouched) when they overflowed; the scale adapts on the GPU.
   */
  step(scaler: GradScaler | null = null): void {
    const dev = this.device;
    noGrad(dev, () => {
      const live = this.live();
      const arenas = this.arenasFor(live);
      const factor = this.clipFactor(live.map((x) => x.g), scaler).keep();
      this.lastClip?.dispose();
      this.lastClip = factor;
      const t = this.steps + 1;
      const kind = this.name === 'SGD' ? 'sgd' : 'adamw';
      const seg = (x: Live): Segment => arenas.segments.get(x.ref.key)!;
      // one dispatch per run of parameters sharing group settings and arena
      for (const b of batches(live, slotsFor(dev, kind), (x) => `${x.ref.group}:${seg(x).arena}`)) {
        const s = this.groups[b[0].ref.group];
        const slots = b.map((x) => {
          this.stateViews(x.ref.key, arenas);
          return { tensors: { w: x.p, g: x.g }, n: x.p.size, offset: seg(x).offset };
        });
        // the state arenas in the kernel's order: SGD's momentum buffer, or AdamW's m, v, v̂max
        const states = kind === 'sgd' ? ['buf'] : ['m', 'v', 'vmax'];
        const shared = { ...Object.fromEntries(arenas.bases[seg(b[0]).arena].map((a, i) => [states[i], a])), scale: factor };
        if (kind === 'sgd') {
          dispatchMulti('sgd', slots, shared, { first: this.steps === 0 ? 1 : 0, lr: s.lr, momentum: s.momentum, wd: s.weightDecay }, { nesterov: true });
        } else {
          const b1 = s.momentum;
          const b2 = 0.999;
          dispatchMulti('adamw', slots, shared, { lr: s.lr, beta1: b1, beta2: b2, eps: 1e-8, wd: s.weightDecay, bc1: 1 - b1 ** t, bc2sqrt: Math.sqrt(1 - b2 ** t) });
        }
      }
    });
    this.steps++;
  }

  /** Clears the gradients of every parameter. */
  zeroGrad(): void {
    for (const [, p] of this.model.namedParameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees the optimiser state (moments, momentum buffers). */
  dispose(): void {
    for (const st of this.state.values()) st.forEach((t) => t.dispose());
    this.state.clear();
    this.issued.clear();
    this.arenas?.bases.flat().forEach((t) => t.dispose());
    this.arenas = null;
    this.lastClip?.dispose();
    this.lastClip = null;
  }
}
