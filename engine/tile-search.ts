// Tile sizes chosen by measurement. Kernels with tunable tiles (the conv forward window kernel, the conv
// weight-gradient schedule, the subgroup matmul) ask `choose()` for a tiling per problem shape: a cached choice when one was measured, else the rule
// the kernel was given. With the search on, every shape met without a cached choice is queued with its
// candidates and a closure that makes scratch tensors of that shape to run candidates on; `run()` (async, because
// timing needs the GPU to finish) times each candidate with timestamp queries and caches the fastest. Ops stay
// synchronous; callers run the search between steps (the trainer after its first step, `gelan bench --tile-search`).
// The cache is plain JSON, keyed by adapter, so a tuned device can be saved and reloaded.
import type { Device } from './device';

/** One candidate tiling; a plain JSON object (its field names are the kernel's tuning knobs). */
export type TileChoice = object;

/** Scratch inputs of one problem shape: `run` records the dispatches of one candidate on them. */
export interface TileBench<T extends TileChoice> {
  /** Runs the problem once with `choice`. */
  run(choice: T): void;
  /** Frees what the benchmark allocated. */
  dispose(): void;
}

interface PendingSearch {
  readonly key: string;
  readonly candidates: readonly TileChoice[];
  readonly prepare: () => TileBench<TileChoice>;
}

/** What a search found for one shape: GPU milliseconds per candidate (median), and the one kept. */
export interface TileSearchResult {
  readonly key: string;
  readonly ms: readonly { readonly choice: TileChoice; readonly ms: number }[];
  readonly chosen: TileChoice;
}

/** The saved form of a cache. */
export interface TileCacheJSON {
  readonly adapter: string;
  readonly choices: Readonly<Record<string, TileChoice>>;
}

/** Options of TileSearch.run(). */
export interface TileSearchOptions {
  /** Timed runs per candidate after one untimed run that compiles it (median kept; default 3). */
  readonly reps?: number;
  /** Called after each shape is searched. */
  readonly onProgress?: (done: number, total: number, result: TileSearchResult) => void;
}

/** Measured choice of kernel tile shapes per problem size on this device; saved as JSON and reloaded on the same adapter. */
export class TileSearch {
  /** Queue shapes without a cached choice for the next run() (off by default: choices come from the rules). */
  enabled = false;
  private readonly choices = new Map<string, TileChoice>();
  private readonly pending = new Map<string, PendingSearch>();

  constructor(private readonly device: Device) {}

  /** A label for the adapter the choices were measured on; a saved cache only loads onto the same one. */
  get adapterKey(): string {
    const a = this.device.adapter;
    return [a.vendor, a.architecture, a.device, a.description].filter((s) => s).join(' / ') || 'unknown adapter';
  }

  /** The cached choice for `key`, else `rule`; with the search enabled an unseen key is queued. */
  choose<T extends TileChoice>(key: string, rule: T, candidates: readonly T[], prepare: () => TileBench<T>): T {
    const cached = this.choices.get(key);
    if (cached) return cached as T;
    if (this.enabled && candidates.length > 1 && !this.pending.has(key)) {
      this.pending.set(key, { key, candidates, prepare: prepare as () => TileBench<TileChoice> });
    }
    return rule;
  }

  /** Shapes waiting to be searched. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Cached choices. */
  get size(): number {
    return this.choices.size;
  }

  /** Time every queued shape's candidates and cache the fastest of each. Needs timestamp queries. */
  async run(opts: TileSearchOptions = {}): Promise<TileSearchResult[]> {
    const dev = this.device;
    if (!dev.features.timestampQuery) throw new Error('tile search needs the timestamp-query feature, which this device does not have');
    const reps = opts.reps ?? 3;
    const jobs = [...this.pending.values()];
    this.pending.clear();
    const results: TileSearchResult[] = [];
    for (const job of jobs) {
      const ms: { choice: TileChoice; ms: number }[] = [];
      const bench = job.prepare();
      try {
        for (const choice of job.candidates) {
          bench.run(choice); // compiles the pipeline, outside the timing
          await dev.sync();
          const samples: number[] = [];
          for (let r = 0; r < reps; r++) {
            dev.profileStart();
            bench.run(choice);
            const prof = await dev.profileEnd();
            samples.push(prof.reduce((s, p) => s + p.ms, 0));
          }
          samples.sort((a, b) => a - b);
          ms.push({ choice, ms: samples[Math.floor(samples.length / 2)] });
        }
      } finally {
        bench.dispose();
      }
      const best = ms.reduce((a, b) => (b.ms < a.ms ? b : a));
      this.choices.set(job.key, best.choice);
      const result = { key: job.key, ms, chosen: best.choice };
      results.push(result);
      opts.onProgress?.(results.length, jobs.length, result);
    }
    return results;
  }

  /** The measured choices, for saving (load them with `load`). */
  toJSON(): TileCacheJSON {
    return { adapter: this.adapterKey, choices: Object.fromEntries(this.choices) };
  }

  /** Load saved choices; they must come from the same adapter (tile speed is a property of the device). */
  load(json: TileCacheJSON, source = 'tile cache'): void {
    if (typeof json !== 'object' || json === null || typeof json.adapter !== 'string' || typeof json.choices !== 'object' || json.choices === null) {
      throw new Error(`${source}: not a tile cache (expected {adapter, choices})`);
    }
    if (json.adapter !== this.adapterKey) {
      throw new Error(`${source}: measured on '${json.adapter}', this device is '${this.adapterKey}'; delete it or search again`);
    }
    for (const [key, choice] of Object.entries(json.choices)) {
      if (typeof choice !== 'object' || choice === null) throw new Error(`${source}: choice for '${key}' is not an object`);
      this.choices.set(key, choice);
    }
  }

  /** Forget every choice and queued shape. */
  clear(): void {
    this.choices.clear();
    this.pending.clear();
  }
}
