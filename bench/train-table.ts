// The training-throughput table of `npm run bench`: images/s of full training steps of yolov9-t and gelan-t, ours on
// the shared Dawn device beside the official YOLOv9 code on PyTorch CPU (bench/torch_train.py, run after our GPU
// work: lavapipe and PyTorch share the cores), the ratio ours/torch, and per step of ours the dispatches, host
// (JS recording) time and GPU time; then one setting in headless Chromium beside Node.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Device } from '../engine';
import type { GpuTimer } from './gpu-timer';
import { type BrowserTrainResult, measureTrainingInChromium } from './train-browser';
import { type TrainConfig, type TrainMeasurement, type TrainSteps, measureTraining } from './train-step';

export interface TrainTableOptions {
  readonly quick: boolean;
  /** Official WongKinYiu/yolov9 checkout (--yolov9); else torch_train.py looks at GELAN_YOLOV9_DIR, YOLOV9_DIR, /tmp/yolov9. */
  readonly yolov9: string | null;
  readonly torch: boolean;
  /** Threads of the PyTorch line (0: every CPU). */
  readonly torchThreads: number;
  readonly browser: boolean;
  /** Only the models whose name ('gelan-t 192px b16') matches. */
  readonly filter?: RegExp;
  /** Repository root (the page is bundled from its sources) and a scratch folder for the page bundle. */
  readonly root: string;
  readonly outDir: string;
}

export interface TorchTrainResult {
  readonly median_ms?: number;
  readonly images_per_s?: number;
  readonly step_ms?: number[];
  readonly skipped?: string;
}

export interface TrainRow {
  readonly config: TrainConfig;
  readonly ours: TrainMeasurement | { skipped: string };
  torch: TorchTrainResult | null;
}

export interface TrainTable {
  readonly rows: TrainRow[];
  readonly torch: { version: string; threads: number; official: string; stubbed: string[] } | { skipped: string };
  readonly browser: { config: TrainConfig; node: TrainMeasurement | { skipped: string }; chromium: BrowserTrainResult } | null;
}

/** Same number of classes everywhere: a small custom dataset, as users train (the official default is 80). */
const NC = 3;
const CONFIGS: readonly TrainConfig[] = [
  { cfg: 'yolov9-t', imgsz: 192, batch: 16, nc: NC },
  { cfg: 'gelan-t', imgsz: 192, batch: 16, nc: NC },
  { cfg: 'yolov9-t', imgsz: 320, batch: 8, nc: NC },
  { cfg: 'gelan-t', imgsz: 320, batch: 8, nc: NC },
];
/** Small enough for SwiftShader (Chromium's CPU adapter, ~10× slower than lavapipe here) within a minute or two. */
const BROWSER_CONFIG: TrainConfig = { cfg: 'yolov9-t', imgsz: 96, batch: 2, nc: NC };
const BROWSER_QUICK: TrainConfig = { cfg: 'yolov9-t', imgsz: 64, batch: 2, nc: NC };

const isSkip = <T extends object>(r: T | { skipped: string }): r is { skipped: string } => 'skipped' in r;
const f = (v: number | null | undefined, d = 1): string => (v === null || v === undefined ? '—' : v.toFixed(d));
const gpuCell = (m: TrainMeasurement): string => (m.gpuMs === null ? '—' : `${f(m.gpuMs, 0)}${m.gpuSource === 'profiled' ? 'p' : ''}`);
const torchCell = (r: TrainRow): string => (r.torch?.skipped ? `skipped: ${r.torch.skipped}` : f(r.torch?.images_per_s, 2));
const name = (c: TrainConfig): string => `${c.cfg} ${c.imgsz}px b${c.batch}`;

export async function runTrainTable(dev: Device, timer: GpuTimer | undefined, o: TrainTableOptions, log: (line: string) => void): Promise<TrainTable> {
  const configs = (o.quick ? CONFIGS.slice(0, 2) : CONFIGS).filter((c) => !o.filter || o.filter.test(name(c)));
  if (configs.length === 0) throw new Error(`--train-filter ${String(o.filter)} matches none of: ${CONFIGS.map(name).join(', ')}${o.quick ? ' (--quick: 192 px only)' : ''}`);
  const steps: TrainSteps = o.quick ? { warmup: 1, steps: 3 } : { warmup: 2, steps: 5 };
  const rows: TrainRow[] = [];
  for (const c of configs) {
    let ours: TrainRow['ours'];
    try {
      ours = await measureTraining(dev, c, steps, timer);
      log(`${name(c)}: ours ${f(ours.imagesPerSecond, 2)} img/s (step ${f(ours.stepMs, 0)} ms, host ${f(ours.hostMs, 0)} ms, GPU ${f(ours.gpuMs, 0)} ms, ${ours.dispatches} dispatches)`);
    } catch (e) {
      ours = { skipped: (e as Error).message.split('\n')[0] };
      log(`${name(c)}: ours FAILED (${ours.skipped})`);
    }
    rows.push({ config: c, ours, torch: null });
    (globalThis as { gc?: () => void }).gc?.();
  }
  const torch = o.torch ? await runTorch(o, configs, steps, rows, log) : { skipped: 'disabled (--no-torch)' };
  let browser: TrainTable['browser'] = null;
  if (o.browser) {
    const bc = o.quick ? BROWSER_QUICK : BROWSER_CONFIG;
    const bs: TrainSteps = { warmup: 1, steps: o.quick ? 2 : 3 };
    let node: TrainMeasurement | { skipped: string };
    try {
      node = await measureTraining(dev, bc, bs, timer);
    } catch (e) {
      node = { skipped: (e as Error).message.split('\n')[0] };
    }
    log(`${name(bc)}: Node ${isSkip(node) ? `FAILED (${node.skipped})` : `${f(node.imagesPerSecond, 2)} img/s`}; headless Chromium...`);
    const chromium = await measureTrainingInChromium(o.root, o.outDir, bc, bs, o.quick ? 180_000 : 300_000);
    log(`${name(bc)}: Chromium ${isSkip(chromium) ? `skipped (${chromium.skipped})` : `${f(chromium.result.imagesPerSecond, 2)} img/s on ${chromium.adapter}`}`);
    browser = { config: bc, node, chromium };
  }
  return { rows, torch, browser };
}

/** One bench/torch_train.py process for every config; fills row.torch. */
async function runTorch(o: TrainTableOptions, configs: readonly TrainConfig[], steps: TrainSteps, rows: TrainRow[], log: (line: string) => void): Promise<TrainTable['torch']> {
  const py = '/usr/bin/python3';
  const script = join(o.root, 'bench', 'torch_train.py');
  const skip = (why: string): { skipped: string } => {
    log(`PyTorch training line skipped: ${why}`);
    return { skipped: why };
  };
  if (!existsSync(py)) return skip(`${py} not found`);
  const args = [script, ...(o.yolov9 ? ['--yolov9', o.yolov9] : []), ...(o.torchThreads > 0 ? ['--threads', String(o.torchThreads)] : [])];
  const input = JSON.stringify(configs.map((c) => ({ ...c, ...steps })));
  let head: TrainTable['torch'] | null = null;
  await new Promise<void>((resolve) => {
    const p = spawn(py, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let buf = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!l.startsWith('{')) continue;
        const v = JSON.parse(l) as { cfg?: string; imgsz?: number; batch?: number; images_per_s?: number; skipped?: string; torch?: string; threads?: number; official?: string; stubbed?: string[]; error?: string };
        if (v.error) head = skip(v.error);
        else if (v.torch) {
          head = { version: v.torch, threads: v.threads ?? 0, official: v.official ?? '', stubbed: v.stubbed ?? [] };
          log(`PyTorch ${v.torch} on ${v.threads} threads, official YOLOv9 code from ${v.official}${v.stubbed?.length ? ` (stubbed, absent here: ${v.stubbed.join(', ')})` : ''}`);
        } else {
          const row = rows.find((r) => r.config.cfg === v.cfg && r.config.imgsz === v.imgsz && r.config.batch === v.batch);
          if (row) row.torch = v as TorchTrainResult;
          log(`${v.cfg} ${v.imgsz}px b${v.batch}: PyTorch ${v.skipped ? `skipped (${v.skipped})` : `${f(v.images_per_s, 2)} img/s`}`);
        }
      }
    });
    p.stderr.setEncoding('utf8').on('data', (d: string) => {
      err = (err + d).slice(-2000);
    });
    p.on('error', (e) => {
      head ??= skip(`${py}: ${e.message}`);
      resolve();
    });
    p.on('close', (c) => {
      if (c !== 0 && !head) head = skip(`${py} ${script} exited ${c}: ${err.trim().split('\n').pop() ?? ''}`);
      resolve();
    });
    p.stdin.end(input);
  });
  return head ?? skip('torch_train.py printed nothing');
}

/** The table as Markdown lines. */
export function formatTrainTable(t: TrainTable): string[] {
  const out = [
    '',
    `Training throughput (images/s of full steps: forward, loss, backward, SGD, EMA; ${NC} classes, synthetic batch; medians)`,
    '| model | ours img/s | PyTorch CPU img/s | ours/torch | best steps ours/torch | ours step ms | host ms (share) | GPU ms | dispatches/step |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of t.rows) {
    const tr = r.torch && !r.torch.skipped ? r.torch : null;
    if (isSkip(r.ours)) {
      out.push(`| ${name(r.config)} | FAILED: ${r.ours.skipped} | ${torchCell(r)} | — | — | — | — | — | — |`);
      continue;
    }
    const m = r.ours;
    const ratio = tr?.images_per_s ? `${(m.imagesPerSecond / tr.images_per_s).toFixed(2)}×` : '—';
    // the fastest step of each side: what each reaches when the shared machine leaves it alone
    const best = tr?.step_ms?.length ? `${(Math.min(...tr.step_ms) / Math.min(...m.stepsMs)).toFixed(2)}×` : '—';
    out.push(`| ${name(r.config)} | ${f(m.imagesPerSecond, 2)} | ${torchCell(r)} | ${ratio} | ${best} | ${f(m.stepMs, 0)} | ${f(m.hostMs, 0)} (${((100 * m.hostMs) / m.stepMs).toFixed(0)} %) | ${gpuCell(m)} | ${m.dispatches} |`);
  }
  if ('skipped' in t.torch) out.push(`PyTorch line skipped: ${t.torch.skipped}`);
  else out.push(`PyTorch ${t.torch.version}, ${t.torch.threads} threads, official code ${t.torch.official}; GPU ms: timestamps around compute passes (p: one profiled step, a pass per dispatch)`);
  if (t.browser) {
    const b = t.browser;
    const node = isSkip(b.node) ? null : b.node;
    const ch = isSkip(b.chromium) ? null : b.chromium.result;
    out.push('', `Same model in headless Chromium beside Node (${name(b.config)})`, '| where | img/s | step ms | host ms | GPU ms | dispatches/step |', '|---|---|---|---|---|---|');
    out.push(node ? `| Node (Dawn) | ${f(node.imagesPerSecond, 2)} | ${f(node.stepMs, 0)} | ${f(node.hostMs, 0)} | ${gpuCell(node)} | ${node.dispatches} |` : `| Node (Dawn) | FAILED: ${isSkip(b.node) ? b.node.skipped : ''} | | | | |`);
    out.push(
      ch && !isSkip(b.chromium)
        ? `| Chromium (${b.chromium.adapter}) | ${f(ch.imagesPerSecond, 2)} | ${f(ch.stepMs, 0)} | ${f(ch.hostMs, 0)} | ${gpuCell(ch)} | ${ch.dispatches} |`
        : `| Chromium | skipped: ${isSkip(b.chromium) ? b.chromium.skipped : ''} | | | | |`,
    );
    if (node && ch) out.push(`Chromium/Node: ${(ch.imagesPerSecond / node.imagesPerSecond).toFixed(2)}×`);
  }
  return out;
}
