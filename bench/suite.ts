// Our engine's side of the benchmark, usable on its own (no peers): `runBenchmarks(opts)` runs every case on
// one device and returns the medians, the measured peak and the training-memory line. `npm run bench` adds
// the peers around the same functions (bench/main.ts); the CLI can call this on a user's device.
import { type Device, type Tensor, add, cast, createDevice, describeSubgroupMatrix, mean, tensor, tidy } from '../engine';
import { createModel } from '../models';
import { type Case, allCases, caseFlops, randomData } from './cases';
import { type GpuTimer, instrument } from './gpu-timer';
import { type MeasureOptions, type Measurement, type Prepared, measure, verifyRun } from './harness';
import { prepareOurs } from './ours';
import { type Peak, measurePeak } from './peak';

export interface SuiteOptions {
  /** Run on this GPUDevice (host-owned, never destroyed); default: a new device from createDevice(). */
  readonly device?: GPUDevice;
  /** Only cases whose name matches. */
  readonly filter?: RegExp | string;
  /** 3 samples, no batch-8 and no 640 cases (a few minutes on a software adapter). */
  readonly quick?: boolean;
  /** Skip the whole-model cases. */
  readonly skipModels?: boolean;
  /** Skip the training-memory line (also skipped when no whole-model case is selected). */
  readonly skipMemory?: boolean;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
  /** Measure the tilings of each case's shapes before timing it (Device.tiles), instead of the rules. */
  readonly tileSearch?: boolean;
}

export interface OurResult {
  readonly name: string;
  readonly kind: Case['kind'];
  /** FLOPs of one run (convolutions and matmuls only). */
  readonly flops: number;
  /** GPU time (timestamp queries) when available, otherwise wall time. */
  readonly median_ms: number;
  readonly timing: 'gpu' | 'wall';
  readonly wall_median_ms: number;
  readonly gpu_median_ms: number | null;
  readonly samples: number;
}

export interface MemoryLine {
  readonly what: string;
  /** Bytes of GPU buffers the engine held at the end of the step: live + pooled (nothing was freed to the driver). */
  readonly peakPoolBytes: number;
  /** Live bytes when the forward and the loss were recorded, before backward (every saved activation alive). */
  readonly liveAfterForwardBytes: number;
  readonly paramBytes: number;
  readonly gradBytes: number;
  /** Bytes of the tensors the autograd graph saved for backward (unique buffers, pool bucket sizes). */
  readonly savedBytes: number;
  readonly inputBytes: number;
}

export interface SuiteResult {
  readonly adapter: string;
  readonly date: string;
  readonly peak: Peak;
  readonly cases: OurResult[];
  /** Cases our engine failed (the run goes on with the others). */
  readonly failed: { name: string; error: string }[];
  readonly memory: MemoryLine | null;
}

/**
 * Samples per case: 9, fewer (at least 3) once sampling has taken `budgetMs` — only slow cases (a batch-8 conv
 * on a slow peer, the 640 training steps) end up with fewer; the JSON records each count.
 */
export function repsFor(c: Case, quick: boolean): MeasureOptions {
  if (quick) return { warmup: 0, reps: 3, minReps: 3, budgetMs: 0, slowMs: 0 };
  return { warmup: 1, reps: 9, minReps: 3, budgetMs: c.kind === 'model' ? 20_000 : 10_000, slowMs: 2000 };
}

/** Cases selected by the options (the quick run drops the batch-8 convs and the 640 model cases). */
export function selectCases(o: { filter?: RegExp | string; quick?: boolean; skipModels?: boolean }): Case[] {
  const re = o.filter === undefined ? null : typeof o.filter === 'string' ? new RegExp(o.filter) : o.filter;
  return allCases().filter(
    (c) =>
      (!re || re.test(c.name)) &&
      !(o.skipModels && c.kind === 'model') &&
      !(o.quick && ((c.kind === 'model' && c.size === 640) || (c.kind === 'conv' && c.n > 1))),
  );
}

/**
 * A user's case filter (CLI flag, demo page field) as a RegExp, checked: `label` names it in the errors for text
 * that is no regular expression or that selects no case.
 */
export function parseCaseFilter(text: string | undefined, label: string, o: { quick?: boolean; skipModels?: boolean } = {}): RegExp | undefined {
  let filter: RegExp | undefined;
  try {
    filter = text ? new RegExp(text) : undefined;
  } catch (e) {
    throw new Error(`${label}: not a regular expression (${(e as Error).message})`);
  }
  if (selectCases({ ...o, filter }).length === 0) throw new Error(`no benchmark case matches ${label}`);
  return filter;
}

export interface OursRun {
  readonly result: OurResult;
  readonly measurement: Measurement;
  /** Our results of the verification run (the reference the peers are checked against). */
  readonly reference: Float32Array[];
}

/** Build, verify-run, measure and free our implementation of one case. */
export async function runOurCase(dev: Device, timer: GpuTimer | null, c: Case, quick: boolean): Promise<OursRun> {
  const p: Prepared & { gflops?: number; firstConvGflops?: number } = prepareOurs(dev, c);
  try {
    const idle = (): Promise<void> => dev.sync();
    let first = await verifyRun(p, idle); // also the first warm-up
    const reference = first.results;
    if (dev.tiles.pendingCount > 0) {
      // with the tile search on, the verification run queued this case's shapes: measure them, then warm up the
      // chosen tilings (the reference stays the rule tilings' result)
      await dev.tiles.run();
      first = await verifyRun(p, idle);
    }
    const m = await measure(p, timer, idle, repsFor(c, quick), first.ms);
    let flops = caseFlops(c);
    if (c.kind === 'model') flops = (c.train ? 3 * p.gflops! - p.firstConvGflops! : p.gflops!) * 1e9;
    const gpu = m.gpu?.median_ms ?? null;
    return {
      reference,
      measurement: m,
      result: {
        name: c.name,
        kind: c.kind,
        flops,
        median_ms: gpu ?? m.wall.median_ms,
        timing: gpu === null ? 'wall' : 'gpu',
        wall_median_ms: m.wall.median_ms,
        gpu_median_ms: gpu,
        samples: m.wall.n,
      },
    };
  } finally {
    await p.dispose();
    await dev.sync();
  }
}

/** Unique buffers saved by the autograd graph that leads to `root`, in bytes. */
function savedBytes(root: Tensor): number {
  const seen = new Set<Tensor>();
  const bufs = new Set<unknown>();
  let bytes = 0;
  const stack = [root];
  while (stack.length > 0) {
    const t = stack.pop()!;
    if (seen.has(t) || !t.node) continue;
    seen.add(t);
    for (const s of t.node.saved) {
      if (!bufs.has(s.storage.buf)) {
        bufs.add(s.storage.buf);
        bytes += s.storage.buf.size;
      }
    }
    for (const i of t.node.inputs) if (i) stack.push(i);
  }
  return bytes;
}

/**
 * GPU memory of one gelan-t training step at `size`, batch `batch`, on its own engine Device whose pool never
 * frees (so live + pooled after the step is the high-water mark of what the engine allocated), next to the
 * sum of parameters + gradients + the activations the graph saved for backward.
 */
/** `mixed`: mixed-precision training (f16 activations and their gradients, f32 master weights). */
export async function measureTrainingMemory(gpu: GPUDevice, cfg = 'gelan-t', size = 320, batch = 8, mixed = false): Promise<MemoryLine> {
  const dev = await createDevice({ device: gpu, maxPooledBytes: Number.MAX_SAFE_INTEGER });
  try {
    const model = createModel(dev, cfg, { seed: 0 }).train().setMixedPrecision(mixed);
    const x = tensor(dev, randomData(batch * 3 * size * size, 9).map((v) => (v + 1) / 2), [batch, 3, size, size]).keep();
    const ps = [...model.namedParameters()].map(([, t]) => t);
    const paramBytes = ps.reduce((a, t) => a + t.storage.buf.size, 0);
    let saved = 0;
    let liveAfterForward = 0;
    tidy(dev, () => {
      const out = model.forward(x);
      const levels = [...out.main.levels, ...(out.aux?.levels ?? [])];
      // the loss runs in f32 (under mixed precision the levels are widened, as detectionLoss does)
      const f32 = (t: Tensor): Tensor => (t.dtype === 'f32' ? t : cast(t, 'f32'));
      let loss = mean(f32(levels[0]));
      for (const l of levels.slice(1)) loss = add(loss, mean(f32(l)));
      saved = savedBytes(loss);
      liveAfterForward = dev.memory().liveBytes; // buffers are taken from the pool when an op is recorded
      loss.backward();
    });
    await dev.sync();
    const mem = dev.memory();
    const gradBytes = ps.reduce((a, t) => a + (t.grad ? t.grad.storage.buf.size : 0), 0);
    const line: MemoryLine = {
      what: `${cfg} training step ${size}x${size} batch ${batch}${mixed ? ' (mixed precision)' : ''}`,
      peakPoolBytes: mem.liveBytes + mem.pooledBytes,
      liveAfterForwardBytes: liveAfterForward,
      paramBytes,
      gradBytes,
      savedBytes: saved,
      inputBytes: x.storage.buf.size,
    };
    x.dispose();
    model.dispose();
    return line;
  } finally {
    dev.dispose();
  }
}

const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;

export function formatMemory(m: MemoryLine): string {
  const est = m.paramBytes + m.gradBytes + m.savedBytes + m.inputBytes;
  return (
    `memory: ${m.what}: peak live+pooled ${mib(m.peakPoolBytes)} (live before backward ${mib(m.liveAfterForwardBytes)}); estimate params ${mib(m.paramBytes)} + grads ${mib(m.gradBytes)} + ` +
    `saved activations ${mib(m.savedBytes)} + input ${mib(m.inputBytes)} = ${mib(est)} (peak / estimate ${(m.peakPoolBytes / est).toFixed(2)})`
  );
}

/** Our engine alone on every selected case; for `gelan bench` on a user's device. */
export async function runBenchmarks(opts: SuiteOptions = {}): Promise<SuiteResult> {
  const log = opts.log ?? ((): void => {});
  const owner = opts.device ? null : await createDevice();
  const gpu = opts.device ?? owner!.gpu;
  const timer = instrument(gpu);
  const dev = await createDevice({ device: timer.device, tileSearch: opts.tileSearch ?? false });
  try {
    log(`adapter: ${adapterName(owner?.adapter ?? null, gpu)}`);
    log(`subgroup matrices: ${describeSubgroupMatrix(owner ?? dev)}`);
    const peak = await measurePeak(gpu);
    log(`peak: ${peak.gflops.toFixed(1)} GFLOP/s (${peak.variant}, ${peak.timing} time)`);
    const selected = selectCases(opts);
    log(`${selected.length} cases, ${opts.quick ? '3 samples each' : 'up to 9 samples each after a warm-up'}`);
    const cases: OurResult[] = [];
    const failed: { name: string; error: string }[] = [];
    const t0 = performance.now();
    for (const [i, c] of selected.entries()) {
      const at = (): string => `[${i + 1}/${selected.length}, ${((performance.now() - t0) / 1000).toFixed(0)} s]`;
      try {
        const { result: r } = await runOurCase(dev, timer.available ? timer : null, c, opts.quick ?? false);
        cases.push(r);
        log(`${at()} ${r.name}: ${r.median_ms.toFixed(2)} ms (${r.timing}), ${(r.flops / r.median_ms / 1e6).toFixed(1)} GFLOP/s`);
      } catch (e) {
        // a failing case is a finding to report, not a reason to lose the rest of the run
        const error = (e as Error).message.split('\n')[0];
        failed.push({ name: c.name, error });
        log(`${at()} ${c.name}: FAILED (${error})`);
      }
    }
    const withMemory = !opts.skipMemory && selected.some((c) => c.kind === 'model');
    const memory = withMemory ? await measureTrainingMemory(gpu, 'gelan-t', 320, 8) : null;
    if (memory) log(formatMemory(memory));
    return { adapter: adapterName(owner?.adapter ?? null, gpu), date: new Date().toISOString(), peak, cases, failed, memory };
  } finally {
    dev.dispose();
    owner?.dispose();
  }
}

export function adapterName(a: { vendor: string; architecture: string; device: string; description: string } | null, gpu: GPUDevice): string {
  const info = a ?? (gpu as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  if (!info) return 'unknown adapter';
  return [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' / ');
}
