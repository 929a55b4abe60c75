// Images per second of full training steps of one of our models, measured the same way in Node and in a page:
// forward, detection loss (both branches for dual-head models), backward, SGD step (official groups, gradient
// clipping), zero_grad, EMA update — what the trainer records per optimiser step, on one fixed synthetic batch.
// Per step: wall time (recording until the loss items are read back), host time (the JS that records the step) and
// GPU time; dispatches are counted on one more step. No Node-only imports: the page bundles this file too.
import { type Device, tensor, tidy } from '../engine';
import { mulberry32 } from '../engine/random';
import { createModel } from '../models';
import { detectionLoss } from '../training/loss/detection-loss';
import { ModelEMA } from '../training/optim/ema';
import { Optimizer } from '../training/optim/optimizer';
import type { GpuTimer } from './gpu-timer';
import { stats } from './harness';

export interface TrainConfig {
  readonly cfg: string;
  readonly imgsz: number;
  readonly batch: number;
  readonly nc: number;
}

export interface TrainSteps {
  /** Untimed steps first (they compile the pipelines). */
  readonly warmup: number;
  /** Timed steps; the medians are over these. */
  readonly steps: number;
  readonly seed?: number;
}

export interface TrainMeasurement {
  readonly imagesPerSecond: number;
  /** Median wall time of a step, ms. */
  readonly stepMs: number;
  readonly stepsMs: number[];
  /** Median time spent in JS recording a step, ms. */
  readonly hostMs: number;
  /** Median GPU time of a step, ms, or null when the device cannot time passes. */
  readonly gpuMs: number | null;
  /** 'passes': timestamps around every compute pass of unprofiled steps; 'profiled': one more step with a pass per dispatch. */
  readonly gpuSource: 'passes' | 'profiled' | null;
  /** Compute dispatches the engine recorded in one step. */
  readonly dispatches: number;
  /** The last step's [box, cls, dfl] (finite, or the step is broken). */
  readonly lossItems: number[];
}

/** The same distribution as bench/torch_train.py: U[0,1) pixels, 2–6 boxes per image (size 5–50 % of the side). */
export function syntheticBatch(c: TrainConfig, seed: number): { images: Float32Array; targets: Float32Array; shape: number[] } {
  const rng = mulberry32(seed);
  const images = new Float32Array(c.batch * 3 * c.imgsz * c.imgsz);
  for (let i = 0; i < images.length; i++) images[i] = rng();
  const rows: number[] = [];
  for (let i = 0; i < c.batch; i++) {
    const n = 2 + Math.floor(5 * rng());
    for (let j = 0; j < n; j++) {
      const w = 0.05 + 0.45 * rng();
      const h = 0.05 + 0.45 * rng();
      rows.push(i, Math.floor(c.nc * rng()), w / 2 + (1 - w) * rng(), h / 2 + (1 - h) * rng(), w, h);
    }
  }
  return { images, targets: Float32Array.from(rows), shape: [c.batch, 3, c.imgsz, c.imgsz] };
}

const median = (v: readonly number[]): number => stats(v).median_ms;

/** Train `c` on `dev` for warmup + steps (+1 counted, +1 profiled where no timer) steps; everything is disposed after. */
export async function measureTraining(dev: Device, c: TrainConfig, o: TrainSteps, timer?: GpuTimer): Promise<TrainMeasurement> {
  if (!(o.steps >= 1) || !(o.warmup >= 0)) throw new Error(`measureTraining: steps must be ≥ 1 and warmup ≥ 0 (got ${o.steps}, ${o.warmup})`);
  const model = createModel(dev, c.cfg, { nc: c.nc, seed: o.seed ?? 0 }).train();
  // SGD with the official hyper-parameters (hyp.scratch-high.yaml: lr0 0.01, momentum 0.937, weight_decay 0.0005)
  const opt = new Optimizer(model, { name: 'SGD', lr: 0.01, momentum: 0.937, weightDecay: 0.0005 });
  const ema = new ModelEMA(model);
  const b = syntheticBatch(c, o.seed ?? 0);
  let lossItems: number[] = [];
  const step = async (): Promise<{ wall: number; host: number }> => {
    const t0 = performance.now();
    const items = tidy(dev, () => {
      const res = detectionLoss(model.forward(tensor(dev, b.images, b.shape)), b.targets, model.head.strides, model.nc);
      res.loss.backward();
      opt.step();
      opt.zeroGrad();
      ema.update(model);
      return res.items;
    });
    const host = performance.now() - t0;
    try {
      lossItems = [...(await items.data())];
    } finally {
      items.dispose();
    }
    return { wall: performance.now() - t0, host };
  };
  try {
    for (let i = 0; i < o.warmup; i++) await step();
    if (dev.tiles.pendingCount > 0) await dev.tiles.run(); // a tile search (if enabled) is set-up, not training
    const walls: number[] = [];
    const hosts: number[] = [];
    const gpus: number[] = [];
    for (let i = 0; i < o.steps; i++) {
      await dev.sync();
      timer?.begin();
      const s = await step();
      const g = timer ? await timer.end() : null;
      walls.push(s.wall);
      hosts.push(s.host);
      if (g !== null) gpus.push(g);
    }
    const dispatches = await countDispatches(dev, step);
    let gpuMs: number | null = gpus.length === o.steps ? median(gpus) : null;
    let gpuSource: TrainMeasurement['gpuSource'] = gpuMs === null ? null : 'passes';
    if (gpuMs === null && dev.features.timestampQuery) {
      dev.profileStart();
      await step();
      gpuMs = (await dev.profileEnd()).reduce((s, p) => s + p.ms, 0);
      gpuSource = 'profiled';
    }
    if (!lossItems.every(Number.isFinite)) throw new Error(`${c.cfg} ${c.imgsz}px batch ${c.batch}: non-finite loss items ${lossItems.join(', ')}`);
    const stepMs = median(walls);
    return { imagesPerSecond: (1000 * c.batch) / stepMs, stepMs, stepsMs: walls, hostMs: median(hosts), gpuMs, gpuSource, dispatches, lossItems };
  } finally {
    model.dispose();
    opt.dispose();
    ema.dispose();
  }
}

/** Dispatches of one step, counted where every kernel launch of the engine goes through (Device.dispatch). */
async function countDispatches(dev: Device, step: () => Promise<unknown>): Promise<number> {
  let n = 0;
  const real = dev.dispatch;
  const counting: typeof real = (...a) => {
    n++;
    real.apply(dev, a);
  };
  Object.defineProperty(dev, 'dispatch', { value: counting, configurable: true, writable: true });
  try {
    await step();
  } finally {
    Reflect.deleteProperty(dev, 'dispatch');
  }
  return n;
}
