// A minimal module tree with PyTorch's naming: children, parameters and buffers in insertion order, so the
// state-dict keys come out exactly as the official ones (`model.3.cv2.0.m.0.cv1.conv1.conv.weight`).
import type { Device } from '../engine/device';
import { type Tensor, tensor } from '../engine/tensor';

export type Init = () => number;

/** A module tree with PyTorch's naming of children, parameters and buffers (state-dict keys match the official ones). */
export abstract class Module {
  training = true;
  private readonly kids = new Map<string, Module>();
  private readonly params = new Map<string, Tensor>();
  private readonly bufs = new Map<string, Tensor>();

  constructor(readonly device: Device) {}

  protected child<M extends Module>(name: string, m: M): M {
    this.kids.set(name, m);
    return m;
  }

  /** Register a parameter (kept alive outside scopes); `trainable` false for frozen ones like the DFL bins. */
  protected param(name: string, shape: readonly number[], init: Init, trainable = true): Tensor {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = init();
    const t = tensor(this.device, data, shape, { requiresGrad: trainable }).keep();
    this.params.set(name, t);
    return t;
  }

  /** Register a non-learnable state tensor (BatchNorm running statistics). */
  protected buffer(name: string, shape: readonly number[], value: number): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = tensor(this.device, new Float32Array(n).fill(value), shape).keep();
    this.bufs.set(name, t);
    return t;
  }

  get childModules(): ReadonlyMap<string, Module> {
    return this.kids;
  }

  /** Every parameter with its dotted path, in registration order. */
  *namedParameters(prefix = ''): Generator<[string, Tensor]> {
    for (const [k, t] of this.params) yield [prefix + k, t];
    for (const [k, m] of this.kids) yield* m.namedParameters(`${prefix}${k}.`);
  }

  /** Every buffer (e.g. BatchNorm running statistics) with its dotted path. */
  *namedBuffers(prefix = ''): Generator<[string, Tensor]> {
    for (const [k, t] of this.bufs) yield [prefix + k, t];
    for (const [k, m] of this.kids) yield* m.namedBuffers(`${prefix}${k}.`);
  }

  /** Parameters and buffers in PyTorch's state-dict order (per module: parameters, then buffers, then children). */
  *stateEntries(prefix = ''): Generator<[string, Tensor, 'param' | 'buffer']> {
    for (const [k, t] of this.params) yield [prefix + k, t, 'param'];
    for (const [k, t] of this.bufs) yield [prefix + k, t, 'buffer'];
    for (const [k, m] of this.kids) yield* m.stateEntries(`${prefix}${k}.`);
  }

  /** Replace the tensor behind a parameter or buffer (weight loading, optimiser steps); disposes the old one. */
  setTensor(path: string, value: Tensor): void {
    const dot = path.indexOf('.');
    if (dot >= 0) {
      const kid = this.kids.get(path.slice(0, dot));
      if (!kid) throw new Error(`no module '${path.slice(0, dot)}' for '${path}'`);
      kid.setTensor(path.slice(dot + 1), value);
      return;
    }
    const table = this.params.has(path) ? this.params : this.bufs.has(path) ? this.bufs : null;
    if (!table) throw new Error(`no parameter or buffer '${path}'`);
    const old = table.get(path)!;
    value.requiresGrad = old.requiresGrad;
    table.set(path, value.keep());
    if (old !== value) old.dispose();
  }

  /** Register an existing tensor as a parameter (fusion adds biases). */
  protected adopt(name: string, t: Tensor): void {
    t.requiresGrad = true;
    this.params.set(name, t.keep());
  }

  /** Remove a child (fusion drops BatchNorm layers and RepConvN branches). */
  protected dropChild(name: string): void {
    const m = this.kids.get(name);
    if (m) {
      this.kids.delete(name);
      m.dispose();
    }
  }

  protected getParam(name: string): Tensor {
    return this.params.get(name)!;
  }

  protected getBuffer(name: string): Tensor {
    return this.bufs.get(name)!;
  }

  /** Every BatchNorm2d in the tree with its module path (for num_batches_tracked, which is not a tensor here). */
  *batchNorms(prefix = ''): Generator<[string, { numBatchesTracked: number }]> {
    for (const [k, m] of this.kids) {
      const path = prefix + k;
      if ('numBatchesTracked' in m) yield [path, m as unknown as { numBatchesTracked: number }];
      yield* m.batchNorms(`${path}.`);
    }
  }

  /** Sets training mode on the whole tree (BatchNorm uses batch statistics). */
  train(mode = true): this {
    this.training = mode;
    for (const m of this.kids.values()) m.train(mode);
    return this;
  }

  /** Sets evaluation mode on the whole tree. */
  eval(): this {
    return this.train(false);
  }

  /** Number of learnable elements (the official "parameters" count). */
  numParameters(): number {
    let n = 0;
    for (const [, t] of this.namedParameters()) n += t.size;
    return n;
  }

  /** Frees every parameter and buffer of the tree. */
  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    for (const t of this.bufs.values()) t.dispose();
    for (const m of this.kids.values()) m.dispose();
  }
}

/** What a row of the graph consumes and produces: one tensor, or a list (Concat/CBFuse inputs, CBLinear outputs). */
export type Value = Tensor | Tensor[];

/** A module with a forward over graph values. */
export abstract class Block extends Module {
  abstract forward(x: Value): Value;
}

export function one(x: Value, who: string): Tensor {
  if (Array.isArray(x)) throw new Error(`${who} expects one tensor, got a list of ${x.length}`);
  return x;
}
