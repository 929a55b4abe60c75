// The training loop of the official train.py / train_dual.py: warmup of lr, momentum and gradient
// accumulation to the nominal batch 64, SGD/AdamW over the official groups, grad-norm clipping at 10, EMA,
// per-epoch LR schedule, close-mosaic for the last epochs, validation of the EMA model. One loop for every
// front end: the CLI's progress bars and the demo page's charts subscribe to its events.
import { GradScaler } from './optim/grad-scaler';
import type { TileSearchOptions } from '../engine/tile-search';
import { tensor, tidy } from '../engine/tensor';
import type { DetectionModel } from '../models/yolo';
import type { DataLoader } from './data/loader';
import { detectionLoss } from './loss/detection-loss';
import { type OptimizerName, Optimizer } from './optim/optimizer';
import { ModelEMA } from './optim/ema';
import { type ScheduleKind, lrLambda, nominalBatch, pyRound, warmup } from './optim/schedule';
import type { Hyp } from './hyp';
import { type ValResult, validate } from './validate';
import { fitness } from './metrics/map';
import { type CheckpointMeta, type LoadedCheckpoint, type TrainState, restoreCheckpoint, saveCheckpoint } from './checkpoint';

/** Options of Trainer. */
export interface TrainerOptions {
  epochs: number;
  readonly hyp: Hyp;
  readonly optimizer?: OptimizerName;
  readonly schedule?: ScheduleKind;
  /** Epochs at the end trained without mosaic (official --close-mosaic). */
  readonly closeMosaic?: number;
  /** Validate every N epochs and after the last (0: only after the last). */
  readonly valEvery?: number;
  /** Nominal batch reached by gradient accumulation (official 64). */
  readonly nominalBatch?: number;
  /** Shortest warmup in iterations (official 100). */
  readonly minWarmupIters?: number;
  /** Free-form options recorded in checkpoints (CLI arguments). */
  readonly record?: Record<string, unknown>;
  /**
   * Progress of the tile search, which runs after a step that met shapes without a measured tiling (only when
   * the device was created with tileSearch; see Device.tiles).
   */
  readonly onTileSearch?: TileSearchOptions['onProgress'];
  /**
   * Mixed precision: f16 activations with f32 master weights (DetectionModel.setMixedPrecision) and dynamic loss
   * scaling (GradScaler). Needs shader-f16.
   */
  readonly mixedPrecision?: boolean;
  /** Loss scale mixed precision starts from (default 2^16, as PyTorch; it adapts on overflow). */
  readonly initialLossScale?: number;
}

/** What Trainer.onStep listeners receive after each batch. */
export interface StepEvent {
  readonly epoch: number;
  readonly batch: number;
  readonly batches: number;
  readonly iteration: number;
  /** Loss items of this batch [box, cls, dfl] and their running means over the epoch. */
  readonly items: readonly number[];
  readonly mean: readonly number[];
  readonly imagesPerSecond: number;
  readonly lr: readonly number[];
  readonly optimizerStep: boolean;
}

/** What Trainer.onEpoch listeners receive after each epoch. */
export interface EpochEvent {
  readonly epoch: number;
  readonly epochs: number;
  readonly train: readonly number[];
  readonly val: ValResult | null;
  /** Whether this epoch's validation is the best so far (by fitness; ties go to the later epoch): save best.* then. */
  readonly best: boolean;
  readonly lr: readonly number[];
  readonly seconds: number;
}

type Listener<T> = (e: T) => void | Promise<void>;

/** The training loop of the official train.py: warm-up, schedule, EMA, gradient accumulation, validation, best/last checkpoints, with step and epoch events. */
export class Trainer {
  readonly optimizer: Optimizer;
  readonly ema: ModelEMA;
  readonly state: TrainState = { epoch: 0, iteration: 0, lastOptStep: -1, bestFitness: 0 };
  private readonly stepListeners = new Set<Listener<StepEvent>>();
  private readonly epochListeners = new Set<Listener<EpochEvent>>();
  private stopRequested = false;
  private readonly accumulateNominal: number;
  private readonly schedule: ScheduleKind;

  constructor(
    readonly model: DetectionModel,
    readonly train: DataLoader,
    readonly val: DataLoader | null,
    readonly options: TrainerOptions,
  ) {
    const nb = nominalBatch(train.batchSize, options.hyp.weight_decay, options.nominalBatch);
    this.accumulateNominal = nb.accumulate;
    this.schedule = options.schedule ?? 'linear';
    this.optimizer = new Optimizer(model, { name: options.optimizer ?? 'SGD', lr: options.hyp.lr0, momentum: options.hyp.momentum, weightDecay: nb.weightDecay });
    this.ema = new ModelEMA(model);
    if (options.mixedPrecision) {
      model.setMixedPrecision(true);
      this.scaler = new GradScaler(model.device, { initScale: options.initialLossScale });
    }
  }

  /** The loss scaler of mixed-precision training (null in f32). */
  readonly scaler: GradScaler | null = null;

  /** Calls `fn` after every batch; returns a function that removes it. */
  onStep(fn: Listener<StepEvent>): () => void {
    this.stepListeners.add(fn);
    return () => this.stepListeners.delete(fn);
  }

  /** Calls `fn` after every epoch (with its validation when run); returns a function that removes it. */
  onEpoch(fn: Listener<EpochEvent>): () => void {
    this.epochListeners.add(fn);
    return () => this.epochListeners.delete(fn);
  }

  /** Ask the loop to stop after the current batch (pause); run() resolves and can be called again. */
  stop(): void {
    this.stopRequested = true;
  }

  /** Continues from a checkpoint: weights, EMA, optimiser state and epoch (exact resume). */
  resume(ck: LoadedCheckpoint, file: string): void {
    restoreCheckpoint(ck, file, this.model, this.ema, this.optimizer);
    Object.assign(this.state, ck.meta.state);
  }

  /** The current state as checkpoint bytes (safetensors), `names` being the class names stored in it. */
  checkpoint(names: readonly string[]): Promise<Uint8Array> {
    const meta: CheckpointMeta = { state: { ...this.state }, hyp: this.options.hyp, options: this.options.record ?? {}, names };
    return saveCheckpoint(this.model, this.ema, this.optimizer, meta);
  }

  private groupLrs(lambda: number, ni: number, warmupIters: number): { lr: number[]; momentum: number; accumulate: number } {
    const h = this.options.hyp;
    const w = warmup(ni, lambda, { lr0: h.lr0, momentum: h.momentum, warmupBiasLr: h.warmup_bias_lr, warmupMomentum: h.warmup_momentum, warmupIters, batch: this.train.batchSize, nominalBatch: this.options.nominalBatch });
    if (w) return { lr: [w.lr.bias, w.lr.weight, w.lr.bn], momentum: w.momentum, accumulate: w.accumulate };
    const lr = h.lr0 * lambda;
    return { lr: [lr, lr, lr], momentum: h.momentum, accumulate: this.accumulateNominal };
  }

  /** Train until `epochs` (or stop()); resolves with the state reached. */
  async run(): Promise<TrainState> {
    this.stopRequested = false;
    const { hyp } = this.options;
    const nb = this.train.length;
    const warmupIters = Math.max(pyRound(hyp.warmup_epochs * nb), this.options.minWarmupIters ?? 100);
    const dev = this.model.device;
    // read each epoch: a caller may shorten the run (e.g. to a time budget) from an epoch listener
    while (this.state.epoch < this.options.epochs && !this.stopRequested) {
      const epochs = this.options.epochs;
      const closeAt = epochs - (this.options.closeMosaic ?? 0);
      const epoch = this.state.epoch;
      const t0 = performance.now();
      if (epoch >= closeAt && this.train.mosaic) this.train.closeMosaic();
      this.model.train();
      const lambda = lrLambda(this.schedule, epoch, epochs, hyp.lrf);
      const sum = [0, 0, 0];
      let count = 0;
      let lastLr = [0, 0, 0];
      const first = this.state.iteration - epoch * nb;
      let pending: { items: Promise<Float32Array>; i: number; t: number; lr: number[]; stepped: boolean; images: number } | null = null;
      // steps overlap (a step's losses are read while the next one runs), so throughput is images per interval
      // between consecutive reports, not per step start to its report (that spans two steps)
      let lastReport: number | null = null;
      const report = async (p: NonNullable<typeof pending>): Promise<void> => {
        const items = Array.from(await p.items);
        const now = performance.now();
        const since = lastReport ?? p.t;
        lastReport = now;
        if (items.some((v) => !Number.isFinite(v))) throw new Error(`training diverged at epoch ${epoch} batch ${p.i}: loss items ${items.join(', ')} (lower lr0 or check the data)`);
        items.forEach((v, k) => (sum[k] += v));
        count++;
        const e: StepEvent = {
          epoch,
          batch: p.i,
          batches: nb,
          iteration: epoch * nb + p.i,
          items,
          mean: sum.map((v) => v / count),
          imagesPerSecond: p.images / ((now - since) / 1000),
          lr: p.lr,
          optimizerStep: p.stepped,
        };
        for (const l of this.stepListeners) await l(e);
      };
      let next = first < nb ? this.train.batch(epoch, first) : null;
      for (let i = first; i < nb && next && !this.stopRequested; i++) {
        const batch = await next;
        const t = performance.now();
        const ni = i + nb * epoch;
        const g = this.groupLrs(lambda, ni, warmupIters);
        this.optimizer.groups.bias.lr = g.lr[0];
        this.optimizer.groups.weight.lr = g.lr[1];
        this.optimizer.groups.bn.lr = g.lr[2];
        for (const k of ['bias', 'weight', 'bn'] as const) this.optimizer.groups[k].momentum = g.momentum;
        lastLr = g.lr;
        const stepNow = ni - this.state.lastOptStep >= g.accumulate;
        const items = tidy(dev, () => {
          const out = this.model.forward(tensor(dev, batch.images, batch.shape));
          const { loss, items } = detectionLoss(out, batch.targets, this.model.head.strides, this.model.nc);
          (this.scaler ? this.scaler.scale(loss) : loss).backward();
          if (stepNow) {
            this.optimizer.step(this.scaler);
            this.optimizer.zeroGrad();
            this.ema.update(this.model);
          }
          return items;
        });
        if (stepNow) this.state.lastOptStep = ni;
        this.state.iteration = ni + 1;
        if (dev.tiles.pendingCount > 0) await dev.tiles.run({ onProgress: this.options.onTileSearch });
        // Overlap: load the next batch on the CPU while the GPU runs this step, then report the previous one.
        next = i + 1 < nb ? this.train.batch(epoch, i + 1) : null;
        const readItems = items.data().finally(() => items.dispose());
        if (pending) await report(pending);
        pending = { items: readItems, i, t, lr: g.lr, stepped: stepNow, images: batch.shape[0] };
      }
      if (pending) await report(pending);
      if (this.stopRequested && this.state.iteration < (epoch + 1) * nb) break;
      const last = epoch === epochs - 1;
      const every = this.options.valEvery ?? 1;
      let val: ValResult | null = null;
      let best = false;
      if (this.val && (last || (every > 0 && (epoch + 1) % every === 0))) {
        val = (await validate(this.ema.ema, this.val)).result;
        const f = fitness(val);
        best = f >= this.state.bestFitness;
        this.state.bestFitness = Math.max(this.state.bestFitness, f);
      }
      this.state.epoch = epoch + 1;
      const ev: EpochEvent = { epoch, epochs, train: sum.map((v) => v / Math.max(count, 1)), val, best, lr: lastLr, seconds: (performance.now() - t0) / 1000 };
      for (const l of this.epochListeners) await l(ev);
    }
    return { ...this.state };
  }

  /** Frees the optimiser, the EMA and the gradient scaler (not the model). */
  dispose(): void {
    this.optimizer.dispose();
    this.ema.dispose();
    this.scaler?.dispose();
  }
}
