// `npm run bench`: our kernels next to TensorFlow.js WebGPU, onnxruntime-web WebGPU and jax-js on ONE shared
// GPUDevice in this process, plus PyTorch CPU as a reference line. Launched by bench/benchmark.js (which
// installs the peers and bundles this file). Options: --quick, --json FILE, --filter REGEX, --no-peers,
// --peers tfjs,ort,jax, --no-torch, --no-models, --no-memory, --no-idle-wait.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, globals } from 'webgpu';
import { createDevice } from '../engine';
import { installIdleWait } from '../engine/platform/node-wait';
import { type Case, convOut } from './cases';
import { instrument } from './gpu-timer';
import { compare, measure, verifyRun } from './harness';
import { blockData, convData, matmulData, prepareBlock } from './ours';
import { type CaseData, type Peer, type PeerFactory, type PeerName, installNavigator } from './peer-api';
import { measurePeak } from './peak';
import { type MemoryLine, type OurResult, formatMemory, measureTrainingMemory, repsFor, runOurCase, selectCases } from './suite';

interface Args {
  quick: boolean;
  json: string | null;
  filter: string | undefined;
  peers: PeerName[];
  torch: boolean;
  models: boolean;
  memory: boolean;
  idleWait: boolean;
}

const HELP = `npm run bench -- [--quick] [--json out.json] [--filter REGEX] [--peers tfjs,ort,jax | --no-peers]
                  [--no-torch] [--no-models] [--no-memory] [--no-idle-wait]`;

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, json: null, filter: undefined, peers: ['tfjs', 'ort', 'jax'], torch: true, models: true, memory: true, idleWait: true };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const val = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${k} needs a value\n${HELP}`);
      return v;
    };
    if (k === '--quick') a.quick = true;
    else if (k === '--json') a.json = val();
    else if (k === '--filter') a.filter = val();
    else if (k === '--peers') a.peers = val().split(',').filter((p): p is PeerName => ['tfjs', 'ort', 'jax'].includes(p));
    else if (k === '--no-peers') a.peers = [];
    else if (k === '--no-torch') a.torch = false;
    else if (k === '--no-models') a.models = false;
    else if (k === '--no-memory') a.memory = false;
    else if (k === '--no-idle-wait') a.idleWait = false;
    else if (k === '--help' || k === '-h') {
      console.log(HELP);
      process.exit(0);
    } else throw new Error(`unknown option ${k}\n${HELP}`);
  }
  return a;
}

type PeerKey = PeerName | 'torch_cpu';
interface PeerCell {
  median_ms?: number;
  wall_median_ms?: number;
  gpu_median_ms?: number | null;
  timing?: 'gpu' | 'wall' | 'cpu';
  samples?: number;
  max_abs_diff?: number;
  /** max |peer − ours| ÷ max |ours|. */
  rel_diff?: number;
  /** How the peer expressed the case when it has no direct op for it. */
  note?: string;
  skipped?: string;
}
interface Row {
  ours: OurResult;
  peers: Partial<Record<PeerKey, PeerCell>>;
}

const here = dirname(fileURLToPath(import.meta.url)); // bench/.out when bundled
const benchDir = existsSync(join(here, 'torch_cpu.py')) ? here : dirname(here);
const ms = (v: number | undefined | null): string => (v === undefined || v === null ? '' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const t0 = performance.now();
const elapsed = (): string => `${((performance.now() - t0) / 1000).toFixed(0)} s`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // 1. One device for everyone: every adapter feature, every limit at the adapter's maximum.
  Object.assign(globalThis, globals);
  const gpu = create([]);
  process.on('exit', () => void gpu); // Dawn's instance must outlive all GPU work
  if (args.idleWait) installIdleWait();
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw new Error('no WebGPU adapter (on Debian/Ubuntu without a GPU run `npm run setup` as root)');
  const requiredLimits: Record<string, number> = {};
  for (const k in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures: [...adapter.features] as GPUFeatureName[], requiredLimits, label: 'bench shared' });
  device.onuncapturederror = (e): void => console.error(`bench: uncaptured WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`);
  const info = adapter.info;
  const adapterName = [info.vendor, info.architecture, info.device, info.description].filter((s) => s).join(' / ');
  const timer = instrument(device);
  const dev = await createDevice({ device: timer.device });
  console.log(`adapter: ${adapterName}`);
  console.log(
    `shared device: ${device.features.size} features (timestamp-query ${device.features.has('timestamp-query') ? 'yes' : 'no'}), ` +
      `maxStorageBufferBindingSize ${device.limits.maxStorageBufferBindingSize}, maxBufferSize ${device.limits.maxBufferSize}; ` +
      `Dawn idle wait ${args.idleWait ? 'on' : 'off'} (for every implementation alike)`,
  );

  // 2. Peak.
  const peak = await measurePeak(device);
  console.log(`peak: ${peak.gflops.toFixed(1)} GFLOP/s (register-only multiply-add loop, ${peak.variant}, ${peak.timing} time)`);

  // 3. Peers, each behind the navigator shim and handed the instrumented shared device.
  installNavigator(timer.device, adapter);
  const peers: Peer[] = [];
  const unavailable: Partial<Record<PeerKey, string>> = {};
  for (const name of args.peers) {
    try {
      // a computed URL: the bundler leaves the import alone (each shim is its own entry point in bench/.out/peers/)
      const url = new URL(`./peers/${name}.mjs`, import.meta.url).href;
      const mod = (await import(url)) as { default: PeerFactory };
      const p = await mod.default({ device: timer.device, adapterInfo: info });
      peers.push(p);
      console.log(`peer ${name}: ${p.version}`);
      for (const s of p.setup) console.log(`  - ${s}`);
    } catch (e) {
      unavailable[name] = `failed to start: ${(e as Error).message.split('\n')[0]}`;
      console.log(`peer ${name}: NOT RUN (${unavailable[name]})`);
    }
  }

  // 4. Cases.
  const cases = selectCases({ filter: args.filter, quick: args.quick, skipModels: !args.models });
  console.log(
    `\n${cases.length} cases; per implementation: 1 verification run (compiles; results checked against ours), ` +
      (args.quick ? '3 samples\n' : '1 warm-up (unless verification took > 2 s), 9 samples (at least 3 once sampling took 10 s; models 20 s)\n'),
  );
  const rows: Row[] = [];
  const idle = (): Promise<void> => dev.sync();
  for (const c of cases) {
    const ours = await runOurCase(dev, timer, c, args.quick);
    const row: Row = { ours: ours.result, peers: {} };
    rows.push(row);
    let line = `[${elapsed()}] ${c.name}: ours ${ms(ours.result.gpu_median_ms)} ms gpu / ${ms(ours.result.wall_median_ms)} ms wall`;
    const data = await caseData(dev, c);
    for (const p of peers) {
      const cell = await runPeer(p, c, data, ours.reference, timer, idle, args.quick);
      row.peers[p.name] = cell;
      line += `; ${p.name} ${cell.skipped ? (cell.skipped.startsWith('WRONG') ? 'WRONG' : 'skip') : `${ms(cell.gpu_median_ms)} gpu / ${ms(cell.wall_median_ms)} wall (rel diff ${cell.rel_diff?.toExponential(1)})`}`;
    }
    console.log(line);
    (globalThis as { gc?: () => void }).gc?.();
  }
  for (const p of peers) await p.dispose().catch(() => undefined);

  // 5. PyTorch CPU (after the GPU work: lavapipe and PyTorch share the same two cores).
  if (args.torch) await runTorch(cases, rows, args.quick, unavailable);
  else unavailable.torch_cpu = 'disabled (--no-torch)';

  // 6. Memory line.
  let memory: MemoryLine | null = null;
  if (args.memory) {
    memory = await measureTrainingMemory(device, 'gelan-t', 320, 8);
  }

  // 7. Report.
  printTable(rows, peak.gflops, args.peers, unavailable);
  if (memory) console.log(`\n${formatMemory(memory)}`);
  for (const [k, why] of Object.entries(unavailable)) console.log(`not run: ${k}: ${why}`);
  if (args.json) {
    const out = {
      adapter: adapterName,
      date: new Date().toISOString(),
      peak_gflops: peak.gflops,
      timing: TIMING_NOTE,
      cases: rows.map((r) => ({
        name: r.ours.name,
        flops: r.ours.flops,
        ours: { median_ms: r.ours.median_ms, timing: r.ours.timing, gpu_median_ms: r.ours.gpu_median_ms, wall_median_ms: r.ours.wall_median_ms, samples: r.ours.samples },
        peers: Object.fromEntries(Object.entries(r.peers).filter(([, v]) => v && !v.skipped)),
        skipped: Object.fromEntries(Object.entries(r.peers).filter(([, v]) => v?.skipped).map(([k, v]) => [k, v!.skipped])),
      })),
      not_run: unavailable,
      memory,
    };
    writeFileSync(args.json, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`\nwrote ${args.json}`);
  }
  dev.dispose();
  device.destroy();
  console.log(`\ntotal ${elapsed()}`);
}

const TIMING_NOTE =
  'median over samples after a warm-up; gpu = sum of compute-pass durations from timestamp queries on the shared device ' +
  '(excludes copies/uploads outside passes and gaps between submits); wall = record + submit + GPU + onSubmittedWorkDone; ' +
  'median_ms is gpu where every sample was timed, else wall; torch_cpu is CPU wall time';

async function caseData(dev: import('../engine').Device, c: Case): Promise<CaseData> {
  if (c.kind === 'conv') return { conv: convData(c) };
  if (c.kind === 'matmul') return { matmul: matmulData(c) };
  if (c.kind === 'block') {
    const b = prepareBlock(dev, c); // same seed as the measured block: the same weights
    const weights = await b.weights();
    b.dispose();
    return { block: { ...blockData(c), weights } };
  }
  return {};
}

async function runPeer(
  p: Peer,
  c: Case,
  data: CaseData,
  reference: Float32Array[],
  timer: ReturnType<typeof instrument>,
  idle: () => Promise<void>,
  quick: boolean,
): Promise<PeerCell> {
  let prepared;
  try {
    prepared = await p.prepare(c, data);
  } catch (e) {
    return { skipped: `failed to build: ${(e as Error).message.split('\n')[0]}` };
  }
  if ('skip' in prepared) return { skipped: prepared.skip };
  try {
    const first = await verifyRun(prepared, idle);
    const cmp = compare(first.results, reference);
    if (!cmp.ok) {
      return { skipped: `WRONG RESULT, not timed: max |diff| ${cmp.maxAbs.toExponential(2)} vs max |ours| ${cmp.refMax.toExponential(2)}${cmp.why ? ` (${cmp.why})` : ''}`, max_abs_diff: cmp.maxAbs };
    }
    const m = await measure(prepared, timer, idle, repsFor(c, quick), first.ms);
    const gpu = m.gpu?.median_ms ?? null;
    return {
      median_ms: gpu ?? m.wall.median_ms,
      timing: gpu === null ? 'wall' : 'gpu',
      gpu_median_ms: gpu,
      wall_median_ms: m.wall.median_ms,
      samples: m.wall.n,
      max_abs_diff: cmp.maxAbs,
      rel_diff: cmp.maxAbs / cmp.refMax,
      ...(prepared.note ? { note: prepared.note } : {}),
    };
  } catch (e) {
    return { skipped: `failed: ${(e as Error).message.split('\n')[0]}` };
  } finally {
    try {
      await prepared.dispose();
    } catch {
      /* a failed peer must not stop the run */
    }
  }
}

/** The conv/matmul cases as PyTorch sees them; torch_cpu.py prints one JSON line per case. */
async function runTorch(cases: Case[], rows: Row[], quick: boolean, unavailable: Partial<Record<PeerKey, string>>): Promise<void> {
  const py = '/usr/bin/python3';
  if (!existsSync(py)) {
    unavailable.torch_cpu = `${py} not found`;
    return;
  }
  // model cases need the official YOLOv9 code (torch_cpu.py looks for a checkout)
  const spec = cases.map((c) => {
    if (c.kind === 'conv') return { name: c.name, kind: c.kind, pass: c.pass, n: c.n, c: c.c, h: c.h, w: c.w, o: c.o, k: c.k, stride: c.stride, pad: c.pad, groups: c.groups, out: convOut(c) };
    return c;
  });
  console.log(`\n[${elapsed()}] PyTorch CPU reference (${py} bench/torch_cpu.py)...`);
  const r = spawnSync(py, [join(benchDir, 'torch_cpu.py'), ...(quick ? ['--quick'] : [])], { input: JSON.stringify(spec), encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) {
    const err = r.stdout.split('\n').find((l) => l.startsWith('{"error"'));
    unavailable.torch_cpu = err ? (JSON.parse(err) as { error: string }).error : (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n').pop()!;
    return;
  }
  const byName = new Map(rows.map((row) => [row.ours.name, row]));
  for (const l of r.stdout.split('\n')) {
    if (!l.startsWith('{')) continue;
    const v = JSON.parse(l) as { name: string; median_ms?: number; skipped?: string; threads?: number; torch?: string; official?: string | null; error?: string };
    if (v.torch) {
      console.log(`torch ${v.torch}, ${v.threads} threads; whole models: ${v.official ? `official YOLOv9 code from ${v.official}` : 'no official YOLOv9 checkout (set YOLOV9_DIR)'}`);
      continue;
    }
    const row = byName.get(v.name);
    if (row) row.peers.torch_cpu = v.skipped ? { skipped: v.skipped } : { median_ms: v.median_ms, timing: 'cpu' };
  }
}

function printTable(rows: Row[], peakGflops: number, peerNames: PeerName[], unavailable: Partial<Record<PeerKey, string>>): void {
  const cols: PeerKey[] = [...peerNames.filter((p) => !unavailable[p]), ...(unavailable.torch_cpu ? [] : (['torch_cpu'] as const))];
  const head = ['case', 'ours ms', 'ours wall', 'GFLOP/s', '% peak', ...cols.map((c) => `${c} ms`), 'vs fastest peer'];
  const notes: string[] = [];
  const mark = (note: string): string => {
    let i = notes.indexOf(note);
    if (i < 0) i = notes.push(note) - 1;
    return '*'.repeat(i + 1);
  };
  const body = rows.map((r) => {
    const o = r.ours;
    const gf = o.flops / (o.median_ms * 1e6);
    // fastest WebGPU peer's time ÷ ours, each on the same basis (GPU time where both have it, else wall time)
    let best: { ratio: number; name: string } | null = null;
    for (const k of peerNames) {
      const cell = r.peers[k];
      if (!cell || cell.skipped || cell.median_ms === undefined) continue;
      const both = cell.gpu_median_ms != null && o.gpu_median_ms != null;
      const ratio = (both ? cell.gpu_median_ms! : cell.wall_median_ms!) / (both ? o.gpu_median_ms! : o.wall_median_ms);
      if (!best || ratio < best.ratio) best = { ratio, name: k };
    }
    return [
      o.name,
      ms(o.median_ms) + (o.timing === 'wall' ? 'w' : ''),
      ms(o.wall_median_ms),
      gf.toFixed(1),
      `${((100 * gf) / peakGflops).toFixed(0)}%`,
      ...cols.map((k) => {
        const cell = r.peers[k];
        if (!cell) return '';
        if (cell.skipped) return cell.skipped.startsWith('WRONG') ? 'WRONG' : '—';
        return ms(cell.median_ms) + (cell.timing === 'wall' ? 'w' : '') + (cell.note ? mark(`${k}: ${cell.note}`) : '');
      }),
      best ? `${best.ratio.toFixed(2)}x ${best.name}` : '',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const fmt = (cells: string[]): string => `| ${cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join(' | ')} |`;
  console.log(`\n${fmt(head)}\n|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const b of body) console.log(fmt(b));
  console.log(
    `\nms: median GPU time from timestamp queries (sum of compute-pass durations on the shared device); 'w' = wall time instead` +
      `\n(record + submit + GPU + onSubmittedWorkDone). 'ours wall' = our wall time. torch_cpu = PyTorch CPU wall time (2 threads).` +
      `\nGFLOP/s and % of the measured ${peakGflops.toFixed(1)} GFLOP/s peak (register-only FMA loop) use 'ours ms'.` +
      `\n'vs fastest peer' = the fastest WebGPU peer's time ÷ ours (> 1: ours faster), GPU time vs GPU time where both have it.` +
      `\n'—' = the peer cannot express the case; WRONG = its result disagreed with ours (not timed). Reasons below.`,
  );
  notes.forEach((n, i) => console.log(`${'*'.repeat(i + 1)} ${n}`));
  const reasons = new Map<string, string[]>();
  for (const r of rows) {
    for (const [k, cell] of Object.entries(r.peers)) {
      if (!cell?.skipped) continue;
      const key = `${k}: ${cell.skipped}`;
      reasons.set(key, [...(reasons.get(key) ?? []), r.ours.name]);
    }
  }
  for (const [why, names] of reasons) console.log(`— ${why} (${names.length > 4 ? `${names.length} cases` : names.join(', ')})`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
