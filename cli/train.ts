// `gelan train`: a model trained on a dataset in a run folder (checkpoints, results.csv/png, predictions), with
// resume and fine-tuning; trainInputs/train are also the main job's (cli/demo.ts) first half.
import type { TileCacheJSON } from '../engine/tile-search';
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { createDevice } from '../engine/create-device';
import type { Device } from '../engine/device';
import { DetectionModel, type ModelConfig, seededRandom, transferWeights } from '../models';
import { DataLoader } from '../training/data/loader';
import { HYP_SCRATCH_HIGH, type Hyp, parseHyp } from '../training/hyp';
import { Trainer } from '../training/trainer';
import { type LoadedCheckpoint, readCheckpoint } from '../training/checkpoint';
import { type ValResult, validate } from '../training/validate';
import { plotResults } from '../training/plot';
import { checkImageSize, configArg, readWeights, writeAtomic } from './common';
import { demoHyp } from '../training/presets/demo';
import { type DataSplits, loadData } from './data';
import { RESULT_COLUMNS, discardOnFailure, nextRunDir, progress, readResultsCsv, writeResultsCsv } from './runs';
import { checked, existingFile, nameList, nonNegativeInt, oneOf, outputFile, positiveInt } from './options';
import { drawPredictions } from './report';

/**
 * Epochs a time budget holds: the `done` epochs already run (`elapsed` seconds) plus as many more as the rest
 * of `budget` holds at `pace` seconds each, inflated by `margin`; never fewer than `done`, at least 1.
 */
export function epochsInBudget(o: { budget: number; elapsed: number; pace: number; margin: number; done: number }): number {
  const more = Math.floor((o.budget - o.elapsed) / Math.max(o.margin * o.pace, 1e-3));
  return Math.max(1, o.done, o.done + more);
}

/**
 * Whether the time-budget fit is redone after an epoch, and from what: `later` holds the seconds of every epoch
 * after the first (this one included), `done` the epochs run, `planned` the current count. After each whole
 * validation cycle (two epochs), from the pace of the last two cycles: while at most half of the planned epochs
 * have run, with a 10 % margin on one cycle's pace and 7 % on two; later, only to lower the count when that pace
 * would overrun the budget (a raised count would bend the LR schedule near its end; a lowered one keeps the run
 * within its time).
 */
export function budgetRefit(later: readonly number[], done: number, planned: number): { pace: number; margin: number; lowerOnly: boolean } | null {
  if (later.length === 0 || later.length % 2 !== 0) return null;
  const recent = later.slice(-4);
  const pace = recent.reduce((x, y) => x + y, 0) / recent.length;
  if (done > planned / 2) return { pace, margin: 1, lowerOnly: true };
  return { pace, margin: recent.length >= 4 ? 1.07 : 1.1, lowerOnly: false };
}

export interface TrainArgs {
  cfg: string;
  data: string;
  epochs: number;
  batch: number;
  imgsz: number;
  hyp?: string;
  resume?: string;
  project: string;
  name: string;
  seed: number;
  optimizer: 'SGD' | 'AdamW';
  cosLr: boolean;
  closeMosaic: number;
  valEvery: number;
  shapesTrain: number;
  shapesVal: number;
  names?: string;
  weights?: string;
  /** Nominal batch for gradient accumulation (official 64). */
  nbs: number;
  /** Shortest warmup in iterations (official 100). */
  minWarmup: number;
  /** Measure kernel tilings for this device's shapes after the first step (see Device.tiles). */
  tileSearch: boolean;
  /** JSON file of measured tilings: loaded when it exists, written after a search. */
  tileCache?: string;
  /** f16 activations, f32 master weights, dynamic loss scaling (needs shader-f16). */
  mixedPrecision: boolean;
  /** With --resume: --data given on the command line (the dataset's location now). */
  resumeData?: string;
}

/** Stop adding epochs beyond this many minutes of training (decided after the first epoch). */
export interface TrainBudget {
  minutes?: number;
}

export interface TrainOutcome {
  dir: string;
  model: DetectionModel;
  data: DataSplits;
  val: ValResult | null;
  valLoader: DataLoader;
  trainSeconds: number;
  imagesPerSecond: number;
}

/** A whole training run with its run directory; the caller owns the returned model. */
/** The device of a training command: tile search on request, with the tile cache loaded when it exists. */
export async function trainDevice(o: TrainArgs): Promise<Device> {
  const dev = await createDevice({ tileSearch: o.tileSearch });
  if (o.tileCache && existsSync(o.tileCache)) {
    dev.tiles.load(JSON.parse(readFileSync(o.tileCache, 'utf8')) as TileCacheJSON, o.tileCache);
    console.log(`tile cache: ${dev.tiles.size} measured tilings from ${o.tileCache}`);
  }
  return dev;
}

/** What a training run reads and checks before it opens a device or makes its run folder. */
export interface TrainInputs {
  readonly ck: LoadedCheckpoint | null;
  readonly opts: TrainArgs;
  readonly hyp: Hyp;
  readonly data: DataSplits;
  readonly config: ModelConfig;
  /** The run folder: a resumed run's, or a new one's (named here, made when training starts). */
  readonly dir: string;
  /** Whether `dir` is the folder of the checkpoint being resumed (never removed on failure). */
  readonly inPlace: boolean;
}

export async function trainInputs(a: TrainArgs): Promise<TrainInputs> {
  const ck = a.resume ? readCheckpoint(new Uint8Array(readFileSync(a.resume)), a.resume) : null;
  // a resumed run keeps its recorded options; --data given with --resume says where its dataset is now
  const opts = ck ? ({ ...ck.meta.options, ...(a.resumeData ? { data: a.resumeData } : {}) } as unknown as TrainArgs) : a;
  const hyp: Hyp = ck ? ck.meta.hyp : a.hyp === 'demo' ? demoHyp() : a.hyp ? parseHyp(readFileSync(a.hyp, 'utf8'), a.hyp) : { ...HYP_SCRATCH_HIGH };
  const data = await loadData(opts.data, { trainImages: opts.shapesTrain, valImages: opts.shapesVal, imgsz: opts.imgsz, seed: opts.seed }, opts.names?.split(','));
  const config = ck ? ck.config : configArg(opts.cfg, data.names.length);
  if (config.nc !== data.names.length) throw new Error(`${config.source} has ${config.nc} classes but ${data.source} has ${data.names.length}`);
  checkImageSize(opts.imgsz, config);
  // a checkpoint from a run folder continues there; one from elsewhere (the demo page's download) gets a new run folder
  const inPlace = ck !== null && basename(dirname(a.resume!)) === 'weights';
  const dir = inPlace ? join(a.resume!, '..', '..') : nextRunDir(opts.project, opts.name);
  return { ck, opts, hyp, data, config, dir, inPlace };
}

/**
 * Train in `inputs.dir` (see trainInputs). A new run's folder is removed again when the run fails before it
 * wrote a checkpoint.
 */
export async function train(dev: Device, a: TrainArgs & TrainBudget, inputs?: TrainInputs): Promise<TrainOutcome> {
  const run = inputs ?? (await trainInputs(a));
  return discardOnFailure(run.inPlace ? null : run.dir, (f) => f.endsWith('.safetensors'), () => trainIn(dev, a, run));
}

async function trainIn(dev: Device, a: TrainArgs & TrainBudget, { ck, opts, hyp, data, config, dir }: TrainInputs): Promise<TrainOutcome> {
  mkdirSync(join(dir, 'weights'), { recursive: true });
  const model = new DetectionModel(dev, config, seededRandom(opts.seed));
  if (opts.weights && !ck) {
    // fine-tuning: matching tensors transfer, the rest keep their initialisation (a resumed run has its own)
    const w = readWeights(opts.weights);
    console.log(transferWeights(model, w.tensors, opts.weights, { sourceConfig: w.config }).line);
  }
  const trainLoader = new DataLoader(data.train, { imgsz: opts.imgsz, batchSize: opts.batch, augment: true, seed: opts.seed });
  const valLoader = new DataLoader(data.val, { imgsz: opts.imgsz, batchSize: Math.max(1, opts.batch * 2), augment: false });
  const trainer = new Trainer(model, trainLoader, valLoader, {
    epochs: opts.epochs,
    hyp,
    optimizer: opts.optimizer,
    schedule: opts.cosLr ? 'cosine' : 'linear',
    closeMosaic: opts.closeMosaic,
    valEvery: opts.valEvery,
    nominalBatch: opts.nbs,
    minWarmupIters: opts.minWarmup,
    mixedPrecision: opts.mixedPrecision ?? false,
    record: opts as unknown as Record<string, unknown>,
    onTileSearch: (done, total, res) => {
      const best = res.ms.find((m) => m.choice === res.chosen)!.ms;
      const worst = Math.max(...res.ms.map((m) => m.ms));
      if (done === 1) console.log(`tile search: ${total} shapes without a measured tiling`);
      if (done === total || done % 20 === 0) console.log(`tile search: ${done}/${total} (last: ${res.key}: ${JSON.stringify(res.chosen)} ${best.toFixed(2)} ms, slowest candidate ${worst.toFixed(2)} ms)`);
      if (done === total && a.tileCache) {
        writeAtomic(a.tileCache, new TextEncoder().encode(JSON.stringify(dev.tiles.toJSON(), null, 1)));
        console.log(`tile search: ${dev.tiles.size} choices saved to ${a.tileCache}`);
      }
    },
  });
  if (a.minutes && !ck) {
    // Fit the run to a time budget (the LR schedule follows the epoch count). After the first epoch: that epoch
    // as it was (it also compiled every pipeline), plus as many epochs as the rest of the budget holds at the pace
    // of its second half, with a 20 % margin. Then after every validation cycle, from the wall time of the last
    // cycles (budgetRefit: up or down until half of the run is done, afterwards only down), never below the epochs
    // already run: a noisy minute early in the run no longer decides how much of the budget goes unused, and a slow
    // one late in the run no longer overruns it. Times are wall clock (validation and checkpoints included).
    const budget = a.minutes * 60;
    const asked = trainer.options.epochs;
    const t0 = performance.now();
    let mid = 0;
    let last = t0;
    const later: number[] = [];
    const refit = (fit: number, why: string, lowerOnly = false): void => {
      const epochs = Math.min(asked, fit);
      if (epochs === trainer.options.epochs || (lowerOnly && epochs > trainer.options.epochs)) return;
      console.log(`time budget ${a.minutes} min: ${epochs} epochs fit (${why}; of ${asked} asked)`);
      trainer.options.epochs = epochs;
    };
    const offStep = trainer.onStep((e) => {
      if (e.epoch === 0 && e.batch === Math.floor(e.batches / 2)) mid = performance.now();
    });
    const off = trainer.onEpoch((e) => {
      const now = performance.now();
      const elapsed = (now - t0) / 1000;
      const wall = (now - last) / 1000;
      last = now;
      if (e.epoch === 0) {
        offStep();
        const end = t0 + e.seconds * 1000;
        const steady = mid > t0 ? Math.max(e.seconds / 2, e.seconds - ((mid - t0) - (end - mid)) / 1000) : e.seconds;
        refit(epochsInBudget({ budget, elapsed, pace: steady, margin: 1.2, done: 1 }), `first ${e.seconds.toFixed(0)} s with pipeline compilation, then about ${steady.toFixed(0)} s each`);
        return;
      }
      later.push(wall);
      const done = e.epoch + 1;
      const r = budgetRefit(later, done, trainer.options.epochs);
      if (r) refit(epochsInBudget({ budget, elapsed, pace: r.pace, margin: r.margin, done }), `${elapsed.toFixed(0)} s so far, then about ${r.pace.toFixed(1)} s each`, r.lowerOnly);
      if (done >= trainer.options.epochs) off();
    });
  }
  if (ck) {
    trainer.resume(ck, a.resume!);
    console.log(`resuming ${a.resume} at epoch ${ck.meta.state.epoch}, iteration ${ck.meta.state.iteration}`);
  } else {
    writeFileSync(join(dir, 'hyp.yaml'), stringify(hyp));
    writeFileSync(join(dir, 'opt.yaml'), stringify(opts));
  }
  const params = model.numParameters();
  console.log(`${config.source}: ${params.toLocaleString('en-US')} parameters, ${model.gflops(opts.imgsz).toFixed(2)} GFLOPs at ${opts.imgsz}; data ${data.source}; ${trainLoader.length} batches of ${opts.batch} per epoch`);
  const rows: Record<string, number>[] = [];
  const csv = join(dir, 'results.csv');
  // a resumed run continues its results.csv from the checkpoint's epoch
  if (ck && existsSync(csv)) rows.push(...readResultsCsv(csv).filter((r) => r.epoch < ck.meta.state.epoch));
  let bar = progress(trainLoader.length, `epoch ${trainer.state.epoch + 1}/${opts.epochs}`);
  let ips = 0;
  let ipsN = 0;
  trainer.onStep((e) => {
    if (e.batch > 0) {
      ips += e.imagesPerSecond;
      ipsN++;
    }
    bar.update(e.batch + 1, `box ${e.mean[0].toFixed(3)} cls ${e.mean[1].toFixed(3)} dfl ${e.mean[2].toFixed(3)} | ${e.imagesPerSecond.toFixed(1)} img/s`);
  });
  let lastVal: ValResult | null = null;
  const t0 = performance.now();
  trainer.onEpoch(async (e) => {
    bar.stop();
    if (e.val) lastVal = e.val;
    const row: Record<string, number> = { epoch: e.epoch };
    [row['train/box_loss'], row['train/cls_loss'], row['train/dfl_loss']] = e.train;
    row['metrics/precision'] = e.val?.mp ?? NaN;
    row['metrics/recall'] = e.val?.mr ?? NaN;
    row['metrics/mAP_0.5'] = e.val?.map50 ?? NaN;
    row['metrics/mAP_0.5:0.95'] = e.val?.map ?? NaN;
    [row['val/box_loss'], row['val/cls_loss'], row['val/dfl_loss']] = e.val?.loss ?? [NaN, NaN, NaN];
    [row['x/lr0'], row['x/lr1'], row['x/lr2']] = e.lr;
    rows.push(row);
    writeResultsCsv(csv, rows);
    writeFileSync(join(dir, 'results.png'), plotResults(RESULT_COLUMNS, rows));
    const bytes = await trainer.checkpoint(data.names);
    writeAtomic(join(dir, 'weights', 'last.safetensors'), bytes);
    if (e.best) writeAtomic(join(dir, 'weights', 'best.safetensors'), bytes);
    console.log(
      `epoch ${e.epoch + 1}/${e.epochs}: train box ${e.train[0].toFixed(4)} cls ${e.train[1].toFixed(4)} dfl ${e.train[2].toFixed(4)}` +
        (e.val ? ` | val P ${e.val.mp.toFixed(3)} R ${e.val.mr.toFixed(3)} mAP@0.5 ${e.val.map50.toFixed(4)} mAP@0.5:0.95 ${e.val.map.toFixed(4)}` : '') +
        ` | ${e.seconds.toFixed(1)} s`,
    );
    if (e.epoch + 1 < trainer.options.epochs) bar = progress(trainLoader.length, `epoch ${e.epoch + 2}/${trainer.options.epochs}`);
  });
  await trainer.run();
  const trainSeconds = (performance.now() - t0) / 1000;
  const { predictions } = await validate(trainer.ema.ema, valLoader, { keepPredictions: 8 });
  await drawPredictions(predictions, valLoader, data.names, join(dir, 'val_batch0_pred.jpg'));
  // the EMA weights are the result (as the official best.pt / last.pt)
  for (const [k, t] of trainer.ema.ema.stateEntries()) model.setTensor(k, t.detach());
  trainer.dispose();
  return { dir, model, data, val: lastVal, valLoader, trainSeconds, imagesPerSecond: ipsN ? ips / ipsN : 0 };
}

/** The options `gelan train` and `gelan demo` share. */
export const trainOptions = (c: Command): Command =>
  c
    .option('--cfg <name|file.yaml>', 'model config (built-in name or YAML file)', 'yolov9-shapes')
    .option('--data <shapes|data.yaml|folder>', "dataset: 'shapes' (embedded), a data YAML or an image folder", 'shapes')
    .addOption(checked('--epochs <n>', 'epochs (at least 1)', positiveInt, 10))
    .addOption(checked('--batch <n>', 'batch size', positiveInt, 8))
    .addOption(checked('--imgsz <n>', "input size (a multiple of the model's largest stride, 32 for the official configs)", positiveInt, 160))
    .addOption(checked('--hyp <file.yaml|demo>', "hyperparameters in the official hyp format (default: hyp.scratch-high; 'demo': the main job's)", (v, opt) => (v === 'demo' ? v : existingFile(v, opt))))
    .addOption(checked('--optimizer <SGD|AdamW>', 'optimizer', oneOf('SGD', 'AdamW'), 'SGD'))
    .option('--cos-lr', 'cosine LR schedule', false)
    .addOption(checked('--close-mosaic <n>', 'epochs at the end without mosaic', nonNegativeInt, 2))
    .addOption(checked('--val-every <n>', 'validate every N epochs (and after the last)', positiveInt, 1))
    .addOption(checked('--seed <n>', 'seed of initialisation, data order and augmentation', nonNegativeInt, 0))
    .option('--project <dir>', 'runs folder', 'runs/train')
    .option('--name <name>', 'run name', 'exp')
    .addOption(checked('--shapes-train <n>', 'shapes dataset: training images', positiveInt, 384))
    .addOption(checked('--shapes-val <n>', 'shapes dataset: validation images', positiveInt, 64))
    .addOption(checked('--names <a,b,c>', 'class names when --data is a folder', nameList))
    .addOption(checked('--weights <file>', 'initial weights', existingFile))
    .addOption(checked('--nbs <n>', 'nominal batch size reached by gradient accumulation', positiveInt, 64))
    .addOption(checked('--min-warmup <n>', 'shortest warmup in iterations', nonNegativeInt, 100))
    .option('--mixed-precision', 'f16 activations and gradients with f32 master weights and dynamic loss scaling (needs shader-f16)', false)
    .option('--tile-search', "measure kernel tilings for this run's shapes after the first step (needs timestamp-query)", false)
    .addOption(checked('--tile-cache <file.json>', 'measured tilings: loaded when the file exists, written after a search', outputFile));

/** `gelan train`. */
export function registerTrainCommand(program: Command): void {
  trainOptions(program.command('train').description('train a model (YOLOv9 with PGI, or GELAN) on a dataset'))
    .addOption(checked('--resume <last.safetensors>', 'continue a run from its checkpoint (same loss sequence as without interruption)', existingFile))
    .action(async (o: TrainArgs, cmd: Command) => {
      // --data given with --resume says where the run's dataset is now
      if (o.resume && cmd.getOptionValueSource('data') === 'cli') o.resumeData = o.data;
      const inputs = await trainInputs(o);
      const dev = await trainDevice(o);
      const r = await train(dev, o, inputs);
      // only what is there: a resumed run that had already finished trains no epoch and writes no checkpoint
      const files = ['weights/last.safetensors', 'weights/best.safetensors', 'results.csv', 'results.png', 'val_batch0_pred.jpg'].filter((f) => existsSync(join(r.dir, f)));
      console.log(`results in ${r.dir}: ${files.join(', ')}`);
      r.model.dispose();
      dev.dispose();
    });
}
