// GPU time per kernel, from timestamp queries around each dispatch (Device.profileStart / profileEnd). While
// profiling, every dispatch gets its own compute pass with timestampWrites, so a profiled run is slower than a
// normal one: the shares between kernels are what it is for.
const QUERIES = 2048;

/** GPU time per kernel name, from timestamp queries around each dispatch (see Device.profileStart). */
export interface KernelProfile {
  readonly name: string;
  readonly calls: number;
  readonly ms: number;
}

export class Profiler {
  private readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private names: string[] = [];
  private readonly pending: { staging: GPUBuffer; names: string[] }[] = [];

  constructor(private readonly gpu: GPUDevice) {
    this.querySet = gpu.createQuerySet({ type: 'timestamp', count: QUERIES });
    this.resolve = gpu.createBuffer({ size: QUERIES * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  }

  /** Whether the query set is full: the device must submit (which resolves it) before the next dispatch. */
  get full(): boolean {
    return this.names.length >= QUERIES / 2;
  }

  /** The pass of one dispatch of kernel `name`, timestamped at its start and end. */
  pass(name: string): GPUComputePassDescriptor {
    const q = 2 * this.names.length;
    this.names.push(name);
    return { timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 } };
  }

  /** Before a submit: copy the timestamps recorded in this batch to a staging buffer read at the end. */
  resolveInto(encoder: GPUCommandEncoder): void {
    if (this.names.length === 0) return;
    const n = 2 * this.names.length;
    const staging = this.gpu.createBuffer({ size: n * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, label: 'profile staging' });
    encoder.resolveQuerySet(this.querySet, 0, n, this.resolve, 0);
    encoder.copyBufferToBuffer(this.resolve, 0, staging, 0, n * 8);
    this.pending.push({ staging, names: this.names });
    this.names = [];
  }

  /** GPU milliseconds per kernel name, largest first (after the last batch was submitted); frees the queries. */
  async finish(guard: <T>(p: Promise<T>) => Promise<T>): Promise<KernelProfile[]> {
    const totals = new Map<string, { calls: number; ns: number }>();
    for (const { staging, names } of this.pending) {
      await guard(staging.mapAsync(GPUMapMode.READ));
      const t = new BigInt64Array(staging.getMappedRange());
      names.forEach((name, i) => {
        const e = totals.get(name) ?? { calls: 0, ns: 0 };
        e.calls++;
        e.ns += Number(t[2 * i + 1] - t[2 * i]);
        totals.set(name, e);
      });
      staging.unmap();
      staging.destroy();
    }
    this.querySet.destroy();
    this.resolve.destroy();
    return [...totals].map(([name, e]) => ({ name, calls: e.calls, ms: e.ns / 1e6 })).sort((a, b) => b.ms - a.ms);
  }
}
