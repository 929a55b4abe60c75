// Training, validation and detection commands, and the end-to-end main job (`gelan demo`, run by `npm start`).
import type { TileCacheJSON } from '../engine/tile-search';
import { readFileSync, writeFileSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import type { Command } from 'commander';
import { stringify } from 'yaml';
import { createDevice } from '../engine/create-device';
import type { Device } from '../engine/device';
import { DetectionModel, type ModelConfig, builtinConfig, fuseModel, removeAuxBranch, saveSafetensors, seededRandom, transferWeights } from '../models';
import { DataLoader } from '../training/data/loader';
import { decodeImage, encodeJpeg, encodePng, type RgbImage } from '../training/data/image';
import { annotate } from '../training/data/draw';
import { detectImage } from '../training/detect';
import { HYP_SCRATCH_HIGH, type Hyp, parseHyp } from '../training/hyp';
import { Trainer } from '../training/trainer';
import { type LoadedCheckpoint, readCheckpoint } from '../training/checkpoint';
import { type ValResult, type Prediction, validate } from '../training/validate';
import { plotResults } from '../training/plot';
import { checkImageSize, configArg, modelFromWeights, readWeights, weightsArg, writeAtomic } from './common';
import { DEMO_RECIPE, demoHyp } from '../training/presets/demo';
import { type DataSplits, loadData } from './data';
import { RESULT_COLUMNS, discardOnFailure, nextRunDir, progress, writeResultsCsv } from './runs';
import { checked, existingFile, existingPath, fraction, nameList, nonNegativeInt, oneOf, outputFile, positiveInt, positiveNumber } from './options';

/** Draw validation predictions of a few images (letterboxed input space) into one mosaic image. */
async function drawPredictions(preds: readonly Prediction[], loader: DataLoader, names: readonly string[], path: string): Promise<void> {
  if (preds.length === 0) return;
  const tiles: RgbImage[] = [];
  for (const p of preds) {
    const b = await loader.item(p.index, () => 0.5);
    tiles.push(annotate(b.image, p.detections.filter((d) => d[4] >= 0.25), names));
  }
  const s = tiles[0].width;
  const cols = Math.min(4, tiles.length);
  const rows = Math.ceil(tiles.length / cols);
  const out = { width: cols * s, height: rows * tiles[0].height, data: new Uint8Array(cols * s * rows * tiles[0].height * 3).fill(114) };
  tiles.forEach((t, i) => {
    const ox = (i % cols) * s;
    const oy = Math.floor(i / cols) * t.height;
    for (let y = 0; y < t.height; y++) out.data.set(t.data.subarray(y * t.width * 3, (y + 1) * t.width * 3), ((oy + y) * out.width + ox) * 3);
  });
  writeFileSync(path, path.endsWith('.png') ? encodePng(out) : encodeJpeg(out, 90));
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
async function trainDevice(o: TrainArgs): Promise<Device> {
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
    // Fit the run to a time budget: after the first epoch, cap the epochs (the LR schedule follows). The first
    // epoch also compiled every pipeline, so later epochs are timed by its second half: the first epoch as it was,
    // plus as many epochs as the rest of the budget holds at that pace (with a margin).
    const budget = a.minutes * 60;
    const t0 = performance.now();
    let mid = 0;
    const offStep = trainer.onStep((e) => {
      if (e.epoch === 0 && e.batch === Math.floor(e.batches / 2)) mid = performance.now();
    });
    const off = trainer.onEpoch((e) => {
      off();
      offStep();
      const end = t0 + e.seconds * 1000;
      const steady = mid > t0 ? Math.max(e.seconds / 2, e.seconds - ((mid - t0) - (end - mid)) / 1000) : e.seconds;
      // 20 % margin: later epochs measured 10–35 % above the first epoch's second half (validation finds more
      // boxes as the model learns; the machine is shared)
      const fit = Math.max(1, 1 + Math.floor((budget - e.seconds) / Math.max(1.2 * steady, 1e-3)));
      if (fit < trainer.options.epochs) {
        console.log(`time budget ${a.minutes} min: ${fit} epochs fit (first ${e.seconds.toFixed(0)} s with pipeline compilation, then about ${steady.toFixed(0)} s each; of ${trainer.options.epochs} asked)`);
        trainer.options.epochs = fit;
      }
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
  if (ck && existsSync(csv)) {
    const lines = readFileSync(csv, 'utf8').trim().split('\n').slice(1);
    for (const l of lines) {
      const v = l.split(',').map((x) => Number(x.trim()));
      const row: Record<string, number> = { epoch: v[0] };
      RESULT_COLUMNS.forEach((c, i) => (row[c] = v[i + 1]));
      if (row.epoch < ck.meta.state.epoch) rows.push(row);
    }
  }
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

function printVal(r: ValResult, names: readonly string[]): void {
  console.log(`${'class'.padEnd(14)}${'images'.padStart(8)}${'labels'.padStart(8)}${'P'.padStart(8)}${'R'.padStart(8)}${'mAP50'.padStart(8)}${'mAP50-95'.padStart(10)}`);
  console.log(`${'all'.padEnd(14)}${String(r.images).padStart(8)}${String(r.labels).padStart(8)}${r.mp.toFixed(3).padStart(8)}${r.mr.toFixed(3).padStart(8)}${r.map50.toFixed(3).padStart(8)}${r.map.toFixed(3).padStart(10)}`);
  r.classes.forEach((c, i) => {
    const ap = r.ap[i];
    console.log(`${String(names[c] ?? c).padEnd(14)}${''.padStart(8)}${''.padStart(8)}${r.precision[i].toFixed(3).padStart(8)}${r.recall[i].toFixed(3).padStart(8)}${ap[0].toFixed(3).padStart(8)}${(ap.reduce((s, v) => s + v, 0) / ap.length).toFixed(3).padStart(10)}`);
  });
}

const IMAGE_EXT = new Set(['.jpg', '.jpeg', '.png']);

/** Detect on one image file (boxes in the file's pixels). */
async function detectFile(model: DetectionModel, path: string, imgsz: number, conf: number, iou: number): Promise<{ image: RgbImage; dets: number[][] }> {
  const image = decodeImage(new Uint8Array(readFileSync(path)), path);
  return { image, dets: await detectImage(model, image, { imgsz, conf, iou }) };
}

export function registerTrainCommands(program: Command): void {
  const trainOptions = (c: Command): Command =>
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

  program
    .command('val')
    .description('validate weights on a dataset: P, R, mAP@0.5 and mAP@0.5:0.95 per class (official method)')
    .addOption(checked('--weights <file>', 'weights or training checkpoint (its EMA)', existingFile).makeOptionMandatory())
    .option('--cfg <name|file.yaml>', 'model config when the weights carry none')
    .option('--data <shapes|data.yaml|folder>', 'dataset', 'shapes')
    .addOption(checked('--imgsz <n>', 'input size', positiveInt, 160))
    .addOption(checked('--batch <n>', 'batch size', positiveInt, 16))
    .addOption(checked('--conf <x>', 'confidence threshold', fraction, 0.001))
    .addOption(checked('--iou <x>', 'NMS IoU threshold', fraction, 0.7))
    .addOption(checked('--names <a,b,c>', 'class names when --data is a folder', nameList))
    .addOption(checked('--seed <n>', 'shapes dataset seed', nonNegativeInt, 0))
    .addOption(checked('--shapes-val <n>', 'shapes dataset: validation images', positiveInt, 64))
    .option('--half', 'fused f16 inference (weights and activations; needs shader-f16)', false)
    .action(async (o: { weights: string; cfg?: string; data: string; imgsz: number; batch: number; conf: number; iou: number; names?: string; seed: number; shapesVal: number; half: boolean }) => {
      const w = weightsArg(o.weights, o.cfg);
      checkImageSize(o.imgsz, w.config);
      const data = await loadData(o.data, { trainImages: 1, valImages: o.shapesVal, imgsz: o.imgsz, seed: o.seed }, o.names?.split(','));
      const dev = await createDevice();
      const { model } = modelFromWeights(dev, w);
      if (o.half) fuseModel(model, { dtype: 'f16' });
      const loader = new DataLoader(data.val, { imgsz: o.imgsz, batchSize: o.batch, augment: false });
      const bar = progress(loader.length, 'val');
      const { result } = await validate(model, loader, { nms: { conf: o.conf, iou: o.iou }, onBatch: (d) => bar.update(d, '') });
      bar.stop();
      printVal(result, data.names);
      model.dispose();
      dev.dispose();
    });

  program
    .command('detect')
    .description('detect objects in images: annotated images (and YOLO txt results) under runs/detect/<name>')
    .addOption(checked('--weights <file>', 'weights or training checkpoint', existingFile).makeOptionMandatory())
    .addOption(checked('--source <image|folder>', 'an image or a folder of JPEG/PNG images', existingPath).makeOptionMandatory())
    .option('--cfg <name|file.yaml>', 'model config when the weights carry none')
    .addOption(checked('--conf <x>', 'confidence threshold', fraction, 0.25))
    .addOption(checked('--iou <x>', 'NMS IoU threshold', fraction, 0.45))
    .addOption(checked('--imgsz <n>', 'input size', positiveInt, 640))
    .option('--save-txt', 'also write YOLO-format results (class cx cy w h conf) to labels/', false)
    .option('--half', 'f16 inference (weights and activations; needs shader-f16)', false)
    .addOption(checked('--names <a,b,c>', 'class names (default: from the weights, else indices)', nameList))
    .option('--project <dir>', 'runs folder', 'runs/detect')
    .option('--name <name>', 'run name', 'exp')
    .action(async (o: { weights: string; source: string; cfg?: string; conf: number; iou: number; imgsz: number; saveTxt: boolean; half: boolean; names?: string; project: string; name: string }) => {
      const files = statSync(o.source).isDirectory() ? readdirSync(o.source).filter((f) => IMAGE_EXT.has(extname(f).toLowerCase())).sort().map((f) => join(o.source, f)) : [o.source];
      if (files.length === 0) throw new Error(`--source ${o.source}: no JPEG or PNG images`);
      const w = weightsArg(o.weights, o.cfg);
      checkImageSize(o.imgsz, w.config);
      const dev = await createDevice();
      const { model, weights } = modelFromWeights(dev, w);
      fuseModel(model, { dtype: o.half ? 'f16' : 'f32' });
      const names = o.names?.split(',') ?? weights.names ?? Array.from({ length: model.nc }, (_, i) => String(i));
      const dir = nextRunDir(o.project, o.name);
      // a failure (an image that does not decode) keeps what was written, but leaves no empty folder
      await discardOnFailure(dir, () => true, async () => {
        mkdirSync(o.saveTxt ? join(dir, 'labels') : dir, { recursive: true });
        for (const f of files) {
          const t0 = performance.now();
          const { image, dets } = await detectFile(model, f, o.imgsz, o.conf, o.iou);
          const out = join(dir, basename(f));
          writeFileSync(out, /\.png$/i.test(f) ? encodePng(annotate(image, dets, names)) : encodeJpeg(annotate(image, dets, names), 90));
          if (o.saveTxt) {
            const lines = dets.map(([x1, y1, x2, y2, c, k]) => `${k} ${((x1 + x2) / 2 / image.width).toFixed(6)} ${((y1 + y2) / 2 / image.height).toFixed(6)} ${((x2 - x1) / image.width).toFixed(6)} ${((y2 - y1) / image.height).toFixed(6)} ${c.toFixed(5)}`);
            writeFileSync(join(dir, 'labels', `${basename(f, extname(f))}.txt`), lines.join('\n') + (lines.length ? '\n' : ''));
          }
          const counts = new Map<string, number>();
          for (const d of dets) counts.set(names[d[5]] ?? String(d[5]), (counts.get(names[d[5]] ?? String(d[5])) ?? 0) + 1);
          console.log(`${f}: ${image.width}x${image.height}, ${[...counts].map(([n, c]) => `${c} ${n}`).join(', ') || 'no detections'} (${(performance.now() - t0).toFixed(0)} ms) -> ${out}`);
        }
      });
      model.dispose();
      dev.dispose();
    });

  trainOptions(program.command('demo').description('the main job: train yolov9-shapes (PGI) on the embedded shapes data, remove the auxiliary branch, validate, detect'))
    .addOption(checked('--minutes <m>', 'training time budget: epochs are capped after the first one to fit it', positiveNumber, 7))
    .action(async (o: TrainArgs & { minutes: number }, cmd: Command) => {
      // the main job's recipe unless overridden on the command line
      const given = (k: string): boolean => cmd.getOptionValueSource(k) === 'cli';
      const { cfg, ...recipe } = DEMO_RECIPE;
      const preset: Partial<TrainArgs> = { hyp: 'demo', cfg, ...recipe };
      for (const [k, v] of Object.entries(preset)) if (!given(k)) (o as unknown as Record<string, unknown>)[k] = v;
      const t0 = performance.now();
      const a = { ...o, name: o.name === 'exp' ? 'demo' : o.name };
      const inputs = await trainInputs(a);
      const dev = await trainDevice(o);
      console.log(`device: ${dev.adapter.description || dev.adapter.device} (shader-f16 ${dev.features.f16}, subgroups ${dev.features.subgroups})`);
      const r = await train(dev, a, inputs);
      const gelan = removeAuxBranch(r.model, builtinConfig('gelan-shapes', { nc: r.model.nc }));
      const st = join(r.dir, 'weights', 'gelan-shapes.safetensors');
      writeAtomic(st, await saveSafetensors(gelan, { names: JSON.stringify(r.data.names) }));
      fuseModel(gelan);
      const { result } = await validate(gelan, r.valLoader);
      console.log(`\nauxiliary branch removed: ${r.model.numParameters().toLocaleString('en-US')} -> ${gelan.numParameters().toLocaleString('en-US')} parameters (fused) in ${st}`);
      printVal(result, r.data.names);
      const sample = await r.valLoader.item(0, () => 0.5);
      const samplePath = join(r.dir, 'val_image0.png');
      writeFileSync(samplePath, encodePng(sample.image));
      const d = await detectFile(gelan, samplePath, o.imgsz, 0.25, 0.45);
      const detPath = join(r.dir, 'detect_val_image0.png');
      writeFileSync(detPath, encodePng(annotate(d.image, d.dets, r.data.names)));
      console.log(`detection on a validation image: ${d.dets.length} objects -> ${detPath}`);
      console.log(`\nmain job: mAP@0.5 ${result.map50.toFixed(4)}, mAP@0.5:0.95 ${result.map.toFixed(4)} (gelan-shapes, aux branch removed); training ${r.trainSeconds.toFixed(0)} s at ${r.imagesPerSecond.toFixed(1)} img/s; total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      gelan.dispose();
      r.model.dispose();
      dev.dispose();
    });
}
