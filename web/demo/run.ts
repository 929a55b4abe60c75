// A training run of the demo page, built exactly as `gelan train` builds it (cli/train.ts) from the same options, so
// a checkpoint saved in the tab resumes in Node (`gelan train --resume`) and one from Node resumes in the tab with
// the same loss sequence: the page's settings become the CLI's option record (stored in every checkpoint), and a
// run is made from such a record, its dataset and its hyperparameters. Shared by the demo's worker and by the tests
// that train the same run in Node.
import { DEMO_RECIPE, DataLoader, DetectionModel, type DetectionDataset, type Device, type Hyp, type LoadedCheckpoint, type ModelConfig, type TransferReport, type WeightFile, Trainer, builtinConfig, demoHyp, seededRandom, shapesDataset, transferWeights } from 'gelan-webgpu';
import type { RunSettings } from './protocol';

/** Validation images whose predictions the page draws after every epoch. */
export const PREVIEW_IMAGES = 4;

/** The options of `gelan train` (cli/train.ts TrainArgs) that decide a run, as checkpoints record them. */
export interface RunRecord {
  readonly cfg: string;
  /** 'shapes', or the dataset's file name (a zip or folder the page loaded). */
  readonly data: string;
  readonly epochs: number;
  readonly batch: number;
  readonly imgsz: number;
  readonly hyp: string;
  readonly project: string;
  readonly name: string;
  readonly seed: number;
  readonly optimizer: 'SGD' | 'AdamW';
  readonly cosLr: boolean;
  readonly closeMosaic: number;
  readonly valEvery: number;
  readonly shapesTrain: number;
  readonly shapesVal: number;
  readonly nbs: number;
  readonly minWarmup: number;
  readonly mixedPrecision: boolean;
  readonly tileSearch: boolean;
  readonly weights?: string;
}

export interface RunData {
  readonly train: DetectionDataset;
  readonly val: DetectionDataset;
  readonly names: readonly string[];
}

export interface DemoRun {
  readonly config: ModelConfig;
  readonly model: DetectionModel;
  readonly trainer: Trainer;
  /** The first validation images, one batch. */
  readonly preview: DataLoader;
  readonly names: readonly string[];
  readonly record: RunRecord;
  /** What fine-tuning took from the start weights (null: trained from scratch). */
  readonly transfer: TransferReport | null;
}

/** The page's settings as `gelan train` options: the main job's recipe (hyp.demo.yaml, AdamW, no accumulation). */
export function demoRecord(s: RunSettings, data = 'shapes', weights?: string): RunRecord {
  return {
    cfg: s.cfg,
    data,
    epochs: s.epochs,
    batch: s.batch,
    imgsz: s.imgsz,
    hyp: 'demo',
    project: 'runs/train',
    name: 'tab',
    seed: s.seed,
    optimizer: DEMO_RECIPE.optimizer,
    cosLr: false,
    closeMosaic: Math.min(DEMO_RECIPE.closeMosaic, Math.floor(s.epochs / 3)),
    valEvery: 1,
    shapesTrain: s.trainImages,
    shapesVal: s.valImages,
    nbs: s.batch,
    minWarmup: DEMO_RECIPE.minWarmup,
    mixedPrecision: false,
    tileSearch: false,
    ...(weights ? { weights } : {}),
  };
}

/** The `gelan train` arguments that repeat a record's run (`weights`: where the start weights are now). */
export function trainArgs(r: RunRecord, weights?: string): string[] {
  return [
    '--cfg', r.cfg, '--data', r.data, '--epochs', String(r.epochs), '--batch', String(r.batch), '--imgsz', String(r.imgsz), '--hyp', r.hyp,
    '--seed', String(r.seed), '--optimizer', r.optimizer, '--close-mosaic', String(r.closeMosaic), '--val-every', String(r.valEvery),
    '--nbs', String(r.nbs), '--min-warmup', String(r.minWarmup),
    // the shapes sizes only describe the embedded data (a user dataset's record has 0 there)
    ...(r.data === 'shapes' ? ['--shapes-train', String(r.shapesTrain), '--shapes-val', String(r.shapesVal)] : []),
    ...(r.cosLr ? ['--cos-lr'] : []), ...(r.mixedPrecision ? ['--mixed-precision'] : []), ...(r.weights ? ['--weights', weights ?? r.weights] : []),
  ];
}

/** The embedded shapes data of a record (as `gelan train --data shapes` makes it). */
export function shapesData(r: RunRecord): RunData {
  const d = shapesDataset({ seed: r.seed, train: r.shapesTrain, val: r.shapesVal, imgsz: r.imgsz });
  return { train: d.train, val: d.val, names: d.names };
}

/**
 * A run from a record, as cli/train.ts builds it (same model seed, loaders and trainer options); `weights` (named
 * by `r.weights`) are transferred into the fresh model before the trainer copies it into its EMA.
 */
export function createRun(dev: Device, r: RunRecord, data: RunData, o: { hyp: Hyp; config?: ModelConfig; weights?: WeightFile; cacheBytes?: number }): DemoRun {
  const config = o.config ?? builtinConfig(r.cfg, { nc: data.names.length });
  if (config.nc !== data.names.length) throw new Error(`${config.source} has ${config.nc} classes but the dataset has ${data.names.length}`);
  const model = new DetectionModel(dev, config, seededRandom(r.seed));
  let transfer: TransferReport | null = null;
  try {
    if (o.weights) transfer = transferWeights(model, o.weights.tensors, r.weights ?? 'weights', { sourceConfig: o.weights.config });
  } catch (e) {
    model.dispose();
    throw e;
  }
  // the decoded-image caches are bounded (a tab's memory is tighter); caching never changes the batches
  const train = new DataLoader(data.train, { imgsz: r.imgsz, batchSize: r.batch, augment: true, seed: r.seed, cacheBytes: o.cacheBytes });
  const val = new DataLoader(data.val, { imgsz: r.imgsz, batchSize: Math.max(1, r.batch * 2), augment: false, cacheBytes: o.cacheBytes });
  const trainer = new Trainer(model, train, val, {
    epochs: r.epochs,
    hyp: o.hyp,
    optimizer: r.optimizer,
    schedule: r.cosLr ? 'cosine' : 'linear',
    closeMosaic: r.closeMosaic,
    valEvery: r.valEvery,
    nominalBatch: r.nbs,
    minWarmupIters: r.minWarmup,
    mixedPrecision: r.mixedPrecision,
    record: { ...r },
  });
  const preview = new DataLoader(data.val, { imgsz: r.imgsz, batchSize: Math.min(PREVIEW_IMAGES, data.val.length), augment: false });
  return { config, model, trainer, preview, names: data.names, record: r, transfer };
}

/** A run continued from a training checkpoint (the page's or `gelan train`'s), as `gelan train --resume` does. */
export function resumeRun(dev: Device, ck: LoadedCheckpoint, file: string, data: RunData, cacheBytes?: number): DemoRun {
  const r = ck.meta.options as unknown as RunRecord;
  if (typeof r.imgsz !== 'number' || typeof r.batch !== 'number' || typeof r.seed !== 'number') throw new Error(`${file}: its run options lack imgsz, batch or seed`);
  const run = createRun(dev, r, data, { hyp: ck.meta.hyp, config: ck.config, cacheBytes });
  try {
    run.trainer.resume(ck, file);
  } catch (e) {
    run.trainer.dispose();
    run.model.dispose();
    throw e;
  }
  return run;
}

/** How many images of `imgsz` the model's largest layer output (f32, one buffer) lets a batch hold within `limit` bytes. */
export function largestBatch(model: DetectionModel, imgsz: number, limit: number): { batch: number; layer: number; bytesPerImage: number } {
  let layer = -1;
  let bytesPerImage = 3 * imgsz * imgsz * 4;
  for (const r of model.rows) {
    const ch = Array.isArray(r.channels) ? r.channels.reduce((a, b) => a + b, 0) : r.channels;
    const b = ch * Math.ceil(imgsz / r.stride) ** 2 * 4;
    if (b > bytesPerImage) [layer, bytesPerImage] = [r.index, b];
  }
  return { batch: Math.floor(limit / bytesPerImage), layer, bytesPerImage };
}

/** The page's run on the embedded shapes data. */
export function createDemoRun(dev: Device, s: RunSettings): DemoRun {
  const r = demoRecord(s);
  return createRun(dev, r, shapesData(r), { hyp: demoHyp() });
}
