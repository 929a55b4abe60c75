// GPU time from timestamp queries, for code that records its own compute passes (our engine, and the peers when
// they are handed the same wrapper).
//
// instrument(device) returns a stand-in GPUDevice: every method and property is the real device's, except that
// command encoders it creates add `timestampWrites` to each compute pass that has none. Between begin() and
// end(), pass i writes queries 2i and 2i+1; end() resolves them in one extra submit (after the measured work
// is done, outside any wall-clock window) and returns the sum over passes of (end − begin). That is the time
// the device spent inside compute passes: it excludes buffer copies and writeBuffer uploads outside passes and
// the gaps between passes and submits (host work, queue latency). Outside begin()/end() nothing is added.
// When more passes run than the query set holds, end() reports null and the caller falls back to wall time.

export interface GpuTimer {
  /** The wrapped device: hand this to the code being measured. */
  readonly device: GPUDevice;
  /** Whether the device can time passes at all (the `timestamp-query` feature). */
  readonly available: boolean;
  begin(): void;
  /** Milliseconds inside compute passes since begin(), or null if unavailable or overflowed. */
  end(): Promise<number | null>;
  /** Compute passes recorded since begin() (whether or not they were timed). */
  readonly passes: number;
}

// Dawn caps a query set at 4096 queries.
const MAX_PASSES = 2048;

export function instrument(real: GPUDevice): GpuTimer {
  const available = real.features.has('timestamp-query');
  const querySet = available ? real.createQuerySet({ type: 'timestamp', count: 2 * MAX_PASSES, label: 'bench timer' }) : null;
  const resolve = available
    ? real.createBuffer({ size: 16 * MAX_PASSES, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, label: 'bench timer resolve' })
    : null;
  const readback = available
    ? real.createBuffer({ size: 16 * MAX_PASSES, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'bench timer read' })
    : null;
  let active = false;
  let passes = 0;

  const wrapEncoder = (enc: GPUCommandEncoder): GPUCommandEncoder =>
    new Proxy(enc, {
      get(target, key) {
        if (key === 'beginComputePass') {
          return (desc?: GPUComputePassDescriptor): GPUComputePassEncoder => {
            if (!active) return target.beginComputePass(desc);
            const i = passes++;
            if (!querySet || i >= MAX_PASSES || desc?.timestampWrites) return target.beginComputePass(desc);
            return target.beginComputePass({
              ...desc,
              timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 },
            });
          };
        }
        const v = Reflect.get(target, key, target) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });

  const device = new Proxy(real, {
    get(target, key) {
      if (key === 'createCommandEncoder') {
        return (desc?: GPUCommandEncoderDescriptor): GPUCommandEncoder => wrapEncoder(target.createCommandEncoder(desc));
      }
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });

  return {
    device,
    available,
    get passes() {
      return passes;
    },
    begin() {
      active = true;
      passes = 0;
    },
    async end() {
      active = false;
      if (!querySet || !resolve || !readback || passes === 0 || passes > MAX_PASSES) return null;
      const n = passes;
      const enc = real.createCommandEncoder({ label: 'bench timer resolve' });
      enc.resolveQuerySet(querySet, 0, 2 * n, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, readback, 0, 16 * n);
      real.queue.submit([enc.finish()]);
      await readback.mapAsync(GPUMapMode.READ, 0, 16 * n);
      const t = new BigInt64Array(readback.getMappedRange(0, 16 * n).slice(0));
      readback.unmap();
      let ns = 0n;
      for (let i = 0; i < n; i++) {
        const d = t[2 * i + 1] - t[2 * i];
        if (d > 0n) ns += d;
      }
      return Number(ns) / 1e6;
    },
  };
}
