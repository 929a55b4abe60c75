// The demo page's engine, in a dedicated worker: WebGPU device, training on the embedded shapes data, validation,
// predictions, detection, weights in and out. The page only draws what this posts (web/demo/protocol.ts).
//
// Built by scripts/browser-bundle.mjs into dist/browser/demo/worker.js with the engine compiled in.
import {
  DataLoader,
  type DetectionModel,
  type Device,
  type FileReader,
  type FileSystem,
  type Trainer,
  type UserDataset,
  type WeightFile,
  batchLabels,
  blobSource,
  builtinConfig,
  createDevice,
  datasetStats,
  demoHyp,
  detectBatch,
  detectImage,
  modelFromWeights,
  openUserDataset,
  openZip,
  readCheckpoint,
  readWeightFile,
  readerFileSystem,
  removeAuxBranch,
  saveSafetensors,
} from 'gelan-webgpu';
import { parseCaseFilter, runBenchmarks } from '../../bench/suite';
import { type DemoRun, type RunData, createDemoRun, createRun, demoRecord, largestBatch, resumeRun, shapesData } from './run';
import type { Box, DeviceReport, FolderFile, FromWorker, LabelBox, Rgb, RunSettings, RunState, ToWorker } from './protocol';

/** Thumbnails of a loaded dataset the page shows with their labels. */
const THUMBNAILS = 6;
/** Decoded-image cache of each loader of a run on a loaded dataset (images are decoded per batch beyond it). */
const TAB_CACHE_BYTES = 128 * 2 ** 20;

interface Run {
  readonly settings: RunSettings;
  readonly model: DetectionModel;
  readonly trainer: Trainer;
  readonly preview: DataLoader;
  readonly names: readonly string[];
  maxSteps: number;
  steps: number;
  loop: Promise<void> | null;
}

interface Loaded {
  readonly model: DetectionModel;
  readonly names: readonly string[];
  readonly source: string;
  /** The file as read (fine-tuning transfers from it). */
  readonly weights: WeightFile;
}

interface LoadedData {
  readonly name: string;
  readonly data: UserDataset;
}

class Session {
  private run: Run | null = null;
  private loaded: Loaded | null = null;
  private dataset: LoadedData | null = null;
  private oomReported = false;
  private state: RunState = 'starting';

  constructor(
    private readonly dev: Device,
    private readonly post: (m: FromWorker, transfer?: Transferable[]) => void,
  ) {}

  report(): DeviceReport {
    const l = this.dev.limits;
    const limits: Record<string, number> = {};
    for (const k of ['maxComputeInvocationsPerWorkgroup', 'maxStorageBuffersPerShaderStage', 'maxComputeWorkgroupStorageSize', 'maxStorageBufferBindingSize', 'maxBufferSize'] as const) limits[k] = l[k];
    return { adapter: { ...this.dev.adapter }, features: { ...this.dev.features }, subgroupMinSize: this.dev.subgroupMinSize, limits };
  }

  private setState(s: RunState): void {
    this.state = s;
    this.post({ type: 'state', state: s, steps: this.run?.steps ?? 0 });
  }

  async handle(m: ToWorker): Promise<void> {
    switch (m.type) {
      case 'train':
        return this.train(m.settings);
      case 'pause':
        if (this.run && this.state === 'training') {
          this.setState('pausing');
          this.run.trainer.stop();
        }
        return;
      case 'resume':
        if (!this.run || this.state !== 'paused') throw new Error(`nothing to resume (state: ${this.state})`);
        if (m.maxSteps !== undefined) this.run.maxSteps = m.maxSteps;
        return this.startLoop(this.run);
      case 'detect':
        return this.detect(m.id, m.image, m.conf, m.imgsz);
      case 'loadWeights':
        return this.loadWeights(m.name, m.bytes);
      case 'saveWeights':
        return this.saveWeights(m.removeAux);
      case 'dataset':
        return this.loadDataset(m.name, m.zip, m.files);
      case 'saveCheckpoint':
        return this.saveCheckpoint();
      case 'resumeCheckpoint':
        return this.resumeCheckpoint(m.name, m.bytes, m.maxSteps ?? 0);
      case 'bench':
        return this.bench(m.filter, m.quick);
      case 'dispose':
        return this.dispose();
    }
  }

  private async stopRun(): Promise<void> {
    const r = this.run;
    if (!r) return;
    r.trainer.stop();
    await r.loop?.catch(() => undefined);
    r.trainer.dispose();
    r.model.dispose();
    this.run = null;
  }

  private async train(s: RunSettings): Promise<void> {
    await this.stopRun();
    if (s.userData && !this.dataset) throw new Error('no dataset loaded: drop a .zip or a folder of images/ and labels/ first');
    if (s.finetune && !this.loaded) throw new Error('no weights loaded to fine-tune from: load a .safetensors or .pt first');
    const demo =
      s.userData || s.finetune
        ? createRun(this.dev, demoRecord(s, s.userData ? this.dataset!.name : 'shapes', s.finetune ? this.loaded!.source : undefined), s.userData ? this.dataset!.data : shapesData(demoRecord(s)), {
            hyp: demoHyp(),
            weights: s.finetune ? this.loaded!.weights : undefined,
            cacheBytes: TAB_CACHE_BYTES,
          })
        : createDemoRun(this.dev, s);
    if (demo.transfer) this.post({ type: 'note', about: 'fine-tuning', message: demo.transfer.line });
    await this.begin(s, demo);
  }

  /** Continue a run from a training checkpoint: the page's own download or `gelan train`'s last.safetensors. */
  private async resumeCheckpoint(name: string, bytes: Uint8Array, maxSteps: number): Promise<void> {
    await this.stopRun();
    const ck = readCheckpoint(bytes, name);
    const o = ck.meta.options;
    let data: RunData;
    if (o.data === 'shapes') data = shapesData(o as unknown as Parameters<typeof shapesData>[0]);
    else if (this.dataset) data = this.dataset.data;
    else throw new Error(`${name} trains on '${String(o.data)}': load that dataset first (drop it on the page), then resume`);
    if (o.data !== 'shapes' && this.dataset && this.dataset.name !== o.data) this.post({ type: 'note', about: 'resume', message: `${name} was trained on '${String(o.data)}'; continuing on the loaded '${this.dataset.name}'` });
    const demo = resumeRun(this.dev, ck, name, data, TAB_CACHE_BYTES);
    const s: RunSettings = { cfg: String(o.cfg), imgsz: demo.record.imgsz, batch: demo.record.batch, epochs: demo.record.epochs, trainImages: data.train.length, valImages: data.val.length, seed: demo.record.seed, maxSteps, userData: o.data !== 'shapes' };
    this.post({ type: 'note', about: 'resume', message: `resuming ${name} at epoch ${ck.meta.state.epoch}, iteration ${ck.meta.state.iteration}` });
    await this.begin(s, demo);
  }

  private async begin(s: RunSettings, demo: DemoRun): Promise<void> {
    const { model, trainer, preview, names, config } = demo;
    // a batch whose activations cannot be bound at all is refused before any data is loaded
    const limit = this.dev.limits.maxStorageBufferBindingSize;
    const fit = largestBatch(model, s.imgsz, limit);
    if (s.batch > fit.batch) {
      trainer.dispose();
      model.dispose();
      const mib = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MiB`;
      throw new Error(
        `batch ${s.batch} at ${s.imgsz} px needs ${mib(s.batch * fit.bytesPerImage)} for layer ${fit.layer}'s output in one buffer, more than this device binds (maxStorageBufferBindingSize ${mib(limit)}) — ` +
          (fit.batch >= 1 ? `try batch ${fit.batch}` : `even batch 1 does not fit: try a smaller image size than ${s.imgsz} px`),
      );
    }
    const run: Run = { settings: s, model, trainer, preview, names, maxSteps: s.maxSteps, steps: 0, loop: null };
    this.run = run;
    this.oomReported = false;
    this.post({ type: 'model', source: config.source, parameters: model.numParameters(), gflops: model.gflops(s.imgsz), names, origin: 'trained' });
    trainer.onStep((e) => {
      run.steps++;
      this.post({ type: 'step', epoch: e.epoch, epochs: trainer.options.epochs, batch: e.batch, batches: e.batches, iteration: e.iteration, items: e.items, imagesPerSecond: e.imagesPerSecond, lr: e.lr[1] });
      if (run.maxSteps > 0 && run.steps >= run.maxSteps && this.state === 'training') {
        this.setState('pausing');
        trainer.stop();
      }
    });
    trainer.onEpoch(async (e) => {
      const val = e.val ? { map50: e.val.map50, map: e.val.map, mp: e.val.mp, mr: e.val.mr, seconds: e.val.seconds } : null;
      this.post({ type: 'epoch', epoch: e.epoch, epochs: e.epochs, train: e.train, val, seconds: e.seconds });
      await this.predictions(run, e.epoch);
    });
    await this.predictions(run, -1);
    await this.startLoop(run);
  }

  /** Detections of the EMA model on the first validation images, with their labels. */
  private async predictions(run: Run, epoch: number): Promise<void> {
    const batch = await run.preview.batch(0, 0);
    const dets = await detectBatch(run.trainer.ema.ema, batch, { conf: 0.25, iou: 0.45, maxDet: 100 });
    const images: { image: Rgb; boxes: Box[]; labels: LabelBox[] }[] = [];
    for (let i = 0; i < dets.length; i++) {
      const { image } = await run.preview.item(batch.indices[i], () => 0.5);
      images.push({ image, boxes: dets[i], labels: batchLabels(batch, i) as LabelBox[] });
    }
    this.post({ type: 'predictions', epoch, images }, images.map((x) => x.image.data.buffer as ArrayBuffer));
  }

  /** What to try when the GPU runs out of memory during this run. */
  memoryHint(): string {
    const r = this.run;
    if (!r) return 'free GPU memory (close other tabs using the GPU) and try again';
    const b = r.settings.batch;
    return b > 1 ? `try batch ${Math.max(1, Math.floor(b / 2))} (this run: batch ${b} at ${r.settings.imgsz} px)` : `batch is already 1: try a smaller image size than ${r.settings.imgsz} px or a smaller model`;
  }

  /** The device ran out of memory or a buffer outgrew its limits: stop training and say which batch size to try. */
  outOfMemory(message: string): void {
    if (this.oomReported) return;
    this.oomReported = true;
    const r = this.run;
    if (r && (this.state === 'training' || this.state === 'pausing')) {
      this.setState('pausing');
      r.trainer.stop();
    }
    this.post({ type: 'error', about: 'GPU memory', message: `${message || 'out of memory'} — ${this.memoryHint()}` });
  }

  private async startLoop(run: Run): Promise<void> {
    this.setState('training');
    const loop = (async () => {
      try {
        await run.trainer.run();
      } catch (e) {
        const msg = (e as Error).message;
        if (/out of memory|allocation failed|OutOfMemory|maxStorageBufferBindingSize/i.test(msg)) this.outOfMemory(msg);
        else this.post({ type: 'error', about: 'training', message: msg });
      }
      if (this.run !== run) return;
      run.loop = null;
      this.setState(run.trainer.state.epoch >= run.trainer.options.epochs ? 'done' : 'paused');
    })();
    run.loop = loop;
  }

  /** The model detection and saving use: loaded weights, else the EMA of the run. */
  private current(): { model: DetectionModel; names: readonly string[]; source: string } {
    if (this.loaded) return this.loaded;
    if (this.run) return { model: this.run.trainer.ema.ema, names: this.run.names, source: `${this.run.settings.cfg} (EMA of the run)` };
    throw new Error('no model yet: start training or load weights first');
  }

  private async detect(id: number, image: Rgb, conf: number, imgsz: number): Promise<void> {
    const { model, names } = this.current();
    const t0 = performance.now();
    const boxes = await detectImage(model, image, { imgsz, conf, iou: 0.45 });
    this.post({ type: 'detections', id, boxes, ms: performance.now() - t0, names });
  }

  private async loadWeights(name: string, bytes: Uint8Array): Promise<void> {
    const w = readWeightFile(bytes, name);
    const model = modelFromWeights(this.dev, w, name);
    this.loaded?.model.dispose();
    const names = w.names ?? Array.from({ length: model.nc }, (_, i) => String(i));
    this.loaded = { model, names, source: name, weights: w };
    this.post({ type: 'model', source: `${name}: ${model.config.source}`, parameters: model.numParameters(), gflops: model.gflops(640), names, origin: 'loaded' });
  }

  private async saveWeights(removeAux: boolean): Promise<void> {
    const { model, names, source } = this.current();
    const target = removeAux && this.run && !this.loaded ? this.run.settings.cfg.replace(/^yolov9-/, 'gelan-') : null;
    const out = target && target !== this.run!.settings.cfg ? removeAuxBranch(model, builtinConfig(target, { nc: model.nc })) : model;
    try {
      const bytes = await saveSafetensors(out, { names: JSON.stringify(names) });
      const base = target ?? (this.loaded ? source.replace(/\.(pt|pth|safetensors)$/, '') : this.run!.settings.cfg);
      this.post({ type: 'weights', name: `${base}.safetensors`, bytes, kind: 'weights' }, [bytes.buffer as ArrayBuffer]);
    } finally {
      if (out !== model) out.dispose();
    }
  }

  /** The run's training checkpoint, as `gelan train` writes weights/last.safetensors. */
  private async saveCheckpoint(): Promise<void> {
    const r = this.run;
    if (!r) throw new Error('no training run to save: start training first');
    if (this.state === 'training' || this.state === 'pausing') throw new Error('pause training first: a checkpoint is taken between steps');
    const bytes = await r.trainer.checkpoint(r.names);
    this.post({ type: 'weights', name: `${r.settings.cfg}-epoch${r.trainer.state.epoch}-last.safetensors`, bytes, kind: 'checkpoint' }, [bytes.buffer as ArrayBuffer]);
  }

  /** Open a YOLO dataset from a zip or a folder's files: checked now (labels, image signatures), decoded per batch. */
  private async loadDataset(name: string, zip: Blob | undefined, files: readonly FolderFile[] | undefined): Promise<void> {
    if (this.state === 'training' || this.state === 'pausing') throw new Error('pause training first');
    let fs: FileSystem;
    const warnings: string[] = [];
    if (zip) {
      const a = await openZip(blobSource(zip), name);
      warnings.push(...a.skipped);
      fs = a.fs;
    } else if (files && files.length > 0) {
      const map = new Map<string, FileReader>();
      for (const f of files) {
        map.set(`/${f.path.replace(/^\/+/, '')}`, {
          read: async () => new Uint8Array(await f.file.arrayBuffer()),
          head: async (n) => new Uint8Array(await f.file.slice(0, n).arrayBuffer()),
        });
      }
      fs = readerFileSystem(map);
    } else throw new Error(`${name}: no files`);
    const data = await openUserDataset(fs, '/', { label: name });
    warnings.push(...data.warnings);
    this.dataset = { name, data };
    const thumbs = new DataLoader(data.train, { imgsz: 160, batchSize: Math.min(THUMBNAILS, data.train.length), augment: false });
    const batch = await thumbs.batch(0, 0);
    const thumbnails: { image: Rgb; labels: LabelBox[] }[] = [];
    for (let i = 0; i < batch.paths.length; i++) {
      const { image } = await thumbs.item(batch.indices[i], () => 0.5);
      thumbnails.push({ image, labels: batchLabels(batch, i) as LabelBox[] });
    }
    const [train, val] = [await datasetStats(data.train), await datasetStats(data.val)];
    this.post({ type: 'dataset', name, source: data.source, names: data.names, train, val, warnings, thumbnails }, thumbnails.map((t) => t.image.data.buffer as ArrayBuffer));
  }

  /** The benchmark suite of `gelan bench` / `npm run bench` (our engine only) on this tab's device. */
  private async bench(filter: string, quick: boolean): Promise<void> {
    if (this.state === 'training' || this.state === 'pausing') throw new Error('pause training first: both would share the device and the timings would mean nothing');
    const re = parseCaseFilter(filter, `'${filter}'`, { quick });
    const r = await runBenchmarks({ device: this.dev.gpu, filter: re, quick, skipMemory: true, log: (text) => this.post({ type: 'benchLine', text }) });
    const rows = r.cases.map((c) => ({ name: c.name, median_ms: c.median_ms, timing: c.timing, gflops: c.flops / c.median_ms / 1e6, samples: c.samples }));
    this.post({ type: 'benchDone', adapter: r.adapter, peakGflops: r.peak.gflops, rows });
  }

  private async dispose(): Promise<void> {
    await this.stopRun();
    this.loaded?.model.dispose();
    this.loaded = null;
    const liveBytes = this.dev.memory().liveBytes;
    this.dev.dispose();
    this.post({ type: 'disposed', liveBytes });
  }
}

/** What this file uses of DedicatedWorkerGlobalScope (the project's lib is DOM, not WebWorker). */
interface WorkerScope {
  postMessage(m: unknown, transfer: Transferable[]): void;
  onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
}
const scope = self as unknown as WorkerScope;
const post = (m: FromWorker, transfer: Transferable[] = []): void => scope.postMessage(m, transfer);

async function start(): Promise<void> {
  if (!('gpu' in navigator) || !navigator.gpu) {
    post({ type: 'fatal', message: 'WebGPU is not available in this browser (navigator.gpu is missing in workers). Use a recent Chrome or Edge, or Firefox/Safari with WebGPU enabled.' });
    return;
  }
  let dev: Device;
  try {
    dev = await createDevice();
  } catch (e) {
    post({ type: 'fatal', message: (e as Error).message });
    return;
  }
  const session = new Session(dev, post);
  void dev.gpu.lost.then((info) => {
    if (info.reason !== 'destroyed') post({ type: 'fatal', message: `the GPU device was lost: ${info.message || info.reason} (if it ran out of memory: ${session.memoryHint()})` });
  });
  dev.gpu.addEventListener('uncapturederror', (ev) => {
    const err = (ev as GPUUncapturedErrorEvent).error;
    if (typeof GPUOutOfMemoryError !== 'undefined' && err instanceof GPUOutOfMemoryError) session.outOfMemory(err.message);
  });
  post({ type: 'device', device: session.report() });
  post({ type: 'state', state: 'idle', steps: 0 });
  // one message at a time, in order: a detect sent while training runs between training steps
  let queue = Promise.resolve();
  scope.onmessage = (ev: MessageEvent<ToWorker>) => {
    const m = ev.data;
    queue = queue.then(() =>
      session.handle(m).catch((e: unknown) => post({ type: 'error', about: m.type, message: e instanceof Error ? e.message : String(e) })),
    );
  };
}

void start();
