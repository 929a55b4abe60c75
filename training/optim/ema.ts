// Model EMA (official ModelEMA): after every optimiser step, every floating state tensor — parameters and
// BatchNorm running statistics — moves toward the model's: e = d·e + (1 − d)·x with d(u) = 0.9999·(1 − e^(−u/2000)),
// several tensors per dispatch.
import { copy } from '../../engine/ops';
import { noGrad } from '../../engine/tensor';
import { DetectionModel } from '../../models/yolo';
import type { Module } from '../../models/module';
import { assertFlat, batches, dispatchMulti, slotsFor } from './multi-tensor';

/** The EMA decay after `updates` updates: decay · (1 − e^(−updates/tau)), as the official ModelEMA. */
export const emaDecay = (updates: number, decay = 0.9999, tau = 2000): number => decay * (1 - Math.exp(-updates / tau));

/** An exponential moving average of a model's weights (the official ModelEMA), used for validation and the saved weights. */
export class ModelEMA<M extends Module = DetectionModel> {
  readonly ema: M;
  updates: number;

  /** `make` builds an empty model of the same structure (default: a DetectionModel of the same config). */
  constructor(model: M, updates = 0, make?: () => M) {
    const d = model as unknown as DetectionModel;
    this.ema = make ? make() : (new DetectionModel(d.device, d.config, () => 0, d.inputChannels) as unknown as M);
    this.ema.eval();
    this.updates = updates;
    noGrad(model.device, () => {
      for (const [k, t] of model.stateEntries()) this.ema.setTensor(k, copy(t));
    });
  }

  /** Moves the average towards `model`'s current weights. */
  update(model: M): void {
    const dev = model.device;
    const src = new Map([...model.stateEntries()].map(([k, t]) => [k, t] as const));
    const pairs = [...this.ema.stateEntries()].map(([k, e]) => {
      const x = src.get(k);
      if (!x || x.size !== e.size) throw new Error(`ModelEMA: model has no state tensor '${k}' of ${e.size} elements`);
      assertFlat(`ModelEMA: ${k}`, e);
      assertFlat(`ModelEMA: model ${k}`, x);
      return { tensors: { e, x }, n: e.size };
    });
    this.updates++;
    const d = emaDecay(this.updates);
    for (const b of batches(pairs, slotsFor(dev, 'ema'))) dispatchMulti('ema', b, {}, { d });
  }

  /** Frees the averaged model. */
  dispose(): void {
    this.ema.dispose();
  }
}
