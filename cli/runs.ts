// Run directories (runs/<task>/<name>, incremented like the official increment_path), results.csv with the
// official column names, and progress output: a bar on a TTY, plain lines otherwise.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { SingleBar } from 'cli-progress';

/** The folder a new run will use (not created yet): runs/<task>/<name>, else <name>2, <name>3, … */
export function nextRunDir(project: string, name: string, existOk = false): string {
  let dir = join(project, name);
  if (!existOk) for (let k = 2; existsSync(dir); k++) dir = join(project, `${name}${k}`);
  return dir;
}

export function runDir(project: string, name: string, existOk = false): string {
  const dir = nextRunDir(project, name, existOk);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/**
 * Run `work`, which makes and fills the new run folder `dir`. When it fails, what it made (the folder, and the
 * project folders above it that did not exist) is removed unless it holds a file `keep` accepts (a checkpoint,
 * an output), so failed runs leave no empty or half-made folders behind.
 */
export async function discardOnFailure<T>(dir: string | null, keep: (file: string) => boolean, work: () => Promise<T>): Promise<T> {
  let made = dir && !existsSync(dir) ? dir : null;
  while (made && !existsSync(dirname(made)) && dirname(made) !== made) made = dirname(made);
  try {
    return await work();
  } catch (e) {
    if (made && existsSync(made) && !readdirSync(made, { recursive: true, encoding: 'utf8' }).some((f) => statSync(join(made, f)).isFile() && keep(f))) rmSync(made, { recursive: true, force: true });
    throw e;
  }
}

export const RESULT_COLUMNS = [
  'train/box_loss',
  'train/cls_loss',
  'train/dfl_loss',
  'metrics/precision',
  'metrics/recall',
  'metrics/mAP_0.5',
  'metrics/mAP_0.5:0.95',
  'val/box_loss',
  'val/cls_loss',
  'val/dfl_loss',
  'x/lr0',
  'x/lr1',
  'x/lr2',
] as const;

/** results.csv exactly as the official loggers write it: right-aligned %20s header and %20.5g values. */
/** The rows of a results.csv written by writeResultsCsv. */
export function readResultsCsv(path: string): Record<string, number>[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => {
      const v = l.split(',').map((x) => Number(x.trim()));
      const row: Record<string, number> = { epoch: v[0] };
      RESULT_COLUMNS.forEach((c, i) => (row[c] = v[i + 1]));
      return row;
    });
}

export function writeResultsCsv(path: string, rows: readonly Record<string, number>[]): void {
  const g5 = (v: number): string => {
    if (!Number.isFinite(v)) return String(v);
    const s = v.toPrecision(5);
    // %g drops trailing zeros and uses exponents below 1e-4
    const n = Number(s);
    if (n !== 0 && (Math.abs(n) < 1e-4 || Math.abs(n) >= 1e5)) return n.toExponential(4).replace(/\.?0+e/, 'e').replace(/e([+-])(\d)$/, 'e$10$2');
    return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
  };
  const head = ['epoch', ...RESULT_COLUMNS].map((c) => c.padStart(20)).join(',');
  const lines = rows.map((r) => [String(r.epoch).padStart(20), ...RESULT_COLUMNS.map((c) => g5(r[c] ?? NaN).padStart(20))].join(','));
  writeFileSync(path, `${head}\n${lines.join('\n')}\n`);
}

export interface Progress {
  update(done: number, text: string): void;
  stop(): void;
}

/** A progress bar on a TTY; on pipes (CI, logs) one plain line every `every` updates and at the end. */
export function progress(total: number, label: string, every = 10): Progress {
  if (process.stdout.isTTY) {
    // on stdout, whose TTY decides that a bar is drawn (cli-progress defaults to stderr, which the CLI relays)
    const bar = new SingleBar({ format: `${label} |{bar}| {value}/{total} {text} | ETA {eta_formatted}`, hideCursor: true, clearOnComplete: false, stream: process.stdout }, undefined);
    bar.start(total, 0, { text: '' });
    return { update: (done, text) => bar.update(done, { text }), stop: () => bar.stop() };
  }
  let n = 0;
  const t0 = performance.now();
  return {
    update: (done, text) => {
      if (++n % every === 0 || done === total) {
        const s = (performance.now() - t0) / 1000;
        const eta = done > 0 ? (s / done) * (total - done) : 0;
        console.log(`${label} ${done}/${total} ${text} | ${s.toFixed(0)}s elapsed, ETA ${eta.toFixed(0)}s`);
      }
    },
    stop: () => undefined,
  };
}
