// SGD with Nesterov momentum (the official default) and AdamW (amsgrad, as the official option), over the
// official parameter groups, with global gradient-norm clipping. Every update is an in-place GPU kernel over
// arenas (kernels/optim.wgsl.ts): the parameters and gradients are copied into one buffer each (buffer copies, not
// dispatches), updated by one dispatch per parameter group and copied back, and the state lives in arenas of the
// same layout, so a step costs a handful of dispatches whatever the model's size. The clip factor stays on the
// GPU, so a step records work and never waits; `state` hands out views of the state arenas.
import type { GradScaler } from './grad-scaler';
import { OPT_WG, clipFactorKernel } from '../../kernels/optim.wgsl';
import type { Device } from '../../engine/device';
import { type Tensor, empty, noGrad, view } from '../../engine/tensor';
import { copyInto, full, reshape, runKernel, zeros } from '../../engine/ops';
import { contiguousStrides } from '../../engine/shape';
import type { Module } from '../../models/module';
import { type GroupName, type ParamRef, GROUP_ORDER, parameterGroups } from './groups';
import { type ArenaLayout, type Run, assertFlat, dispatchRuns, gather, layoutFits, packArenas, runsOf, scatter, workgroupsFor } from './multi-tensor';

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

interface StateArenas {
  readonly layout: ArenaLayout;
  /** Per arena, one buffer (a dense tensor) per state slot. */
  readonly bases: Tensor[][];
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

  /**
   * min(1, max / (‖g‖₂ + 1e-6)) over all gradients, as a (1) tensor (torch.nn.utils.clip_grad_norm_): partial
   * sums of squares over the gradient arenas (OPT_WG per workgroup), then one dispatch for the factor. Under loss
   * scaling the factor also unscales, or is −1 (skip the step) when the scaled gradients overflowed, and the
   * scaler's state is updated on the GPU.
   */
  private clipFactor(grads: readonly Tensor[], runs: readonly Run[], scaler: GradScaler | null): Tensor {
    const dev = this.device;
    const clip = this.maxGradNorm > 0;
    if ((!clip && !scaler) || runs.length === 0) return full(dev, [1], 1);
    const count = OPT_WG * runs.reduce((a, r) => a + workgroupsFor('sumsq', r.n), 0);
    const partials = empty(dev, [count], 'f32', 'optimizer');
    let base = 0;
    grads.forEach((g, arena) => {
      const mine = runs.filter((r) => r.arena === arena);
      if (mine.length > 0) base += dispatchRuns('sumsq', mine, { g, partials }, { base });
    });
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
   * The state arenas, (re)built when missing, when the parameters changed (added, removed, resized), or when
   * `state` was changed from outside (a checkpoint restored into it): what `state` holds then is copied into
   * fresh arenas.
   */
  private arenasFor(params: ReadonlyMap<string, Tensor>): StateArenas {
    const a = this.arenas;
    // in group order, so that each group's parameters form one run
    const items = new Map(this.refs.flatMap((r) => (params.has(r.key) ? [[r.key, params.get(r.key)!] as const] : [])));
    const valid =
      a !== null &&
      layoutFits(a.layout, items) &&
      [...this.issued].every(([k, v]) => this.state.get(k) === v) &&
      [...this.state.keys()].every((k) => this.issued.has(k) || !a.layout.segments.has(k));
    if (valid) return a;
    const dev = this.device;
    const layout = packArenas(dev, items);
    const next: StateArenas = { layout, bases: layout.sizes.map((u) => Array.from({ length: this.slotCount }, () => zeros(dev, [Math.max(u, 1)]).keep())) };
    const issued = new Map<string, Tensor[]>();
    for (const [key, slots] of [...this.state]) {
      const at = layout.segments.get(key);
      if (!at) continue;
      if (slots.length !== this.slotCount || slots.some((t) => t.size !== at.size || t.dtype !== 'f32' || !t.isContiguous)) {
        throw new Error(`optimizer: state of ${key} is [${slots.map((t) => t.toString()).join(', ')}]; ${this.name} needs ${this.slotCount} dense float32 tensors of ${at.size} elements`);
      }
      const views = slots.map((t, i) => {
        const seg = view(next.bases[at.arena][i], at.shape, contiguousStrides(at.shape), at.offset).keep();
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
    const at = arenas.layout.segments.get(key)!;
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
      const params = new Map([...this.model.namedParameters()]);
      const arenas = this.arenasFor(params);
      const { segments, sizes } = arenas.layout;
      const live: Live[] = [];
      for (const ref of this.refs) {
        const p = params.get(ref.key);
        if (!p?.grad) continue;
        assertFlat(`optimizer: ${ref.key}`, p);
        assertFlat(`optimizer: gradient of ${ref.key}`, p.grad);
        live.push({ ref, p, g: p.grad });
      }
      // this step's parameters and gradients, gathered into arenas of the state's layout
      const w = sizes.map((n) => empty(dev, [Math.max(n, 1)], 'f32', 'optimizer'));
      const g = sizes.map((n) => empty(dev, [Math.max(n, 1)], 'f32', 'optimizer'));
      for (const x of live) {
        const at = segments.get(x.ref.key)!;
        gather(w[at.arena], at, x.p);
        gather(g[at.arena], at, x.g);
        this.stateViews(x.ref.key, arenas);
      }
      const groupOf = new Map(live.map((x) => [x.ref.key, x.ref.group]));
      const runs = runsOf(arenas.layout, [...groupOf.keys()], (k) => groupOf.get(k)!);
      const factor = this.clipFactor(g, runs, scaler).keep();
      this.lastClip?.dispose();
      this.lastClip = factor;
      const t = this.steps + 1;
      const kind = this.name === 'SGD' ? 'sgd' : 'adamw';
      // the state arenas in the kernel's order: SGD's momentum buffer, or AdamW's m, v, v̂max
      const states = kind === 'sgd' ? ['buf'] : ['m', 'v', 'vmax'];
      for (const group of GROUP_ORDER) {
        const s = this.groups[group];
        sizes.forEach((_, arena) => {
          const mine = runs.filter((r) => r.arena === arena && r.tag === group);
          if (mine.length === 0) return;
          const bound = { w: w[arena], g: g[arena], ...Object.fromEntries(arenas.bases[arena].map((b, i) => [states[i], b])), scale: factor };
          if (kind === 'sgd') {
            dispatchRuns('sgd', mine, bound, { first: this.steps === 0 ? 1 : 0, lr: s.lr, momentum: s.momentum, wd: s.weightDecay }, { nesterov: true });
          } else {
            const b1 = s.momentum;
            const b2 = 0.999;
            dispatchRuns('adamw', mine, bound, { lr: s.lr, beta1: b1, beta2: b2, eps: 1e-8, wd: s.weightDecay, bc1: 1 - b1 ** t, bc2sqrt: Math.sqrt(1 - b2 ** t) });
          }
        });
      }
      for (const x of live) {
        const at = segments.get(x.ref.key)!;
        scatter(w[at.arena], at, x.p);
      }
      [...w, ...g].forEach((b) => b.dispose());
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
