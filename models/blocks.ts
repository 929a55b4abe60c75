// The GELAN / YOLOv9 blocks (official models/common.py semantics; see shared reference §2), on our engine.
// Intermediates are disposed as soon as they are consumed: the autograd graph keeps what backward needs.
import type { Device } from '../engine/device';
import type { Tensor } from '../engine/tensor';
import { add, avgPool2d, chunk, concat, contiguous, maxPool2d, split, upsampleNearest } from '../engine/ops';
import { type Value, Block, one } from './module';
import { type Activation, Conv, Conv2d, activate, autopad } from './layers';

export type Rand = () => number;
/** What every block constructor needs besides its widths: the weight initialiser's RNG and the default
 * activation (SiLU unless the YAML's `activation` replaces it, as it does for Conv.default_act). */
export interface Ctx {
  readonly rand: Rand;
  readonly act: Activation;
}

const free = (...ts: Tensor[]): void => ts.forEach((t) => t.dispose());

/** Run `f` then dispose its input (for chains of intermediates). */
const then = (x: Tensor, f: (t: Tensor) => Tensor): Tensor => {
  const y = f(x);
  x.dispose();
  return y;
};

/** Conv(c1, c2, k, s, p, g, act) with the official argument order. */
export const conv = (device: Device, ctx: Ctx, c1: number, c2: number, k = 1, s = 1, p?: number, g = 1, act?: Activation): Conv =>
  new Conv(device, { c1, c2, k, s, p, g }, ctx.rand, act ?? ctx.act);

export class Sequential extends Block {
  readonly items: Block[];
  constructor(device: Device, items: Block[]) {
    super(device);
    this.items = items;
    items.forEach((m, i) => this.child(String(i), m));
  }
  forward(x: Value): Value {
    let y = x;
    this.items.forEach((m, i) => {
      const next = m.forward(y);
      if (i > 0) (Array.isArray(y) ? y : [y]).forEach((t) => t.dispose());
      y = next;
    });
    return y;
  }
}

/** RepConvN: SiLU(BN(conv3x3 x) + BN(conv1x1 x)), no identity branch; after reparameterisation one 3×3 conv. */
export class RepConvN extends Block {
  conv1: Conv | null;
  conv2: Conv | null;
  fused: Conv2d | null = null;
  readonly act: Activation;
  constructor(device: Device, c1: number, c2: number, ctx: Ctx, k = 3, s = 1, p = 1, g = 1) {
    super(device);
    this.act = ctx.act;
    this.conv1 = this.child('conv1', conv(device, ctx, c1, c2, k, s, p, g, 'none'));
    this.conv2 = this.child('conv2', conv(device, ctx, c1, c2, 1, s, p - Math.floor(k / 2), g, 'none'));
  }
  /** Replace both branches by one conv (`conv.weight`, `conv.bias` as the official deploy form) after folding. */
  mergeBranches(kernel: Tensor): void {
    const c1 = this.conv1!.conv;
    const c2 = this.conv2!.conv;
    const bias = add(c1.bias!, c2.bias!);
    this.fused = this.child('conv', new Conv2d(this.device, { ...c1.spec, bias: true }, { weight: kernel, bias }));
    this.dropChild('conv1');
    this.dropChild('conv2');
    this.conv1 = null;
    this.conv2 = null;
  }

  forward(x: Value): Tensor {
    const xi = one(x, 'RepConvN');
    if (this.fused) return this.act === 'silu' && !this.training ? this.fused.forward(xi, 'silu') : then(this.fused.forward(xi), (t) => activate(this.act, t));
    // the 1×1 branch's BatchNorm adds the 3×3 branch and applies the activation (one kernel each way in training)
    const a = this.conv1!.forward(xi);
    const y = this.conv2!.forwardSum(xi, a, this.act);
    a.dispose();
    return y;
  }
}

export class RepNBottleneck extends Block {
  readonly cv1: RepConvN;
  readonly cv2: Conv;
  readonly add: boolean;
  constructor(device: Device, c1: number, c2: number, ctx: Ctx, shortcut = true, g = 1, e = 0.5) {
    super(device);
    const h = Math.trunc(c2 * e);
    this.cv1 = this.child('cv1', new RepConvN(device, c1, h, ctx));
    this.cv2 = this.child('cv2', conv(device, ctx, h, c2, 3, 1, undefined, g));
    this.add = shortcut && c1 === c2;
  }
  forward(x: Value): Tensor {
    const xi = one(x, 'RepNBottleneck');
    const y = then(this.cv1.forward(xi), (t) => this.cv2.forward(t));
    return this.add ? then(y, (t) => add(xi, t)) : y;
  }
}

export class RepNCSP extends Block {
  readonly cv1: Conv;
  readonly cv2: Conv;
  readonly cv3: Conv;
  readonly m: Sequential;
  constructor(device: Device, c1: number, c2: number, ctx: Ctx, n = 1, shortcut = true, g = 1, e = 0.5) {
    super(device);
    const h = Math.trunc(c2 * e);
    this.cv1 = this.child('cv1', conv(device, ctx, c1, h));
    this.cv2 = this.child('cv2', conv(device, ctx, c1, h));
    this.cv3 = this.child('cv3', conv(device, ctx, 2 * h, c2));
    this.m = this.child('m', new Sequential(device, Array.from({ length: n }, () => new RepNBottleneck(device, h, h, ctx, shortcut, g, 1.0))));
  }
  forward(x: Value): Tensor {
    const xi = one(x, 'RepNCSP');
    const a = then(this.cv1.forward(xi), (t) => one(this.m.forward(t), 'RepNCSP.m'));
    const b = this.cv2.forward(xi);
    return then(concat([a, b], 1), (t) => (free(a, b), this.cv3.forward(t)));
  }
}

/** ELAN split: cv1 → halves y0, y1; y2 = cv2(y1); y3 = cv3(y2); cv4(cat[y0, y1, y2, y3]). */
abstract class ElanBase extends Block {
  abstract readonly cv1: Conv;
  abstract readonly cv2: Block;
  abstract readonly cv3: Block;
  abstract readonly cv4: Conv;
  forward(x: Value): Tensor {
    const t = this.cv1.forward(one(x, 'ELAN'));
    const [y0, y1] = chunk(t, 2, 1);
    t.dispose();
    const y2 = one(this.cv2.forward(y1), 'ELAN.cv2');
    const y3 = one(this.cv3.forward(y2), 'ELAN.cv3');
    const cat = concat([y0, y1, y2, y3], 1);
    free(y0, y1, y2, y3);
    return then(cat, (c) => this.cv4.forward(c));
  }
}

export class RepNCSPELAN4 extends ElanBase {
  readonly cv1: Conv;
  readonly cv2: Sequential;
  readonly cv3: Sequential;
  readonly cv4: Conv;
  constructor(device: Device, c1: number, c2: number, c3: number, c4: number, ctx: Ctx, c5 = 1) {
    super(device);
    this.cv1 = this.child('cv1', conv(device, ctx, c1, c3));
    this.cv2 = this.child('cv2', new Sequential(device, [new RepNCSP(device, Math.floor(c3 / 2), c4, ctx, c5), conv(device, ctx, c4, c4, 3)]));
    this.cv3 = this.child('cv3', new Sequential(device, [new RepNCSP(device, c4, c4, ctx, c5), conv(device, ctx, c4, c4, 3)]));
    this.cv4 = this.child('cv4', conv(device, ctx, c3 + 2 * c4, c2));
  }
}

export class ELAN1 extends ElanBase {
  readonly cv1: Conv;
  readonly cv2: Conv;
  readonly cv3: Conv;
  readonly cv4: Conv;
  constructor(device: Device, c1: number, c2: number, c3: number, c4: number, ctx: Ctx) {
    super(device);
    this.cv1 = this.child('cv1', conv(device, ctx, c1, c3));
    this.cv2 = this.child('cv2', conv(device, ctx, Math.floor(c3 / 2), c4, 3));
    this.cv3 = this.child('cv3', conv(device, ctx, c4, c4, 3));
    this.cv4 = this.child('cv4', conv(device, ctx, c3 + 2 * c4, c2));
  }
}

/** The stride-1 2×2 average pool both downsamplers start with (count_include_pad, no ceil). */
const pool2s1 = (x: Tensor): Tensor => avgPool2d(x, { kernel: 2, stride: 1, padding: 0, countIncludePad: true });

export class AConv extends Block {
  readonly cv1: Conv;
  constructor(device: Device, c1: number, c2: number, ctx: Ctx) {
    super(device);
    this.cv1 = this.child('cv1', conv(device, ctx, c1, c2, 3, 2, 1));
  }
  forward(x: Value): Tensor {
    return then(pool2s1(one(x, 'AConv')), (t) => this.cv1.forward(t));
  }
}

export class ADown extends Block {
  readonly cv1: Conv;
  readonly cv2: Conv;
  constructor(device: Device, c1: number, c2: number, ctx: Ctx) {
    super(device);
    const c = Math.floor(c2 / 2);
    this.cv1 = this.child('cv1', conv(device, ctx, Math.floor(c1 / 2), c, 3, 2, 1));
    this.cv2 = this.child('cv2', conv(device, ctx, Math.floor(c1 / 2), c, 1, 1, 0));
  }
  forward(x: Value): Tensor {
    const p = pool2s1(one(x, 'ADown'));
    const [x1, x2] = chunk(p, 2, 1);
    p.dispose();
    const a = then(x1, (t) => this.cv1.forward(t));
    const b = then(then(x2, (t) => maxPool2d(t, { kernel: 3, stride: 2, padding: 1 })), (t) => this.cv2.forward(t));
    const out = concat([a, b], 1);
    free(a, b);
    return out;
  }
}

export class SPPELAN extends Block {
  readonly cv1: Conv;
  readonly cv5: Conv;
  constructor(device: Device, c1: number, c2: number, c3: number, ctx: Ctx) {
    super(device);
    this.cv1 = this.child('cv1', conv(device, ctx, c1, c3));
    this.cv5 = this.child('cv5', conv(device, ctx, 4 * c3, c2));
  }
  forward(x: Value): Tensor {
    const ys = [this.cv1.forward(one(x, 'SPPELAN'))];
    for (let i = 0; i < 3; i++) ys.push(maxPool2d(ys[i], { kernel: 5, stride: 1, padding: 2 }));
    const cat = concat(ys, 1);
    free(...ys);
    return then(cat, (t) => this.cv5.forward(t));
  }
}

export class Concat extends Block {
  constructor(device: Device, readonly dim = 1) {
    super(device);
  }
  forward(x: Value): Tensor {
    return concat(Array.isArray(x) ? x : [x], this.dim);
  }
}

export class Upsample extends Block {
  constructor(device: Device, readonly scale: number) {
    super(device);
  }
  forward(x: Value): Tensor {
    return upsampleNearest(one(x, 'Upsample'), { scale: this.scale });
  }
}

/** Identity (index 0 of the m/c/e configs: the raw image for the reversible branch). */
export class Silence extends Block {
  forward(x: Value): Tensor {
    return contiguous(one(x, 'Silence'));
  }
}

/** PGI routing: a plain 1×1 conv with bias (no BN, no activation), split into the listed widths. */
export class CBLinear extends Block {
  readonly conv: Conv2d;
  constructor(device: Device, c1: number, readonly c2s: readonly number[], ctx: Ctx, k = 1, s = 1, p?: number, g = 1) {
    super(device);
    this.conv = this.child('conv', new Conv2d(device, { c1, c2: c2s.reduce((a, b) => a + b, 0), k, s, p: p ?? autopad(k), g, bias: true }, ctx.rand));
  }
  forward(x: Value): Tensor[] {
    const y = this.conv.forward(one(x, 'CBLinear'));
    const parts = split(y, this.c2s, 1);
    y.dispose();
    return parts;
  }
}

/** x + Σ_j nearest_resize(T_j[idx[j]], size of x). Inputs: [T_0 parts…, …, x] flattened with their counts. */
export class CBFuse extends Block {
  constructor(device: Device, readonly idx: readonly number[]) {
    super(device);
  }
  /** `sources[j]` is the tuple of CBLinear outputs feeding entry j; `x` the tensor to fuse into. */
  fuse(sources: readonly (readonly Tensor[])[], x: Tensor): Tensor {
    const [H, W] = x.shape.slice(2) as [number, number];
    // Official order: Σ over stack(resized sources…, x), i.e. ((r0 + r1) + …) + x.
    let acc: Tensor | null = null;
    sources.forEach((parts, j) => {
      const src = parts[this.idx[j]];
      if (!src) throw new Error(`CBFuse: source ${j} has ${parts.length} parts, index ${this.idx[j]} is out of range`);
      const r = upsampleNearest(src, { size: [H, W] });
      if (acc) {
        const s = add(acc, r);
        free(acc, r);
        acc = s;
      } else acc = r;
    });
    if (!acc) return contiguous(x);
    const out = add(acc, x);
    (acc as Tensor).dispose();
    return out;
  }
  forward(): Tensor {
    throw new Error('CBFuse is called through fuse() by the graph (it needs the CBLinear tuples)');
  }
}
