/**
 * Measures what installIdleWait() changes: wall time, and the CPU that the
 * process burns while it awaits the GPU (dawn.node + lavapipe).
 *
 *   npx tsx bench/node-wait-measure.ts [reps=5] [iters=2048] [roundTrips=200]
 *
 * heavy:  4 dispatches of an `iters`-FMA loop over a 4 MB storage buffer, then
 *         onSubmittedWorkDone() and a 4 MB mapAsync read-back (~0.5-0.9 s on lavapipe).
 * medium: roundTrips/4 round trips of one dispatch with iters/64 FMAs (a few ms each)
 *         + 256-byte mapAsync read-back.
 * short:  `roundTrips` round trips of a 1-workgroup dispatch + read-back (latency bound).
 * Runs the variants in turn within each repetition, so drift hits them all alike.
 * "proc CPU" is process.cpuUsage() (all threads, lavapipe's included); "main CPU"
 * is the main thread only, from /proc/self/task/<pid>/stat (10 ms ticks).
 */
import { readFileSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { installIdleWait, type IdleWaitOptions } from '../engine/platform/node-wait';

const [reps = 5, iters = 2048, roundTrips = 200] = process.argv.slice(2).map(Number);
// null = no fix (Dawn spins); otherwise installIdleWait options
const VARIANTS: (IdleWaitOptions | null)[] = [null, { sleepMs: 0.2 }, {}, { sleepMs: 1 }, { spinMs: 0 }];

Object.assign(globalThis, globals);
const gpu = create([]);
process.on('exit', () => void gpu); // dawn.node crashes if the GPU object is collected
const adapter = await gpu.requestAdapter();
if (!adapter) throw new Error('no WebGPU adapter');
const device = await adapter.requestDevice();

const ELEMS = (4 << 20) / 16; // 4 MB of vec4f
const data = device.createBuffer({ size: ELEMS * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
const readback = device.createBuffer({ size: ELEMS * 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
const tiny = device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
const tinyRead = device.createBuffer({ size: 256, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });

const module = device.createShaderModule({
  code: /* wgsl */ `
    @group(0) @binding(0) var<storage, read_write> data: array<vec4f>;
    override ITERS: u32 = 1;
    @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) id: vec3u) {
      if (id.x >= arrayLength(&data)) { return; }
      var v = data[id.x] + vec4f(f32(id.x));
      for (var k = 0u; k < ITERS; k++) { v = fma(v, vec4f(0.99991), vec4f(0.5)); }
      data[id.x] = v;
    }`,
});
const pipeline = (n: number) =>
  device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main', constants: { ITERS: n } } });
const heavyPipe = pipeline(iters);
const mediumPipe = pipeline(Math.max(1, iters >> 6));
const tinyPipe = pipeline(1);
const bind = (p: GPUComputePipeline, b: GPUBuffer) =>
  device.createBindGroup({ layout: p.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: b } }] });
const heavyBind = bind(heavyPipe, data);
const mediumBind = bind(mediumPipe, data);
const tinyBind = bind(tinyPipe, tiny);

function encode(p: GPUComputePipeline, g: GPUBindGroup, groups: number, times: number, src: GPUBuffer, dst: GPUBuffer) {
  // copies dst.size bytes of src into dst after the dispatches
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(p);
  pass.setBindGroup(0, g);
  for (let i = 0; i < times; i++) pass.dispatchWorkgroups(groups);
  pass.end();
  enc.copyBufferToBuffer(src, 0, dst, 0, dst.size);
  device.queue.submit([enc.finish()]);
}

async function heavy(): Promise<number> {
  encode(heavyPipe, heavyBind, ELEMS / 64, 4, data, readback);
  await device.queue.onSubmittedWorkDone();
  await readback.mapAsync(GPUMapMode.READ);
  const x = new Float32Array(readback.getMappedRange(0, 16))[0];
  readback.unmap();
  return x;
}

/** `trips` round trips of one dispatch + 256-byte read-back. */
async function roundTrip(p: GPUComputePipeline, g: GPUBindGroup, groups: number, src: GPUBuffer, trips: number) {
  let sum = 0;
  for (let i = 0; i < trips; i++) {
    encode(p, g, groups, 1, src, tinyRead);
    await tinyRead.mapAsync(GPUMapMode.READ);
    sum += new Float32Array(tinyRead.getMappedRange(0, 4))[0];
    tinyRead.unmap();
  }
  return sum;
}

/** Main-thread user+system CPU in ms (the main thread's tid is the pid). */
function mainThreadCpuMs(): number {
  const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // f[11], f[12]: utime, stime
  return (Number(f[11]) + Number(f[12])) * 10; // USER_HZ = 100 on Linux
}

interface Sample { wall: number; proc: number; main: number }

async function measure(fn: () => Promise<number>, opts: IdleWaitOptions | null): Promise<Sample> {
  const undo = opts === null ? () => {} : installIdleWait(opts);
  try {
    const c0 = process.cpuUsage(), m0 = mainThreadCpuMs(), t0 = performance.now();
    await fn();
    const wall = performance.now() - t0, c = process.cpuUsage(c0);
    return { wall, proc: (c.user + c.system) / 1000, main: mainThreadCpuMs() - m0 };
  } finally {
    undo();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const label = (v: IdleWaitOptions | null) =>
  v === null ? 'no fix (spin)' : `sleep<=${v.sleepMs ?? 0.5} spin ${v.spinMs ?? 0.2}`;
const f0 = (x: number) => x.toFixed(0).padStart(6);

async function run(name: string, fn: () => Promise<number>): Promise<void> {
  await fn(); // warm-up: pipeline compile, first map
  const samples = new Map<IdleWaitOptions | null, Sample[]>(VARIANTS.map((v) => [v, []]));
  for (let r = 0; r < reps; r++) for (const v of VARIANTS) samples.get(v)!.push(await measure(fn, v));

  console.log(`\n${name}: per repetition, wall / proc CPU / main-thread CPU (ms)`);
  console.log('rep ' + VARIANTS.map((v) => label(v).padEnd(21)).join(' | '));
  for (let r = 0; r < reps; r++) {
    const cells = VARIANTS.map((v) => {
      const s = samples.get(v)![r];
      return `${f0(s.wall)} ${f0(s.proc)} ${f0(s.main)}`;
    });
    console.log(`${String(r + 1).padStart(3)} ${cells.join(' | ')}`);
  }
  console.log(`${name}: medians`);
  console.log(`${'variant'.padEnd(22)} wall ms  proc CPU ms  main CPU ms`);
  for (const v of VARIANTS) {
    const s = samples.get(v)!;
    const m = (k: keyof Sample) => median(s.map((x) => x[k])).toFixed(0);
    console.log(`${label(v).padEnd(22)} ${m('wall').padStart(7)} ${m('proc').padStart(12)} ${m('main').padStart(12)}`);
  }
}

console.log(`adapter: ${adapter.info.device} (${adapter.info.description}); reps=${reps} iters=${iters} roundTrips=${roundTrips}`);
await run(`heavy (4 x ${iters}-FMA loop over 4 MB)`, heavy);
await run(`medium (${roundTrips >> 2} round trips, ${iters >> 6}-FMA loop over 4 MB)`, () =>
  roundTrip(mediumPipe, mediumBind, ELEMS / 64, data, roundTrips >> 2));
await run(`short (${roundTrips} tiny round trips)`, () => roundTrip(tinyPipe, tinyBind, 1, tiny, roundTrips));
device.destroy();
