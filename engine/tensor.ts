// GPU-resident tensors: a shape and strides over a shared, reference-counted storage buffer. Views (reshape of
// dense data, permute, slice, expand) share storage; dispose() releases a view and the buffer returns to the
// pool when its last view is gone. Tensors never free themselves on GC: use dispose() or tidy().
import type { PooledBuffer } from './buffer-pool';
import type { Device } from './device';
import { OpError, fmtShape } from './errors';
import { type Shape, checkShape, contiguousStrides, isContiguous, numel } from './shape';
import type { DType } from '../kernels/common';
import type { GradNode } from './tape';
import { f16ToF32, f32ToF16 } from './half';
import { gatherStrided, stridedExtent } from './strided';

export type { DType };

/** A GPU buffer shared by the views of one tensor. */
export interface Storage {
  readonly buf: PooledBuffer;
  readonly dtype: DType;
  refs: number;
}

export const BYTES: Record<DType, 2 | 4> = { f32: 4, f16: 2 };

/** An n-dimensional array on the GPU (f32 or f16) that records its op for autograd when a gradient is needed. */
export class Tensor {
  /** Set when an op that produced this tensor recorded a backward. */
  node: GradNode | null = null;
  /** Accumulated gradient of a leaf that requires grad (kept alive outside scopes). */
  grad: Tensor | null = null;
  private disposed = false;

  constructor(
    readonly device: Device,
    readonly storage: Storage,
    readonly shape: Shape,
    readonly strides: readonly number[],
    /** Element offset into the storage. */
    readonly offset: number,
    public requiresGrad = false,
  ) {
    device.liveTensors++;
    device.track(this);
  }

  get dtype(): DType {
    return this.storage.dtype;
  }

  get size(): number {
    return numel(this.shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }

  /** Release this view; the buffer goes back to the pool when no view uses it. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // `node` stays: later ops' graphs may still lead through this tensor to its inputs.
    this.device.liveTensors--;
    this.device.untrack(this);
    if (--this.storage.refs === 0) this.device.release(this.storage.buf);
    if (this.grad) {
      this.grad.dispose();
      this.grad = null;
    }
  }

  /** Keep this tensor alive past every enclosing tidy() scope. */
  keep(): this {
    this.device.untrack(this);
    return this;
  }

  /** Throw a clear error if the tensor was disposed; `op` and `role` name the caller. */
  assertAlive(op: string, role = 'input'): void {
    if (this.disposed) throw new OpError(op, `${role} of shape ${fmtShape(this.shape)} was used after dispose()`);
    this.device.checkAlive();
  }

  /** Read back as float32 (f16 tensors are widened). A sync point: submits pending work and waits. */
  async data(): Promise<Float32Array> {
    this.assertAlive('data');
    const bpe = BYTES[this.dtype];
    // a view is read as the span of storage it covers and gathered here: reading never records a kernel
    const span = stridedExtent(0, this.shape, this.strides);
    const raw = new Uint8Array(await this.device.read(this.storage.buf, this.offset * bpe, span * bpe));
    const dense = this.isContiguous ? raw : gatherStrided(raw, bpe, 0, this.shape, this.strides);
    return this.dtype === 'f16' ? f16ToF32(new Uint16Array(dense.buffer, dense.byteOffset, dense.length / 2)) : new Float32Array(dense.buffer, dense.byteOffset, dense.length / 4);
  }

  /** The value of a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new OpError('item', `tensor of shape ${fmtShape(this.shape)} has ${this.size} elements, not 1`);
    return (await this.data())[0];
  }

  /** Reverse-mode autodiff from this tensor; `gradient` defaults to ones for one-element tensors. */
  backward(gradient?: Tensor): void {
    this.device.autograd.backward(this, gradient);
  }

  /** A view of the same data that does not require grad and has no history. */
  detach(): Tensor {
    this.assertAlive('detach');
    return view(this, this.shape, this.strides, this.offset);
  }

  /** Shape, dtype and op, for logs (no read-back). */
  toString(): string {
    return `Tensor(${fmtShape(this.shape)}, ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}

/** A new view of `t`'s storage (no gradient history; ops attach it). */
export function view(t: Tensor, shape: Shape, strides: readonly number[], offset: number): Tensor {
  t.storage.refs++;
  return new Tensor(t.device, t.storage, shape, strides, offset);
}

/** A fresh dense tensor with uninitialised contents. */
export function empty(device: Device, shape: Shape, dtype: DType = 'f32', op = 'empty'): Tensor {
  checkShape(op, shape);
  if (dtype === 'f16' && !device.features.f16) {
    throw new OpError(op, "dtype 'f16' needs the shader-f16 feature, which this device does not have");
  }
  const bytes = numel(shape) * BYTES[dtype];
  const buf = device.allocate(op, bytes, () => `a ${dtype} tensor of shape ${fmtShape(shape)}`);
  return new Tensor(device, { buf, dtype, refs: 1 }, shape, contiguousStrides(shape), 0);
}

/** Options of tensor(): its dtype (default f32) and whether it collects a gradient (requiresGrad). */
export interface TensorOptions {
  readonly dtype?: DType;
  readonly requiresGrad?: boolean;
}

/** Upload host data. `data` may be a flat array/typed array (with `shape`) or a number (a scalar). */
export function tensor(device: Device, data: ArrayLike<number> | number, shape?: Shape, opts: TensorOptions = {}): Tensor {
  const flat = typeof data === 'number' ? [data] : data;
  const s = shape ?? (typeof data === 'number' ? [] : [flat.length]);
  if (numel(s) !== flat.length) {
    throw new OpError('tensor', `${flat.length} values do not fill shape ${fmtShape(s)} (${numel(s)} elements)`);
  }
  const dtype = opts.dtype ?? 'f32';
  const t = empty(device, s, dtype, 'tensor');
  const payload = dtype === 'f16' ? f32ToF16(flat) : flat instanceof Float32Array ? flat : Float32Array.from(flat);
  device.upload(t.storage.buf, payload);
  t.requiresGrad = opts.requiresGrad ?? false;
  return t;
}

/**
 * Run `fn` and dispose every tensor created inside it except those it returns (a tensor, or an array or
 * plain object of tensors), which move to the enclosing scope. Gradients stored on leaves are kept.
 */
export function tidy<T>(device: Device, fn: () => T): T {
  const frame = new Set<{ dispose(): void; readonly isDisposed: boolean }>();
  device.scopes.push(frame);
  let result: T;
  try {
    result = fn();
  } finally {
    device.scopes.pop();
  }
  const keep = new Set<unknown>();
  const collect = (v: unknown): void => {
    if (v instanceof Tensor) keep.add(v);
    else if (Array.isArray(v)) v.forEach(collect);
    else if (v !== null && typeof v === 'object' && Object.getPrototypeOf(v) === Object.prototype) Object.values(v).forEach(collect);
  };
  collect(result);
  for (const r of frame) {
    if (keep.has(r)) device.track(r);
    else r.dispose();
  }
  return result;
}

/** Run `fn` without recording gradients. */
export function noGrad<T>(device: Device, fn: () => T): T {
  device.noGradDepth++;
  try {
    return fn();
  } finally {
    device.noGradDepth--;
  }
}
