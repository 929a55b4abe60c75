// The device's arithmetic peak, measured: a register-only multiply-add loop (no memory traffic inside the loop,
// independent accumulator chains so the latency of one does not serialise the others), best of 5 runs of the
// best of three variants. A multiply-add counts as 2 FLOPs whether the compiler emits one FMA or a multiply
// and an add. Timed with timestamp queries when
// the device has them (GPU time of the one pass), wall time around submit + onSubmittedWorkDone otherwise.

export interface Peak {
  readonly gflops: number;
  /** The best variant (accumulator chains × unrolled steps). */
  readonly variant: string;
  readonly timing: 'gpu' | 'wall';
}

/**
 * `chains` independent vec4 accumulators; each loop iteration runs `unroll` dependent multiply-adds per chain
 * as SSA temporaries and writes the accumulators back once (llvmpipe masks writes to loop-carried variables, so
 * a plain `a = a * m + c` loop measures the masking rather than the arithmetic).
 */
function shader(chains: number, unroll: number): string {
  const decl = Array.from({ length: chains }, (_, i) => `var a${i} = vec4f(f32(id.x & 7u) * 0.001 + ${i + 1}.0);`).join('\n  ');
  const body: string[] = [];
  for (let u = 0; u < unroll; u++) for (let i = 0; i < chains; i++) body.push(`let t${i}_${u} = ${u === 0 ? `a${i}` : `t${i}_${u - 1}`} * m + c;`);
  for (let i = 0; i < chains; i++) body.push(`a${i} = t${i}_${unroll - 1};`);
  const total = Array.from({ length: chains }, (_, i) => `a${i}`).join(' + ');
  return /* wgsl */ `
@group(0) @binding(0) var<storage, read_write> out: array<vec4f>;
override ITERS: u32 = 1u;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3u) {
  let m = vec4f(0.99990);
  let c = vec4f(0.00011);
  ${decl}
  for (var i = 0u; i < ITERS; i++) {
    ${body.join('\n    ')}
  }
  out[id.x] = ${total};
}`;
}

/** The best run of the best variant (`reps` runs each). */
export async function measurePeak(device: GPUDevice, reps = 5): Promise<Peak> {
  const groups = 1024;
  const invocations = groups * 64;
  const out = device.createBuffer({ size: invocations * 16, usage: GPUBufferUsage.STORAGE, label: 'peak out' });
  const timed = device.features.has('timestamp-query');
  const qs = timed ? device.createQuerySet({ type: 'timestamp', count: 2 }) : null;
  const resolve = timed ? device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC }) : null;
  const read = timed ? device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }) : null;
  let best: Peak = { gflops: 0, variant: '', timing: timed ? 'gpu' : 'wall' };
  for (const [chains, unroll] of [
    [2, 8],
    [2, 16],
    [4, 8],
  ]) {
    const iters = Math.round(2048 / (chains * unroll)); // ~1 GFLOP per run
    const module = device.createShaderModule({ code: shader(chains, unroll) });
    const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main', constants: { ITERS: iters } } });
    const bind = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] });
    const once = async (): Promise<number> => {
      const enc = device.createCommandEncoder();
      const pass = enc.beginComputePass(qs ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : undefined);
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bind);
      pass.dispatchWorkgroups(groups);
      pass.end();
      if (qs && resolve && read) {
        enc.resolveQuerySet(qs, 0, 2, resolve, 0);
        enc.copyBufferToBuffer(resolve, 0, read, 0, 16);
      }
      const t0 = performance.now();
      device.queue.submit([enc.finish()]);
      await device.queue.onSubmittedWorkDone();
      const wall = performance.now() - t0;
      if (!read) return wall;
      await read.mapAsync(GPUMapMode.READ);
      const t = new BigInt64Array(read.getMappedRange().slice(0));
      read.unmap();
      return Number(t[1] - t[0]) / 1e6;
    };
    await once(); // warm-up
    const ms: number[] = [];
    for (let r = 0; r < reps; r++) ms.push(await once());
    const flops = invocations * iters * unroll * chains * 4 * 2;
    const gflops = flops / (Math.min(...ms) * 1e6); // a peak: the best run (other load only ever slows it)
    if (gflops > best.gflops) best = { ...best, gflops, variant: `${chains} vec4 chains x ${unroll} unrolled` };
  }
  out.destroy();
  qs?.destroy();
  resolve?.destroy();
  read?.destroy();
  return best;
}
