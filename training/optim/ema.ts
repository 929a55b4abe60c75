// Model EMA (official ModelEMA): after every optimiser step, every floating state tensor — parameters and
// BatchNorm running statistics — moves toward the model's: e = d·e + (1 − d)·x with d(u) = 0.9999·(1 − e^(−u/2000)).
// The average lives in an arena (training/optim/multi-tensor.ts): the model's state is copied next to it and one
// dispatch updates it all; the averaged model's own tensors are written from the arena only when it is used.
import { copy } from '../../engine/ops';
import { type Tensor, empty, noGrad } from '../../engine/tensor';
import { DetectionModel } from '../../models/yolo';
import type { Module } from '../../models/module';
import { type ArenaLayout, assertFlat, dispatchRuns, gather, layoutFits, packArenas, runsOf, scatter } from './multi-tensor';

/** The EMA decay after `updates` updates: decay · (1 − e^(−updates/tau)), as the official ModelEMA. */
export const emaDecay = (updates: number, decay = 0.9999, tau = 2000): number => decay * (1 - Math.exp(-updates / tau));

/** An exponential moving average of a model's weights (the official ModelEMA), used for validation and the saved weights. */
export class ModelEMA<M extends Module = DetectionModel> {
  updates: number;
  private readonly averaged: M;
  private layout: ArenaLayout | null = null;
  private arenas: Tensor[] = [];
  /** Whether the arenas hold a newer average than the averaged model's tensors. */
  private arenaAhead = false;

  /** `make` builds an empty model of the same structure (default: a DetectionModel of the same config). */
  constructor(model: M, updates = 0, make?: () => M) {
    const d = model as unknown as DetectionModel;
    this.averaged = make ? make() : (new DetectionModel(d.device, d.config, () => 0, d.inputChannels) as unknown as M);
    this.averaged.eval();
    this.updates = updates;
    noGrad(model.device, () => {
      for (const [k, t] of model.stateEntries()) this.averaged.setTensor(k, copy(t));
    });
  }

  /** The averaged model, up to date (its tensors may be read or replaced, e.g. by a restored checkpoint). */
  get ema(): M {
    if (this.arenaAhead && this.layout) {
      for (const [k, t] of this.averaged.stateEntries()) {
        const at = this.layout.segments.get(k)!;
        scatter(this.arenas[at.arena], at, t);
      }
    }
    this.arenaAhead = false;
    return this.averaged;
  }

  /** Moves the average towards `model`'s current weights. */
  update(model: M): void {
    const dev = model.device;
    const entries = (m: M): Map<string, Tensor> => new Map([...m.stateEntries()].map(([k, t]) => [k, t] as const));
    const mine = entries(this.averaged);
    const src = entries(model);
    for (const [k, e] of mine) {
      const x = src.get(k);
      if (!x || x.size !== e.size) throw new Error(`ModelEMA: model has no state tensor '${k}' of ${e.size} elements`);
      assertFlat(`ModelEMA: ${k}`, e);
      assertFlat(`ModelEMA: model ${k}`, x);
    }
    if (!this.arenaAhead || !layoutFits(this.layout, mine)) {
      // first update, or the averaged model was handed out (and maybe changed) since: the arenas start from it
      this.arenas.forEach((t) => t.dispose());
      this.layout = packArenas(dev, mine);
      this.arenas = this.layout.sizes.map((n) => empty(dev, [Math.max(n, 1)], 'f32', 'ema').keep());
      for (const [k, e] of mine) {
        const at = this.layout.segments.get(k)!;
        gather(this.arenas[at.arena], at, e);
      }
    }
    const layout = this.layout!;
    this.updates++;
    const d = emaDecay(this.updates);
    const runs = runsOf(layout, [...mine.keys()]);
    noGrad(dev, () => {
      this.arenas.forEach((e, arena) => {
        const x = empty(dev, [e.size], 'f32', 'ema');
        for (const [k, t] of src) {
          const at = layout.segments.get(k);
          if (at?.arena === arena) gather(x, at, t);
        }
        dispatchRuns('ema', runs.filter((r) => r.arena === arena), { e, x }, { d });
        x.dispose();
      });
    });
    this.arenaAhead = true;
  }

  /** Frees the averaged model and its arenas. */
  dispose(): void {
    this.arenas.forEach((t) => t.dispose());
    this.arenas = [];
    this.averaged.dispose();
  }
}
