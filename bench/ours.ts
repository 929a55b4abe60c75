// Our engine's implementation of every case, in the Prepared protocol of harness.ts.
import { type Device, type Tensor, add, conv2d, matmul, mean, noGrad, tensor, tidy } from '../engine';
import { createModel, seededRandom } from '../models';
import { RepNCSPELAN4 } from '../models/blocks';
import type { Module } from '../models/module';
import { type BlockCase, type Case, type ConvCase, type MatmulCase, type ModelCase, convOut, randomData } from './cases';
import type { Prepared } from './harness';

/** Host data of a conv case: x NCHW, w OIHW, dy NCHW (the output gradient). */
export interface ConvData {
  readonly x: Float32Array;
  readonly w: Float32Array;
  readonly dy: Float32Array;
}

export function convData(c: ConvCase): ConvData {
  const [oh, ow] = convOut(c);
  return {
    x: randomData(c.n * c.c * c.h * c.w, 1),
    w: randomData(c.o * (c.c / c.groups) * c.k * c.k, 2).map((v) => v / Math.sqrt((c.c / c.groups) * c.k * c.k)),
    dy: randomData(c.n * c.o * oh * ow, 3),
  };
}

export function matmulData(c: MatmulCase): { a: Float32Array; b: Float32Array } {
  return { a: randomData(c.m * c.k, 4), b: randomData(c.k * c.n, 5) };
}

const syncOf = (dev: Device) => (): Promise<void> => dev.sync();

function prepareConv(dev: Device, c: ConvCase, d: ConvData): Prepared {
  const [oh, ow] = convOut(c);
  const x = tensor(dev, d.x, [c.n, c.c, c.h, c.w]).keep();
  const w = tensor(dev, d.w, [c.o, c.c / c.groups, c.k, c.k]).keep();
  const dy = tensor(dev, d.dy, [c.n, c.o, oh, ow]).keep();
  const opts = { stride: c.stride, padding: c.pad, groups: c.groups };
  let y: Tensor | null = null;
  const leaf = c.pass === 'dgrad' ? x : w;
  return {
    setup() {
      if (c.pass === 'fwd') return;
      // the forward whose backward is measured: recorded and finished before the sample starts
      x.requiresGrad = c.pass === 'dgrad';
      w.requiresGrad = c.pass === 'wgrad';
      y = conv2d(x, w, null, opts).keep();
    },
    run() {
      if (c.pass === 'fwd') y = noGrad(dev, () => conv2d(x, w, null, opts)).keep();
      else y!.backward(dy);
    },
    sync: syncOf(dev),
    async results() {
      return [await (c.pass === 'fwd' ? y! : leaf.grad!).data()];
    },
    teardown() {
      y?.dispose();
      y = null;
      leaf.grad?.dispose();
      leaf.grad = null;
    },
    dispose() {
      for (const t of [x, w, dy]) t.dispose();
    },
  };
}

function prepareMatmul(dev: Device, c: MatmulCase): Prepared {
  const d = matmulData(c);
  const a = tensor(dev, d.a, [c.m, c.k]).keep();
  const b = tensor(dev, d.b, [c.k, c.n]).keep();
  let y: Tensor | null = null;
  return {
    run() {
      y = matmul(a, b).keep();
    },
    sync: syncOf(dev),
    async results() {
      return [await y!.data()];
    },
    teardown() {
      y?.dispose();
      y = null;
    },
    dispose() {
      a.dispose();
      b.dispose();
    },
  };
}

/** Parameters in module order (the order the peers receive them in). */
function params(m: Module): Tensor[] {
  return [...m.namedParameters()].map(([, t]) => t);
}

function zeroGrads(ps: readonly Tensor[]): void {
  for (const p of ps) {
    p.grad?.dispose();
    p.grad = null;
  }
}

/** Host data of a block case: the input, the output gradient (weights come from our block). */
export function blockData(c: BlockCase): { x: Float32Array; dy: Float32Array } {
  return { x: randomData(c.n * c.c1 * c.h * c.w, 6), dy: randomData(c.n * c.c2 * c.h * c.w, 7) };
}

export interface OurBlock extends Prepared {
  /** The parameters in the order Module.namedParameters() lists them, with their names (for the peers). */
  weights(): Promise<{ name: string; shape: readonly number[]; data: Float32Array }[]>;
}

/** The block in training mode (BatchNorm batch statistics); loss = sum(y · dy), gradients to every parameter. */
export function prepareBlock(dev: Device, c: BlockCase): OurBlock {
  const block = new RepNCSPELAN4(dev, c.c1, c.c2, c.c3, c.c4, { rand: seededRandom(11), act: 'silu' }, c.c5).train();
  const d = blockData(c);
  const x = tensor(dev, d.x, [c.n, c.c1, c.h, c.w]).keep();
  const dy = tensor(dev, d.dy, [c.n, c.c2, c.h, c.w]).keep();
  const ps = params(block);
  let y: Tensor | null = null;
  return {
    async weights() {
      const out = [];
      for (const [name, t] of block.namedParameters()) out.push({ name, shape: t.shape, data: await t.data() });
      return out;
    },
    run() {
      y = tidy(dev, () => {
        const out = block.forward(x) as Tensor;
        out.backward(dy);
        return out;
      }).keep();
    },
    sync: syncOf(dev),
    async results() {
      // the output and the gradients of the first and last conv weights (every other one lies between them)
      const first = block.cv1.conv.weight.grad!;
      const last = block.cv4.conv.weight.grad!;
      return [await y!.data(), await first.data(), await last.data()];
    },
    teardown() {
      y?.dispose();
      y = null;
      zeroGrads(ps);
    },
    dispose() {
      zeroGrads(ps);
      x.dispose();
      dy.dispose();
      block.dispose();
    },
  };
}

/** Surrogate loss of a training step (the detection loss is not in the engine yet): mean of every level map. */
function surrogateLoss(levels: readonly Tensor[]): Tensor {
  let loss = mean(levels[0]);
  for (const l of levels.slice(1)) {
    const m = mean(l);
    const s = add(loss, m);
    loss.dispose();
    m.dispose();
    loss = s;
  }
  return loss;
}

export interface OurModel extends Prepared {
  /** Forward GFLOPs of the model at the case's size (× batch). */
  readonly gflops: number;
  /** The first conv's forward GFLOPs (its input gradient is not computed in a training step). */
  readonly firstConvGflops: number;
}

export function prepareModel(dev: Device, c: ModelCase): OurModel {
  const model = createModel(dev, c.cfg, { seed: 0 });
  if (c.train) model.train();
  else model.eval();
  const x = tensor(dev, randomData(c.batch * 3 * c.size * c.size, 8).map((v) => (v + 1) / 2), [c.batch, 3, c.size, c.size]).keep();
  const ps = params(model);
  const first = ps[0].shape; // model.0.conv.weight: 3×3 stride 2 from the image
  const firstConvGflops = (2 * c.batch * first[0] * first[1] * first[2] * first[3] * (c.size / 2) ** 2) / 1e9;
  return {
    gflops: model.gflops(c.size) * c.batch,
    firstConvGflops,
    run() {
      if (c.train) {
        tidy(dev, () => {
          const out = model.forward(x);
          const loss = surrogateLoss([...out.main.levels, ...(out.aux?.levels ?? [])]);
          loss.backward();
        });
      } else {
        tidy(dev, () => noGrad(dev, () => model.forward(x).main.y));
      }
    },
    sync: syncOf(dev),
    teardown() {
      zeroGrads(ps);
    },
    dispose() {
      zeroGrads(ps);
      x.dispose();
      model.dispose();
    },
  };
}

export function prepareOurs(dev: Device, c: Case): Prepared {
  switch (c.kind) {
    case 'conv':
      return prepareConv(dev, c, convData(c));
    case 'matmul':
      return prepareMatmul(dev, c);
    case 'block':
      return prepareBlock(dev, c);
    case 'model':
      return prepareModel(dev, c);
  }
}

