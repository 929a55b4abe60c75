// Size-bucketed pool of GPU buffers. Buffers are released explicitly (tensor dispose, scope end), never by GC.
// A buffer released while commands that use it are still unsubmitted may be handed out again at once: commands
// run in order on the queue, so the later writer cannot overtake the earlier reader. Only destroying is deferred
// until after the next submit (destroying a buffer referenced by an unsubmitted command is invalid).

export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  /** Creation number, unique on its device: idle buffers are handed out lowest id first; bind groups are keyed by it. */
  readonly id: number;
  /** Bucket size in bytes (>= the requested size). */
  readonly size: number;
  /** Id of the last command batch that bound this buffer; uploads into it must not overtake that batch. */
  lastBatch: number;
}

export interface PoolStats {
  liveBuffers: number;
  liveBytes: number;
  pooledBuffers: number;
  pooledBytes: number;
}

/** Four buckets per power of two: at most 25 % of a buffer is slack. Minimum 256 bytes. */
export function bucketSize(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes - 1));
  const step = Math.max(p / 4, 256);
  return Math.ceil(bytes / step) * step;
}

/**
 * Idle buffers of a size are handed out lowest id first, whatever order they were released in: a program that
 * repeats (a training step) then gets the same buffer at the same point every time once the pool stops growing,
 * so the device's bind groups for those buffers are reused instead of created.
 */
export class BufferPool {
  /** Idle buffers per bucket size, sorted by descending id (the lowest id pops off the end). */
  private readonly free = new Map<number, PooledBuffer[]>();
  private readonly stats: PoolStats = { liveBuffers: 0, liveBytes: 0, pooledBuffers: 0, pooledBytes: 0 };
  /** Pooled buffers in release order, for evicting the oldest when over the cap. */
  private readonly order: PooledBuffer[] = [];
  private readonly live = new Set<PooledBuffer>();

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private readonly label: string,
    /** Pooled (idle) bytes above this are destroyed, oldest first. */
    private readonly maxPooledBytes: number,
    /** Called with buffers that must be destroyed once the pending batch is submitted. */
    private readonly retire: (b: GPUBuffer) => void,
    /** Ids for new buffers (one counter shared by the device's pools). */
    private readonly newId: () => number,
  ) {}

  acquire(bytes: number): PooledBuffer {
    const size = bucketSize(bytes);
    const list = this.free.get(size);
    let pb = list?.pop();
    if (pb) {
      this.order.splice(this.order.indexOf(pb), 1);
      this.stats.pooledBuffers--;
      this.stats.pooledBytes -= size;
    } else {
      pb = { buffer: this.device.createBuffer({ size, usage: this.usage, label: this.label }), id: this.newId(), size, lastBatch: -1 };
    }
    this.stats.liveBuffers++;
    this.stats.liveBytes += size;
    this.live.add(pb);
    return pb;
  }

  release(pb: PooledBuffer): void {
    if (!this.live.delete(pb)) return;
    this.stats.liveBuffers--;
    this.stats.liveBytes -= pb.size;
    let list = this.free.get(pb.size);
    if (!list) this.free.set(pb.size, (list = []));
    // binary search for the place that keeps the list in descending id order
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].id > pb.id) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, pb);
    this.order.push(pb);
    this.stats.pooledBuffers++;
    this.stats.pooledBytes += pb.size;
    while (this.stats.pooledBytes > this.maxPooledBytes && this.order.length > 0) this.evict(this.order[0]);
  }

  /** Destroy every idle buffer (live ones are untouched). */
  trim(): void {
    while (this.order.length > 0) this.evict(this.order[0]);
  }

  /** Destroy idle and live buffers alike (engine disposal). */
  destroyAll(): void {
    this.trim();
    for (const pb of this.live) this.retire(pb.buffer);
    this.live.clear();
    this.stats.liveBuffers = 0;
    this.stats.liveBytes = 0;
  }

  private evict(pb: PooledBuffer): void {
    this.order.shift();
    const list = this.free.get(pb.size)!;
    list.splice(list.indexOf(pb), 1);
    this.stats.pooledBuffers--;
    this.stats.pooledBytes -= pb.size;
    this.retire(pb.buffer);
  }

  report(): Readonly<PoolStats> {
    return { ...this.stats };
  }
}
