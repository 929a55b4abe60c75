// Measurement protocol shared by our engine and every peer.
//
// One sample: setup() (untimed; e.g. the forward whose backward is measured), then wait until the queue is
// idle, then [timer.begin(), t0, run(), sync(), t1], then teardown() (untimed). `wall` = t1 − t0: host-side
// recording + submit + GPU execution + the wait for completion (sync is `queue.onSubmittedWorkDone()` after the
// implementation has submitted everything, or the implementation's own completion promise). `gpu` = the sum of
// compute-pass durations from timestamp queries (see gpu-timer.ts), when the passes were instrumented.
// Warm-up runs (pipeline compilation, first allocations) are not sampled. Statistics: median, quartiles.
import type { GpuTimer } from './gpu-timer';

export interface Prepared {
  /** Untimed work before each sample. */
  setup?(): void | Promise<void>;
  /** The measured work: records and submits GPU work. */
  run(): void | Promise<void>;
  /** Resolves when the GPU has finished everything run() submitted (part of the wall time). */
  sync(): Promise<void>;
  /** Untimed clean-up after each sample. */
  teardown?(): void | Promise<void>;
  /** Results of the last run (call between run/sync and teardown), NCHW / OIHW / row-major, for verification. */
  results?(): Promise<Float32Array[]>;
  /** Free everything. */
  dispose(): void | Promise<void>;
  /** How the implementation expresses the case when it has no direct op for it (shown under the table). */
  readonly note?: string;
}

export interface Stats {
  readonly median_ms: number;
  readonly q1_ms: number;
  readonly q3_ms: number;
  readonly min_ms: number;
  readonly n: number;
}

export interface Measurement {
  readonly wall: Stats;
  /** Timestamp-query GPU time, null when the passes could not be timed. */
  readonly gpu: Stats | null;
}

export interface MeasureOptions {
  /** Unsampled runs after the verification run (which already compiled everything). */
  readonly warmup: number;
  /** Samples wanted. */
  readonly reps: number;
  /** Fewer samples (but at least minReps) when samples are slow: stop once this much time was spent sampling. */
  readonly budgetMs: number;
  readonly minReps: number;
  /** Skip the extra warm-up when the verification run took longer than this (its compile dominates anyway). */
  readonly slowMs: number;
}

function quantile(sorted: readonly number[], q: number): number {
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}

export function stats(xs: readonly number[]): Stats {
  const s = [...xs].sort((a, b) => a - b);
  return { median_ms: quantile(s, 0.5), q1_ms: quantile(s, 0.25), q3_ms: quantile(s, 0.75), min_ms: s[0], n: s.length };
}

/**
 * One unsampled pass through the protocol that returns the results, for verification; it is also the first
 * warm-up (pipeline compilation). `ms` is its wall time including compilation.
 */
export async function verifyRun(p: Prepared, sync: () => Promise<void>): Promise<{ results: Float32Array[]; ms: number }> {
  await p.setup?.();
  await sync();
  const t0 = performance.now();
  await p.run();
  await p.sync();
  const ms = performance.now() - t0;
  const results = p.results ? await p.results() : [];
  await p.teardown?.();
  return { results, ms };
}

/** `firstMs`: the verification run's wall time. */
export async function measure(p: Prepared, timer: GpuTimer | null, idle: () => Promise<void>, o: MeasureOptions, firstMs = 0): Promise<Measurement> {
  const sample = async (): Promise<[number, number | null]> => {
    await p.setup?.();
    await idle();
    timer?.begin();
    const t0 = performance.now();
    await p.run();
    await p.sync();
    const wall = performance.now() - t0;
    const gpu = timer ? await timer.end() : null;
    await p.teardown?.();
    return [wall, gpu];
  };
  for (let i = 0; i < (firstMs > o.slowMs ? 0 : o.warmup); i++) await sample();
  const walls: number[] = [];
  const gpus: number[] = [];
  let gpuOk = timer !== null;
  const start = performance.now();
  while (walls.length < o.reps) {
    const [w, g] = await sample();
    walls.push(w);
    if (g === null) gpuOk = false;
    else gpus.push(g);
    if (walls.length >= o.minReps && performance.now() - start > o.budgetMs) break;
  }
  return { wall: stats(walls), gpu: gpuOk && gpus.length === walls.length ? stats(gpus) : null };
}

/**
 * Largest |a − b| and the largest |b| (reference) over all arrays; ok when maxAbs ≤ tol · refMax.
 * tol 1e-3 for single ops: float32 sums of up to ~10^5 products of O(1) values in a different order stay far
 * below it (~1e-6 relative), and any indexing or padding error is far above it. The measured agreement is
 * ~1e-6 everywhere, the BatchNorm-heavy block included.
 */
export function compare(got: readonly Float32Array[], ref: readonly Float32Array[], tol = 1e-3): { maxAbs: number; refMax: number; ok: boolean; why?: string } {
  if (got.length !== ref.length) return { maxAbs: NaN, refMax: NaN, ok: false, why: `${got.length} results, expected ${ref.length}` };
  let maxAbs = 0;
  let refMax = 0;
  for (let j = 0; j < ref.length; j++) {
    const a = got[j];
    const b = ref[j];
    if (a.length !== b.length) return { maxAbs: NaN, refMax: NaN, ok: false, why: `result ${j} has ${a.length} elements, expected ${b.length}` };
    for (let i = 0; i < b.length; i++) {
      const d = Math.abs(a[i] - b[i]);
      if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
      const m = Math.abs(b[i]);
      if (m > refMax) refMax = m;
    }
  }
  return { maxAbs, refMax, ok: maxAbs <= tol * Math.max(refMax, 1e-6) };
}
