// `npm run bench`: our kernels next to TensorFlow.js WebGPU, onnxruntime-web WebGPU and jax-js on ONE shared
// GPUDevice in this process, plus PyTorch CPU as a reference line. Launched by bench/benchmark.js (which
// installs the peers and bundles this file). Options: --quick, --json FILE, --filter REGEX, --no-peers,
// --peers tfjs,ort,jax, --no-torch, --no-models, --no-memory, --no-idle-wait, --tile-search; the training table:
// --train-only, --no-train, --no-browser, --train-filter REGEX, --yolov9 DIR, --torch-threads N.
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { create, globals } from 'webgpu';
import { createDevice, describeSubgroupMatrix } from '../engine';
import { installIdleWait } from '../engine/platform/node-wait';
import { dawnGpu } from '../engine/platform/node';
import { type Case, convOut } from './cases';
import { instrument } from './gpu-timer';
import { compare, measure, verifyRun } from './harness';
import { blockData, convData, matmulData, prepareBlock } from './ours';
import { type CaseData, type Peer, type PeerFactory, type PeerName, installNavigator } from './peer-api';
import { measurePeak } from './peak';
import { type PeerCell, type PeerKey, type Row, jsonReport, ms, printTable } from './report';
import { type MemoryLine, formatMemory, measureTrainingMemory, repsFor, runOurCase, selectCases } from './suite';
import { type TrainTable, formatTrainTable, runTrainTable } from './train-table';

interface Args {
  quick: boolean;
  json: string | null;
  filter: string | undefined;
  peers: PeerName[];
  torch: boolean;
  models: boolean;
  memory: boolean;
  idleWait: boolean;
  tileSearch: boolean;
  train: boolean;
  trainOnly: boolean;
  browser: boolean;
  yolov9: string | null;
  torchThreads: number;
  trainFilter: RegExp | undefined;
}

const HELP = `npm run bench -- [--quick] [--json out.json] [--filter REGEX] [--peers tfjs,ort,jax | --no-peers]
                  [--no-torch] [--no-models] [--no-memory] [--no-idle-wait] [--tile-search]
                  [--train-only | --no-train] [--no-browser] [--train-filter REGEX] [--yolov9 DIR] [--torch-threads N]`;

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, json: null, filter: undefined, peers: ['tfjs', 'ort', 'jax'], torch: true, models: true, memory: true, idleWait: true, tileSearch: false, train: true, trainOnly: false, browser: true, yolov9: process.env.GELAN_YOLOV9_DIR || null, torchThreads: 0, trainFilter: undefined };
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
    else if (k === '--tile-search') a.tileSearch = true;
    else if (k === '--train-only') a.trainOnly = true;
    else if (k === '--no-train') a.train = false;
    else if (k === '--no-browser') a.browser = false;
    else if (k === '--yolov9') a.yolov9 = val();
    else if (k === '--train-filter') {
      const v = val();
      try {
        a.trainFilter = new RegExp(v);
      } catch {
        throw new Error(`--train-filter ${v}: not a regular expression`);
      }
    }
    else if (k === '--torch-threads') {
      a.torchThreads = Number(val());
      if (!Number.isInteger(a.torchThreads) || a.torchThreads < 0) throw new Error(`--torch-threads needs a whole number ≥ 0\n${HELP}`);
    }
    else if (k === '--help' || k === '-h') {
      console.log(HELP);
      process.exit(0);
    } else throw new Error(`unknown option ${k}\n${HELP}`);
  }
  if (a.trainOnly && !a.train) throw new Error(`--train-only and --no-train exclude each other\n${HELP}`);
  return a;
}

const here = dirname(fileURLToPath(import.meta.url)); // bench/.out when bundled
const benchDir = existsSync(join(here, 'torch_cpu.py')) ? here : dirname(here);
const t0 = performance.now();
const elapsed = (): string => `${((performance.now() - t0) / 1000).toFixed(0)} s`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  // 1. One device for everyone: every adapter feature, every limit at the adapter's maximum.
  Object.assign(globalThis, globals);
  // the engine's own choice of Dawn instance: allow_unsafe_apis only where it brings subgroup matrices
  const gpu = await dawnGpu(create);
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
  const dev = await createDevice({ device: timer.device, adapter, gpu, tileSearch: args.tileSearch });
  console.log(`adapter: ${adapterName}`);
  console.log(`subgroup matrices: ${describeSubgroupMatrix(dev)}`);
  console.log(
    `shared device: ${device.features.size} features (timestamp-query ${device.features.has('timestamp-query') ? 'yes' : 'no'}), ` +
      `maxStorageBufferBindingSize ${device.limits.maxStorageBufferBindingSize}, maxBufferSize ${device.limits.maxBufferSize}; ` +
      `Dawn idle wait ${args.idleWait ? 'on' : 'off'} (for every implementation alike)`,
  );

  if (args.trainOnly) {
    const training = await trainTable(dev, timer, args);
    if (args.json) {
      writeFileSync(args.json, `${JSON.stringify({ adapter: adapterName, date: new Date().toISOString(), training }, null, 2)}\n`);
      console.log(`\nwrote ${args.json}`);
    }
    dev.dispose();
    device.destroy();
    console.log(`\ntotal ${elapsed()}`);
    return;
  }

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
  const failed: { name: string; error: string }[] = [];
  for (const c of cases) {
    let ours;
    try {
      ours = await runOurCase(dev, timer, c, args.quick);
    } catch (e) {
      // our engine failing a case is a finding, not a reason to lose the rest of the run
      const error = (e as Error).message.split('\n')[0];
      failed.push({ name: c.name, error });
      console.log(`[${elapsed()}] ${c.name}: OURS FAILED (${error}); peers not run (nothing to check them against)`);
      continue;
    }
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
  if (args.torch) await runTorch(cases, rows, args.quick, args.yolov9, unavailable);
  else unavailable.torch_cpu = 'disabled (--no-torch)';

  // 6. Memory line.
  let memory: MemoryLine | null = null;
  let mixedMemory: MemoryLine | null = null;
  if (args.memory) {
    memory = await measureTrainingMemory(device, 'gelan-t', 320, 8);
    if (device.features.has('shader-f16')) mixedMemory = await measureTrainingMemory(device, 'gelan-t', 320, 8, true);
  }

  // 7. Training throughput (whole steps, ours vs the official code on PyTorch CPU, Chromium vs Node).
  const training = args.train ? await trainTable(dev, timer, args) : null;

  // 8. Report.
  printTable(rows, peak.gflops, args.peers, unavailable);
  for (const f of failed) console.log(`FAILED (ours): ${f.name}: ${f.error}`);
  if (memory) console.log(`\n${formatMemory(memory)}`);
  if (mixedMemory) console.log(formatMemory(mixedMemory));
  for (const [k, why] of Object.entries(unavailable)) console.log(`not run: ${k}: ${why}`);
  if (training) for (const l of formatTrainTable(training)) console.log(l);
  if (args.json) {
    writeFileSync(args.json, `${JSON.stringify({ ...(jsonReport(adapterName, peak.gflops, rows, failed, unavailable, memory) as object), training }, null, 2)}\n`);
    console.log(`\nwrote ${args.json}`);
  }
  dev.dispose();
  device.destroy();
  console.log(`\ntotal ${elapsed()}`);
}

/** The training table, its progress lines as it goes and the table at the end (--train-only prints it here). */
async function trainTable(dev: import('../engine').Device, timer: ReturnType<typeof instrument>, args: Args): Promise<TrainTable> {
  console.log(`\n[${elapsed()}] training throughput${args.quick ? ' (--quick: 192 px only, 1 warm-up + 3 steps)' : ' (2 warm-up + 5 steps per model)'}...`);
  const t = await runTrainTable(
    dev,
    timer,
    { quick: args.quick, yolov9: args.yolov9, torch: args.torch, torchThreads: args.torchThreads, browser: args.browser, filter: args.trainFilter, root: dirname(benchDir), outDir: join(benchDir, '.out', 'train-page') },
    (l) => console.log(`[${elapsed()}] ${l}`),
  );
  if (args.trainOnly) for (const l of formatTrainTable(t)) console.log(l);
  return t;
}

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

/** Every selected case as PyTorch sees it; torch_cpu.py prints one JSON line per case (or skips it). */
async function runTorch(cases: Case[], rows: Row[], quick: boolean, yolov9: string | null, unavailable: Partial<Record<PeerKey, string>>): Promise<void> {
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
  const r = spawnSync(py, [join(benchDir, 'torch_cpu.py'), ...(quick ? ['--quick'] : [])], { input: JSON.stringify(spec), encoding: 'utf8', maxBuffer: 1 << 24, env: yolov9 ? { ...process.env, YOLOV9_DIR: yolov9 } : process.env });
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

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
