// The Device owns every GPU object of one engine: buffer pools, the pipeline cache, the uniform arena and the
// command batcher. Ops record dispatches into one open compute pass; the batch is submitted when it is full or
// when something must be read back (the only sync point). Two Devices share nothing, so two engines can run on
// two GPUDevices in one page or process.
import { type KernelSource, type ParamValues, SOFTWARE_WORKGROUPS, type SubgroupMatrixShape, packParams } from '../kernels/common';
import { type AdapterDescription, type AdapterExtras, type DeviceFeatures, selectFeatures } from './features';

export {
  type AdapterDescription, type AdapterExtras, type DeviceFeatures, type SubgroupMatrixConfig, type SubgroupMatrixShape, type WantedFeature,
  WANTED_FEATURES, describeSubgroupMatrix, pickSubgroupMatrix,
} from './features';
import { TileSearch } from './tile-search';
import { type PooledBuffer, type PoolStats, BufferPool } from './buffer-pool';
import { type CompiledKernel, PipelineCache } from './pipelines';
import { DeviceLostError } from './errors';
import { type KernelProfile, Profiler } from './profiler';

export type { KernelProfile };
import type { Tensor } from './tensor';

/** Runs backward() from a tensor (engine/autograd.ts); injected so the tensor and the tape depend on no op. */
export interface Autograd {
  /** Reverse-mode autodiff from `root` (see Tensor.backward). */
  backward(root: Tensor, gradient?: Tensor): void;
}

const NO_AUTOGRAD: Autograd = {
  backward: () => {
    throw new Error('backward(): this Device was constructed without autograd; create devices with createDevice()');
  },
};

/** What Device.memory() reports: live tensors and bytes, pooled bytes, pipelines. */
export interface MemoryReport {
  /** Tensors not yet disposed. */
  readonly liveTensors: number;
  /** Bytes of GPU buffers held by live tensors and engine state (bucket sizes). */
  readonly liveBytes: number;
  readonly liveBuffers: number;
  /** Idle bytes kept in the pools for reuse. */
  readonly pooledBytes: number;
  readonly pooledBuffers: number;
  readonly pipelines: number;
}

/** Engine settings of a Device: buffer pool, dispatch batching, kernel paths and tile search. */
export interface DeviceSettings {
  /** Idle pooled bytes kept for reuse before the oldest are destroyed (default 1 GiB). */
  readonly maxPooledBytes?: number;
  /** Dispatches recorded before a batch is submitted without waiting for a read-back (default 256). */
  readonly dispatchesPerSubmit?: number;
  /**
   * Prefer kernel variants with less unrolled code (default: on SwiftShader, whose shader JIT is slow enough on
   * long unrolled kernels for Chromium's GPU watchdog to drop the device).
   */
  readonly compactKernels?: boolean;
  /** Queue unseen problem shapes for a tile search (see Device.tiles; default off: tiles come from rules). */
  readonly tileSearch?: boolean;
  /**
   * Run f16 matmuls and convs on the adapter's subgroup matrices (cooperative matrices): true wherever the adapter
   * has them, false never (the f16 SIMT kernels), 'auto' (default) on hardware adapters only — a software adapter
   * emulates them slower than the SIMT kernels run (figures in README's subgroup-matrix section).
   */
  readonly subgroupMatrix?: boolean | 'auto';
}

/** Anything a scope can dispose (tensors). */
export interface ScopedResource {
  dispose(): void;
  readonly isDisposed: boolean;
}

const UNIFORM_ARENA_BYTES = 1 << 20;
/** Most bind groups kept for reuse (a training step of yolov9-c needs a few thousand). */
const MAX_BIND_GROUPS = 65536;

/** The engine on one GPUDevice: buffer pool, pipelines, dispatch batching, memory accounting. Made by createDevice(). */
export class Device {
  readonly features: DeviceFeatures;
  /** Smallest subgroup size the adapter may use (0 when unknown or without the subgroups feature). */
  readonly subgroupMinSize: number;
  /** Largest subgroup size the adapter may use (0 when unknown or without the subgroups feature). */
  readonly subgroupMaxSize: number;
  /** Kernels choose variants with less unrolled code (see DeviceSettings.compactKernels). */
  readonly compactKernels: boolean;
  /** A software adapter (llvmpipe, SwiftShader): workgroups run on a few CPU threads, so a few suffice. */
  readonly software: boolean;
  /** The subgroup-matrix shape f16 matmuls and convs run on, or null (see pickSubgroupMatrix, DeviceSettings). */
  readonly subgroupMatrix: SubgroupMatrixShape | null;
  /** The shape the adapter offers, used or not. */
  readonly subgroupMatrixOffered: SubgroupMatrixShape | null;
  readonly limits: GPUSupportedLimits;
  /** Tile choices measured on this device, and the queue of shapes to measure (see engine/tile-search.ts). */
  readonly tiles: TileSearch;
  private readonly pool: BufferPool;
  private readonly readPool: BufferPool;
  private readonly pipelines: PipelineCache;
  private readonly arena: GPUBuffer;
  private readonly arenaMirror: ArrayBuffer;
  private readonly arenaView: DataView;
  private readonly uniformAlign: number;
  private readonly dispatchesPerSubmit: number;
  private arenaUsed = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private dispatches = 0;
  private retired: GPUBuffer[] = [];
  private batchId = 0;
  private lostError: DeviceLostError | null = null;
  private readonly lostWaiters = new Set<(e: DeviceLostError) => void>();
  private readonly compileErrors: Promise<string | null>[] = [];
  private disposed = false;
  private profiler: Profiler | null = null;
  /**
   * Bind groups by kernel and buffers: pooled buffers come back in the same order every training step, so after
   * the first step no dispatch creates one. Entries of a buffer are dropped when the pool destroys it.
   */
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bindGroupKeys = new Map<GPUBuffer, string[]>();
  private nextBufferId = 0;
  /** Live tensors and their storage bytes, maintained by Tensor. */
  liveTensors = 0;
  /** Scope stack for tidy(): each frame collects the resources created inside it. */
  readonly scopes: Set<ScopedResource>[] = [];
  /** > 0 inside noGrad(): ops record no backward. */
  noGradDepth = 0;

  constructor(
    readonly gpu: GPUDevice,
    readonly adapter: AdapterDescription,
    /** Whether dispose() destroys the GPUDevice (false when the host application owns it). */
    private readonly ownsDevice: boolean,
    settings: DeviceSettings = {},
    /** Keeps objects alive as long as this device (Dawn's instance in Node). */
    readonly keepAlive: unknown = null,
    extras: AdapterExtras = {},
    /** The reverse-mode walk that Tensor.backward() runs (engine/autograd.ts), handed in by createDevice. */
    readonly autograd: Autograd = NO_AUTOGRAD,
  ) {
    const chosen = selectFeatures(gpu, adapter, settings, extras);
    this.features = chosen.features;
    this.subgroupMinSize = chosen.subgroupMinSize;
    this.subgroupMaxSize = chosen.subgroupMaxSize;
    this.compactKernels = chosen.compactKernels;
    this.software = chosen.software;
    this.subgroupMatrixOffered = chosen.subgroupMatrixOffered;
    this.subgroupMatrix = chosen.subgroupMatrix;
    this.limits = gpu.limits;
    this.tiles = new TileSearch(this);
    this.tiles.enabled = settings.tileSearch ?? false;
    const retire = (b: GPUBuffer): void => {
      this.retired.push(b);
      for (const key of this.bindGroupKeys.get(b) ?? []) this.bindGroups.delete(key);
      this.bindGroupKeys.delete(b);
    };
    const newId = (): number => this.nextBufferId++;
    const maxPooled = settings.maxPooledBytes ?? 1 << 30;
    this.pool = new BufferPool(gpu, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'tensor', maxPooled, retire, newId);
    this.readPool = new BufferPool(gpu, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback', 64 << 20, retire, newId);
    this.pipelines = new PipelineCache(gpu, (p) => this.compileErrors.push(p));
    this.uniformAlign = Math.max(256, gpu.limits.minUniformBufferOffsetAlignment);
    this.arena = gpu.createBuffer({ size: UNIFORM_ARENA_BYTES, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: 'uniform arena' });
    this.arenaMirror = new ArrayBuffer(UNIFORM_ARENA_BYTES);
    this.arenaView = new DataView(this.arenaMirror);
    this.dispatchesPerSubmit = settings.dispatchesPerSubmit ?? 256;
    void gpu.lost.then((info) => {
      if (this.disposed && info.reason === 'destroyed') return;
      this.markLost(`${info.reason}${info.message ? `: ${info.message}` : ''}`);
    });
  }

  /** Throws if the device was lost or disposed; every entry point calls it so nothing hangs. */
  checkAlive(): void {
    if (this.lostError) throw this.lostError;
    if (this.disposed) throw new Error('gelan-webgpu: this Device was disposed');
  }

  get isLost(): boolean {
    return this.lostError !== null;
  }

  private markLost(reason: string): void {
    if (this.lostError) return;
    this.lostError = new DeviceLostError(reason);
    for (const w of this.lostWaiters) w(this.lostError);
    this.lostWaiters.clear();
  }

  /** Resolve `p`, or reject as soon as the device is lost. */
  private guard<T>(p: Promise<T>): Promise<T> {
    if (this.lostError) return Promise.reject(this.lostError);
    return new Promise<T>((resolve, reject) => {
      const onLost = (e: DeviceLostError): void => reject(e);
      this.lostWaiters.add(onLost);
      p.then(
        (v) => {
          this.lostWaiters.delete(onLost);
          if (this.lostError) reject(this.lostError);
          else resolve(v);
        },
        (e: unknown) => {
          this.lostWaiters.delete(onLost);
          // A map or wait that fails because the device is going away: let `lost` settle first so the caller
          // sees the clear DeviceLostError rather than Dawn's generic abort.
          const settle = new Promise<void>((r) => setTimeout(r, 50));
          void Promise.race([this.gpu.lost.then(() => undefined), settle]).then(() => reject(this.lostError ?? e));
        },
      );
    });
  }

  // ---- buffers -------------------------------------------------------------------------------------------------

  /** A storage buffer of at least `bytes` bytes from the pool; throws naming `op` if it exceeds the binding limit. */
  allocate(op: string, bytes: number, what: () => string): PooledBuffer {
    this.checkAlive();
    const max = this.limits.maxStorageBufferBindingSize;
    if (bytes > max) {
      throw new Error(
        `${op}: ${what()} needs ${bytes} bytes, more than this device's maxStorageBufferBindingSize (${max} bytes); ` +
          'split the batch or use a smaller image size',
      );
    }
    return this.pool.acquire(Math.max(4, bytes));
  }

  /** Returns a buffer to the pool (engine internal). */
  release(pb: PooledBuffer): void {
    if (!this.disposed) this.pool.release(pb);
  }

  /** Write host data into a buffer without overtaking unsubmitted commands that still use the buffer. */
  upload(pb: PooledBuffer, data: ArrayBufferView, byteOffset = 0): void {
    this.checkAlive();
    if (pb.lastBatch === this.batchId && this.encoder) this.flush();
    const bytes = new Uint8Array(data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    // writeBuffer needs a multiple of 4 bytes.
    if (bytes.byteLength % 4 !== 0) {
      const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      padded.set(bytes);
      this.gpu.queue.writeBuffer(pb.buffer, byteOffset, padded);
    } else {
      this.gpu.queue.writeBuffer(pb.buffer, byteOffset, bytes);
    }
  }

  // ---- dispatch and batching -------------------------------------------------------------------------------------

  /** The compiled pipeline for a kernel source, cached by its key (engine internal). */
  kernel(src: KernelSource): CompiledKernel {
    return this.pipelines.get(src);
  }

  /**
   * Record one dispatch. `buffers` names a buffer for each of the kernel's declared storage bindings (by the
   * binding's WGSL name); a missing or unknown name throws. The same buffer may not be bound twice when one of
   * the bindings writes (WebGPU forbids it); the op must pass distinct buffers.
   */
  dispatch(src: KernelSource, buffers: Readonly<Record<string, PooledBuffer>>, params: ParamValues, grid: readonly [number, number, number]): void {
    this.checkAlive();
    const bound = bindingOrder(src, buffers);
    if (grid[0] === 0 || grid[1] === 0 || grid[2] === 0) return;
    const maxWg = this.limits.maxComputeWorkgroupsPerDimension;
    if (grid[0] > maxWg || grid[1] > maxWg || grid[2] > maxWg) {
      throw new Error(`${src.name}: dispatch grid ${grid.join('x')} exceeds maxComputeWorkgroupsPerDimension ${maxWg}`);
    }
    const k = this.pipelines.get(src);
    let offset = -1;
    if (src.params.length > 0) {
      if (this.arenaUsed + k.params.size > UNIFORM_ARENA_BYTES) this.flush();
      offset = this.arenaUsed;
      packParams(src.name, k.params, params, this.arenaView, offset);
      this.arenaUsed = Math.ceil((offset + k.params.size) / this.uniformAlign) * this.uniformAlign;
    }
    for (const b of bound) b.lastBatch = this.batchId;
    const bindGroup = this.bindGroup(k, bound);
    if (this.profiler) {
      // one pass per dispatch, timestamped at its start and end
      this.closePass();
      if (this.profiler.full) this.flush();
      this.pass = this.openEncoder().beginComputePass(this.profiler.pass(src.name));
    }
    const pass = this.openPass();
    pass.setPipeline(k.pipeline);
    if (offset >= 0) pass.setBindGroup(0, bindGroup, [offset]);
    else pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    if (this.profiler) this.closePass();
    if (++this.dispatches >= this.dispatchesPerSubmit) this.flush();
  }

  private bindGroup(k: CompiledKernel, buffers: readonly PooledBuffer[]): GPUBindGroup {
    const src = k.source;
    let key = String(k.id);
    for (const b of buffers) key += `,${b.id}`;
    const hit = this.bindGroups.get(key);
    if (hit) return hit;
    // a bound on the cache for programs that never repeat their buffers (it refills in one step)
    if (this.bindGroups.size >= MAX_BIND_GROUPS) {
      this.bindGroups.clear();
      this.bindGroupKeys.clear();
    }
    const entries: GPUBindGroupEntry[] = buffers.map((b, i) => ({ binding: i, resource: { buffer: b.buffer } }));
    if (src.params.length > 0) entries.push({ binding: buffers.length, resource: { buffer: this.arena, offset: 0, size: k.params.size } });
    const bg = this.gpu.createBindGroup({ layout: k.layout, entries, label: src.name });
    this.bindGroups.set(key, bg);
    for (const b of new Set(buffers)) {
      const keys = this.bindGroupKeys.get(b.buffer);
      if (keys) keys.push(key);
      else this.bindGroupKeys.set(b.buffer, [key]);
    }
    return bg;
  }

  /** Bind groups held for reuse (tests check that a repeated step creates none). */
  get cachedBindGroups(): number {
    return this.bindGroups.size;
  }

  /**
   * Grid for `n` flat indices of a kernel that loops with gridStride (kernels/common.ts): one invocation per index
   * on a GPU, at most SOFTWARE_WORKGROUPS workgroups on a software adapter.
   */
  gridStride(n: number, wg: number): [number, number, number] {
    if (!this.software) return this.grid1d(n, wg);
    return [Math.max(0, Math.min(Math.ceil(n / wg), SOFTWARE_WORKGROUPS)), 1, 1];
  }

  /** Grid for `n` invocations of a 1-D kernel with workgroup size `wg` (2-D when over the per-dimension limit). */
  grid1d(n: number, wg: number): [number, number, number] {
    const groups = Math.ceil(n / wg);
    const maxWg = this.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= maxWg) return [Math.max(groups, 0), 1, 1];
    const y = Math.ceil(groups / maxWg);
    return [Math.ceil(groups / y), y, 1];
  }

  private openEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.gpu.createCommandEncoder({ label: `batch ${this.batchId}` });
    return this.encoder;
  }

  private openPass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.openEncoder().beginComputePass();
    return this.pass;
  }

  private closePass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Record a buffer-to-buffer copy (outside any compute pass). */
  copy(src: PooledBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.checkAlive();
    this.closePass();
    src.lastBatch = this.batchId;
    this.openEncoder().copyBufferToBuffer(src.buffer, srcOffset, dst, dstOffset, bytes);
  }

  /** Submit everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.closePass();
    this.profiler?.resolveInto(this.encoder);
    if (this.arenaUsed > 0) this.gpu.queue.writeBuffer(this.arena, 0, this.arenaMirror, 0, this.arenaUsed);
    this.gpu.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.arenaUsed = 0;
    this.dispatches = 0;
    this.batchId++;
    for (const b of this.retired) b.destroy();
    this.retired = [];
  }

  /** Read `bytes` bytes at `offset` of a buffer back to the host: submits pending work and waits for it. */
  async read(src: PooledBuffer, offset: number, bytes: number): Promise<ArrayBuffer> {
    this.checkAlive();
    const aligned = Math.ceil(bytes / 4) * 4;
    const staging = this.readPool.acquire(aligned);
    this.copy(src, offset, staging.buffer, 0, aligned);
    this.flush();
    try {
      await this.guard(staging.buffer.mapAsync(GPUMapMode.READ, 0, aligned));
      const out = staging.buffer.getMappedRange(0, aligned).slice(0, bytes);
      staging.buffer.unmap();
      await this.throwCompileErrors();
      return out;
    } finally {
      if (staging.buffer.mapState === 'mapped') staging.buffer.unmap();
      if (!this.disposed) this.readPool.release(staging);
    }
  }

  /**
   * Time every dispatch until profileEnd() with timestamp queries (one compute pass per dispatch, so slower
   * than normal). Needs the timestamp-query feature.
   */
  profileStart(): void {
    if (!this.features.timestampQuery) throw new Error('profiling needs the timestamp-query feature, which this device does not have');
    if (this.profiler) return;
    this.flush();
    this.profiler = new Profiler(this.gpu);
  }

  /** Stop profiling; GPU milliseconds per kernel name, largest first. */
  async profileEnd(): Promise<KernelProfile[]> {
    const prof = this.profiler;
    if (!prof) return [];
    this.flush();
    this.profiler = null;
    return prof.finish((p) => this.guard(p));
  }

  /** Wait until all submitted work has finished (for timing and tests). */
  async sync(): Promise<void> {
    this.checkAlive();
    this.flush();
    await this.guard(this.gpu.queue.onSubmittedWorkDone());
    await this.throwCompileErrors();
  }

  private async throwCompileErrors(): Promise<void> {
    if (this.compileErrors.length === 0) return;
    const errs = (await Promise.all(this.compileErrors.splice(0))).filter((e): e is string => e !== null);
    if (errs.length > 0) throw new Error(errs.join('\n'));
  }

  // ---- scopes and memory ----------------------------------------------------------------------------------------

  /** Register a newly created resource with the innermost tidy scope. */
  track(r: ScopedResource): void {
    const top = this.scopes[this.scopes.length - 1];
    if (top) top.add(r);
  }

  /** Remove a resource from every scope so that it survives them (parameters, gradients, optimiser state). */
  untrack(r: ScopedResource): void {
    for (const s of this.scopes) s.delete(r);
  }

  /** Live tensors and bytes, pooled bytes and pipeline count: for leak checks and logs. */
  memory(): MemoryReport {
    const a: PoolStats = this.pool.report();
    const b: PoolStats = this.readPool.report();
    return {
      liveTensors: this.liveTensors,
      liveBytes: a.liveBytes,
      liveBuffers: a.liveBuffers,
      pooledBytes: a.pooledBytes + b.pooledBytes,
      pooledBuffers: a.pooledBuffers + b.pooledBuffers,
      pipelines: this.pipelines.count(),
    };
  }

  /** Destroy idle pooled buffers (live tensors keep theirs). */
  trim(): void {
    this.pool.trim();
    this.readPool.trim();
    this.flush();
    for (const b of this.retired) b.destroy();
    this.retired = [];
  }

  /**
   * Free every GPU object of this engine. A host-owned GPUDevice is left alive (only our buffers are
   * destroyed); one we created is destroyed. Tensors of this device must not be used afterwards.
   */
  dispose(): void {
    if (this.disposed) return;
    if (!this.lostError) this.flush();
    this.pool.destroyAll();
    this.readPool.destroyAll();
    for (const b of this.retired) b.destroy();
    this.retired = [];
    this.arena.destroy();
    this.bindGroups.clear();
    this.bindGroupKeys.clear();
    this.disposed = true;
    if (this.ownsDevice) this.gpu.destroy();
  }

  get isDisposed(): boolean {
    return this.disposed;
  }
}

/** The buffers of `named` in the kernel's binding order; every declared binding must be named, and nothing else. */
function bindingOrder(src: KernelSource, named: Readonly<Record<string, PooledBuffer>>): PooledBuffer[] {
  const out: PooledBuffer[] = [];
  for (const b of src.bindings) {
    const buf = named[b.name];
    if (buf === undefined) throw new Error(`${src.name}: no buffer for binding '${b.name}' (declared: ${src.bindings.map((d) => d.name).join(', ')})`);
    out.push(buf);
  }
  let given = 0;
  for (const name in named) given++;
  if (given !== out.length) {
    const unknown = Object.keys(named).filter((n) => !src.bindings.some((b) => b.name === n));
    throw new Error(`${src.name}: unknown binding ${unknown.map((n) => `'${n}'`).join(', ')} (declared: ${src.bindings.map((d) => d.name).join(', ')})`);
  }
  return out;
}
