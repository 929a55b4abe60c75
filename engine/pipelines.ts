// Compute pipelines cached by the kernel's variant key. Layouts are explicit (derived from the kernel's
// declared bindings), so bind groups never depend on shader reflection. Compilation errors are captured in a
// validation error scope and surfaced, naming the kernel, by the device at its next sync point.
import { type KernelSource, type ParamsLayout, paramsLayout } from '../kernels/common';

export interface CompiledKernel {
  /** Small number naming this pipeline (bind-group cache keys use it instead of the long variant key). */
  readonly id: number;
  readonly source: KernelSource;
  readonly pipeline: GPUComputePipeline;
  readonly layout: GPUBindGroupLayout;
  readonly params: ParamsLayout;
}

export class PipelineCache {
  private readonly cache = new Map<string, CompiledKernel>();

  constructor(
    private readonly device: GPUDevice,
    /** Receives a compile error (a promise, since error scopes are asynchronous). */
    private readonly onError: (p: Promise<string | null>) => void,
  ) {}

  get(src: KernelSource): CompiledKernel {
    const hit = this.cache.get(src.key);
    if (hit) return hit;
    const params = paramsLayout(src.params);
    const entries: GPUBindGroupLayoutEntry[] = src.bindings.map((b, i) => ({
      binding: i,
      visibility: GPUShaderStage.COMPUTE,
      buffer: { type: b.access === 'read' ? 'read-only-storage' : 'storage' },
    }));
    if (src.params.length > 0) {
      // dynamic offset: the parameters live in the device's uniform arena at a different offset on every dispatch,
      // so one bind group per (kernel, buffers) serves every step
      entries.push({ binding: src.bindings.length, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform', hasDynamicOffset: true } });
    }
    this.device.pushErrorScope('validation');
    const layout = this.device.createBindGroupLayout({ entries, label: src.name });
    // the WGSL text is generated here, on a miss, and never for a cached variant
    const module = this.device.createShaderModule({ code: src.code(), label: src.key });
    const pipeline = this.device.createComputePipeline({
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
      label: src.name,
    });
    this.onError(
      this.device.popErrorScope().then((e) => (e ? `kernel ${src.name} (${src.key}) failed to compile: ${e.message}` : null)),
    );
    const compiled = { id: this.cache.size, source: src, pipeline, layout, params };
    this.cache.set(src.key, compiled);
    return compiled;
  }

  /** Number of distinct pipelines compiled so far (tests bound it). */
  count(): number {
    return this.cache.size;
  }
}
