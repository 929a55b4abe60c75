// The three building layers of every YOLOv9 block: nn.Conv2d, nn.BatchNorm2d (eps 1e-3, momentum 0.03 as the
// official model constructor sets them) and Conv = conv (no bias) → BN → SiLU.
import type { Device } from '../engine/device';
import type { Tensor } from '../engine/tensor';
import { add, batchNorm2d, cast, contiguous, conv2d, relu, silu } from '../engine/ops';
import { type Init, type Value, Block, Module, one } from './module';

/** PyTorch's default conv init (kaiming_uniform with a = √5): U(−1/√fan_in, 1/√fan_in), same for the bias. */
export function defaultInit(rand: () => number, fanIn: number): Init {
  const bound = 1 / Math.sqrt(fanIn);
  return () => (rand() * 2 - 1) * bound;
}

export interface Conv2dSpec {
  readonly c1: number;
  readonly c2: number;
  readonly k: number;
  readonly s?: number;
  readonly p?: number;
  readonly g?: number;
  readonly d?: number;
  readonly bias?: boolean;
}

/** `autopad`: 'same'-style padding of the dilated kernel. */
export const autopad = (k: number, d = 1): number => Math.floor((d * (k - 1) + 1) / 2);

/** nn.Conv2d. */
export class Conv2d extends Block {
  readonly stride: number;
  readonly padding: number;
  readonly groups: number;
  readonly dilation: number;
  hasBias: boolean;

  /** `rand` initialises the weights (PyTorch's default init); or pass the tensors to adopt. */
  constructor(device: Device, readonly spec: Conv2dSpec, rand: (() => number) | { weight: Tensor; bias: Tensor | null }) {
    super(device);
    const { c1, c2, k, g = 1 } = spec;
    if (c1 % g !== 0 || c2 % g !== 0) throw new Error(`Conv2d(${c1}, ${c2}, k=${k}, groups=${g}): groups must divide both channel counts`);
    this.stride = spec.s ?? 1;
    this.dilation = spec.d ?? 1;
    this.padding = spec.p ?? autopad(k, this.dilation);
    this.groups = g;
    if (typeof rand === 'function') {
      this.hasBias = spec.bias ?? false;
      const init = defaultInit(rand, (c1 / g) * k * k);
      this.param('weight', [c2, c1 / g, k, k], init);
      if (this.hasBias) this.param('bias', [c2], init);
    } else {
      this.hasBias = rand.bias !== null;
      this.adopt('weight', rand.weight);
      if (rand.bias) this.adopt('bias', rand.bias);
    }
  }

  get weight(): Tensor {
    return this.getParam('weight');
  }

  get bias(): Tensor | null {
    return this.hasBias ? this.getParam('bias') : null;
  }

  /** Add a bias parameter (used when BatchNorm is folded into this conv). */
  addBias(b: Tensor): void {
    if (this.hasBias) this.setTensor('bias', b);
    else {
      this.hasBias = true;
      this.adopt('bias', b);
    }
  }

  forward(v: Value, activation: 'none' | 'silu' = 'none'): Tensor {
    const x = one(v, 'Conv2d');
    // mixed precision: f32 master weights meet f16 activations through a cast (its backward widens the gradient)
    const w = this.weight.dtype === x.dtype ? this.weight : cast(this.weight, x.dtype);
    const b = this.bias && this.bias.dtype !== x.dtype ? cast(this.bias, x.dtype) : this.bias;
    const y = conv2d(x, w, b, {
      stride: this.stride,
      padding: this.padding,
      dilation: this.dilation,
      groups: this.groups,
      activation,
    });
    // the casts can go now: the graph keeps what backward() needs
    if (w !== this.weight) w.dispose();
    if (b && b !== this.bias) b.dispose();
    return y;
  }
}

export class BatchNorm2d extends Module {
  eps = 1e-3;
  momentum = 0.03;
  numBatchesTracked = 0;

  constructor(device: Device, readonly channels: number) {
    super(device);
    this.param('weight', [channels], () => 1);
    this.param('bias', [channels], () => 0);
    this.buffer('running_mean', [channels], 0);
    this.buffer('running_var', [channels], 1);
  }

  /** BN(x), then `residual` added and `activation` applied (fused into the BatchNorm kernel where it can be). */
  forward(x: Tensor, activation: 'none' | 'silu' = 'none', residual?: Tensor): Tensor {
    if (this.training) this.numBatchesTracked++;
    return batchNorm2d(x, this.getParam('weight'), this.getParam('bias'), this.getBuffer('running_mean'), this.getBuffer('running_var'), {
      training: this.training,
      momentum: this.momentum,
      eps: this.eps,
      activation,
      ...(residual ? { residual } : {}),
    });
  }
}

export type Activation = 'silu' | 'relu' | 'none';

/** Apply an activation; 'none' returns a new view so callers may dispose input and output alike. */
export const activate = (a: Activation, x: Tensor): Tensor => (a === 'silu' ? silu(x) : a === 'relu' ? relu(x) : contiguous(x));

/** Conv = conv2d (no bias) → BatchNorm2d → activation. After fuse(): one conv with bias and a fused SiLU. */
export class Conv extends Block {
  readonly conv: Conv2d;
  bn: BatchNorm2d | null;

  constructor(device: Device, spec: Omit<Conv2dSpec, 'bias'>, rand: () => number, readonly activation: Activation = 'silu') {
    super(device);
    this.conv = this.child('conv', new Conv2d(device, { ...spec, bias: false }, rand));
    this.bn = this.child('bn', new BatchNorm2d(device, spec.c2));
  }

  /** After folding BN into `conv` (see models/fuse.ts). */
  removeBatchNorm(): void {
    this.dropChild('bn');
    this.bn = null;
  }

  /**
   * act(BN(conv(x)) + residual): RepConvN's two branches summed and activated inside the second one's BatchNorm
   * kernel (training); after BN folding, a conv, an add and the activation.
   */
  forwardSum(x: Tensor, residual: Tensor, act: Activation): Tensor {
    const c = this.conv.forward(x);
    if (this.bn && act !== 'relu') {
      const y = this.bn.forward(c, act, residual);
      c.dispose();
      return y;
    }
    const z = this.bn ? this.bn.forward(c) : c;
    if (z !== c) c.dispose();
    const s = add(z, residual);
    z.dispose();
    const y = activate(act, s);
    s.dispose();
    return y;
  }

  forward(v: Value): Tensor {
    const x = one(v, 'Conv');
    if (!this.bn) {
      // fused: the epilogue applies SiLU inside the conv kernel (inference only)
      if (this.activation === 'silu' && !this.training) return this.conv.forward(x, 'silu');
      return activate(this.activation, this.conv.forward(x));
    }
    const c = this.conv.forward(x);
    // BN and SiLU run as one kernel (and one backward pair)
    const fused = this.activation === 'silu';
    const b = this.bn.forward(c, fused ? 'silu' : 'none');
    c.dispose();
    if (this.activation === 'none' || fused) return b;
    const y = activate(this.activation, b);
    b.dispose();
    return y;
  }
}
