// Finite-difference gradient checks of every differentiable op. For seeded inputs x and a fixed random weighting
// r of the output, the loss is L = Σ op(x)·r. The analytic gradient comes from the engine's backward on the GPU
// (y.backward(r), or L.backward() for several outputs); the numerical one from central differences of the
// float64 CPU reference loss (test/reference/ops.ts), (L(x + h·e_j) − L(x − h·e_j)) / 2h with h = 1e-6, whose
// own error (~h²·L''' + 1e-16·|L|/h ≈ 1e-10) is negligible next to float32. Inputs stay >= 0.05 away from kinks
// and ties (relu/abs at 0, clamp bounds, maximum/minimum, max and max-pool), far more than h.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { type Tensor, tidy } from '../../engine/tensor';
import * as ops from '../../engine/ops';
import { BINARY, type BinaryOp, type UnaryOp } from '../../engine/ops/elementwise';
import { testDevice } from '../helpers';
import * as ref from '../reference/ops';
import type { NdArray } from '../reference/ops';
import { type Rand, awayFrom, distinct, normal, toGpu, uniform } from '../reference/data';
import { type GradCase, gradCases } from './checks';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

const worst = new Map<string, number>();
const cases = (title: string, build: (r: Rand) => GradCase[]): void => gradCases(() => dev, worst, title, build);

/** a and b (broadcast together) at least `gap` apart everywhere: no ties for maximum/minimum. */
function apart(r: Rand, sa: number[], sb: number[], gap = 0.05): [NdArray, NdArray] {
  for (let tries = 0; tries < 1000; tries++) {
    const a = normal(r, sa);
    const b = normal(r, sb);
    if (ref.mapN([a, b], (u, v) => Math.abs(u - v)).data.every((d) => d >= gap)) return [a, b];
  }
  throw new Error('apart: could not separate');
}

// ---- elementwise ----------------------------------------------------------------------------------------------

const UNARY_GPU: Record<UnaryOp, (x: Tensor, s0: number, s1: number) => Tensor> = {
  neg: ops.neg,
  exp: ops.exp,
  log: ops.log,
  sqrt: ops.sqrt,
  abs: ops.abs,
  sigmoid: ops.sigmoid,
  silu: ops.silu,
  relu: ops.relu,
  tanh: ops.tanh,
  atan: ops.atan,
  clamp: ops.clamp,
  powScalar: ops.powScalar,
  scale: ops.scale,
  identity: (x) => ops.unary('identity', x),
};

type DiffBinary = { [K in BinaryOp]: (typeof BINARY)[K]['grads'] extends null ? never : K }[BinaryOp];
const BINARY_GPU: Record<DiffBinary, (a: Tensor, b: Tensor) => Tensor> = {
  add: ops.add,
  sub: ops.sub,
  mul: ops.mul,
  div: ops.div,
  pow: ops.pow,
  maximum: ops.maximum,
  minimum: ops.minimum,
  bceLogits: ops.bceWithLogits,
};

cases('unary', (r) => {
  const shape = [2, 3, 5];
  const input: Record<UnaryOp, (s: number[]) => NdArray> = {
    neg: (s) => normal(r, s),
    exp: (s) => normal(r, s),
    log: (s) => uniform(r, s, 0.2, 3),
    sqrt: (s) => uniform(r, s, 0.2, 3),
    abs: (s) => awayFrom(r, s, [0]),
    sigmoid: (s) => ref.scale(normal(r, s), 2),
    silu: (s) => ref.scale(normal(r, s), 2),
    relu: (s) => awayFrom(r, s, [0]),
    tanh: (s) => ref.scale(normal(r, s), 1.5),
    atan: (s) => ref.scale(normal(r, s), 2),
    clamp: (s) => awayFrom(r, s, [-0.5, 0.75]),
    powScalar: (s) => awayFrom(r, s, [0], 0.3),
    scale: (s) => normal(r, s),
    identity: (s) => normal(r, s),
  };
  const consts: Partial<Record<UnaryOp, [number, number][]>> = {
    clamp: [[-0.5, 0.75]],
    powScalar: [[2, 0], [3, 0], [-1, 0]],
    scale: [[1.5, -0.25], [-3, 0]],
  };
  const out: GradCase[] = [];
  for (const op of Object.keys(UNARY_GPU) as UnaryOp[]) {
    for (const [s0, s1] of consts[op] ?? [[0, 0]]) {
      out.push({ op, inputs: [input[op](shape)], gpu: ([x]) => UNARY_GPU[op](x, s0, s1), cpu: ([x]) => ref.unary(op, x, s0, s1) });
    }
  }
  // fractional and negative exponents of positive bases
  for (const e of [0.5, -1.5, 2.5]) {
    out.push({ op: 'powScalar', inputs: [uniform(r, shape, 0.3, 2.5)], gpu: ([x]) => ops.powScalar(x, e), cpu: ([x]) => ref.powScalar(x, e) });
  }
  // a strided (permuted) and an offset (sliced) view as the input
  out.push({ op: 'silu', inputs: [normal(r, [3, 4, 5])], gpu: ([x]) => ops.silu(ops.permute(x, [2, 0, 1])), cpu: ([x]) => ref.unary('silu', ref.permute(x, [2, 0, 1])) });
  out.push({ op: 'exp', inputs: [normal(r, [3, 4, 5])], gpu: ([x]) => ops.exp(ops.slice(x, 1, 1, 3)), cpu: ([x]) => ref.unary('exp', ref.slice(x, 1, 1, 3)) });
  return out;
});

cases('binary (with broadcasting)', (r) => {
  const out: GradCase[] = [];
  const shapes: [number[], number[]][] = [
    [[3, 4], [3, 4]],
    [[2, 1, 4], [3, 1]], // both inputs broadcast: both gradients are summed back
    [[4], [2, 3, 4]],
  ];
  for (const op of Object.keys(BINARY_GPU) as DiffBinary[]) {
    for (const [sa, sb] of shapes) {
      let a: NdArray, b: NdArray;
      if (op === 'maximum' || op === 'minimum') [a, b] = apart(r, sa, sb);
      else if (op === 'pow') [a, b] = [uniform(r, sa, 0.3, 2.5), normal(r, sb)];
      else if (op === 'div') [a, b] = [normal(r, sa), ref.mapN([uniform(r, sb, 0.5, 2)], (v) => (r() < 0.5 ? -v : v))]; // |b| >= 0.5
      else [a, b] = [normal(r, sa), normal(r, sb)];
      out.push({ op, inputs: [a, b], gpu: ([x, y]) => BINARY_GPU[op](x, y), cpu: ([x, y]) => ref.binary(op, x, y) });
    }
  }
  // one operand an expanded (stride-0) view, the other transposed
  out.push({
    op: 'mul',
    inputs: [normal(r, [1, 4]), normal(r, [4, 3])],
    gpu: ([a, b]) => ops.mul(ops.expand(a, [3, 4]), ops.transpose(b, 0, 1)),
    cpu: ([a, b]) => ref.binary('mul', ref.expand(a, [3, 4]), ref.transpose(b, 0, 1)),
  });
  // the same tensor on both sides: gradients accumulate
  out.push({ op: 'mul', inputs: [normal(r, [3, 5])], gpu: ([a]) => ops.mul(a, a), cpu: ([a]) => ref.binary('mul', a, a) });
  return out;
});

cases('where', (r) => [
  {
    op: 'where',
    inputs: [ref.nd([3, 1], [1, 0, 1]), normal(r, [2, 3, 4]), normal(r, [4])],
    diff: [1, 2],
    gpu: ([c, a, b]) => ops.where(c, a, b),
    cpu: ([c, a, b]) => ref.where(c, a, b),
  },
]);

// ---- reductions ----------------------------------------------------------------------------------------------

cases('reductions', (r) => {
  const x = (): NdArray => normal(r, [3, 4, 5]);
  const out: GradCase[] = [];
  for (const [axes, keepdim] of [[undefined, false], [1, false], [[0, 2], false], [-1, true], [[1, 2], true]] as const) {
    const ax = axes as number | number[] | undefined;
    out.push({ op: 'sum', inputs: [x()], gpu: ([t]) => ops.sum(t, ax, keepdim), cpu: ([t]) => ref.sum(t, ax, keepdim) });
  }
  for (const [axes, keepdim] of [[undefined, false], [[0, 2], false], [1, true]] as const) {
    const ax = axes as number | number[] | undefined;
    out.push({ op: 'mean', inputs: [x()], gpu: ([t]) => ops.mean(t, ax, keepdim), cpu: ([t]) => ref.mean(t, ax, keepdim) });
  }
  for (const [axis, keepdim] of [[0, false], [1, true], [-1, false]] as const) {
    out.push({ op: 'max', inputs: [distinct(r, [3, 4, 5])], gpu: ([t]) => ops.max(t, axis, keepdim), cpu: ([t]) => ref.max(t, axis, keepdim) });
  }
  for (const axis of [0, 1, -1]) {
    const big = (): NdArray => ref.scale(normal(r, [3, 4, 5]), 2);
    out.push({ op: 'softmax', inputs: [big()], gpu: ([t]) => ops.softmax(t, axis), cpu: ([t]) => ref.softmax(t, axis) });
    out.push({ op: 'logSoftmax', inputs: [big()], gpu: ([t]) => ops.logSoftmax(t, axis), cpu: ([t]) => ref.logSoftmax(t, axis) });
  }
  for (const [axes, keepdim] of [[[0, 2], false], [1, true], [[0, 1, 2], false]] as const) {
    const ax = axes as number | number[];
    out.push({ op: 'logsumexp', inputs: [ref.scale(x(), 2)], gpu: ([t]) => ops.logsumexp(t, ax, keepdim), cpu: ([t]) => ref.logsumexp(t, ax, keepdim) });
  }
  // non-contiguous inputs
  out.push({ op: 'softmax', inputs: [x()], gpu: ([t]) => ops.softmax(ops.permute(t, [2, 0, 1]), 1), cpu: ([t]) => ref.softmax(ref.permute(t, [2, 0, 1]), 1) });
  out.push({ op: 'sum', inputs: [x()], gpu: ([t]) => ops.sum(ops.slice(t, 2, 1, 4), [0, 2]), cpu: ([t]) => ref.sum(ref.slice(t, 2, 1, 4), [0, 2]) });
  out.push({ op: 'max', inputs: [distinct(r, [3, 4, 5])], gpu: ([t]) => ops.max(ops.transpose(t, 0, 2), 1), cpu: ([t]) => ref.max(ref.transpose(t, 0, 2), 1) });
  return out;
});

// ---- matmul --------------------------------------------------------------------------------------------------

cases('matmul', (r) => [
  ...([
    [[5, 3], [3, 2]],
    [[2, 1, 3, 4], [3, 4, 5]], // batched, both batch dims broadcast
    [[3, 4], [2, 4, 5]], // a broadcast over b's batch
  ] as [number[], number[]][]).map(([sa, sb]): GradCase => ({
    op: 'matmul',
    inputs: [normal(r, sa), normal(r, sb)],
    gpu: ([a, b]) => ops.matmul(a, b),
    cpu: ([a, b]) => ref.matmul(a, b),
  })),
  {
    op: 'matmul',
    inputs: [normal(r, [4, 3]), normal(r, [5, 4])],
    gpu: ([a, b]) => ops.matmul(ops.transpose(a, 0, 1), ops.transpose(b, 0, 1)),
    cpu: ([a, b]) => ref.matmul(ref.transpose(a, 0, 1), ref.transpose(b, 0, 1)),
  },
]);

// ---- conv2d: test/engine/conv2d.test.ts ----------------------------------------------------------------------

// ---- batch norm ----------------------------------------------------------------------------------------------

cases('batchNorm2d', (r) => [
  {
    op: 'batchNorm2d(train)',
    inputs: [ref.scale(normal(r, [3, 4, 3, 5]), 2), uniform(r, [4], 0.5, 1.5), normal(r, [4]), normal(r, [4]), uniform(r, [4], 0.5, 2)],
    diff: [0, 1, 2],
    gpu: ([x, w, b, rm, rv]) => ops.batchNorm2d(x, w, b, rm, rv, { training: true, momentum: 0.03, eps: 1e-3 }),
    cpu: ([x, w, b]) => ref.batchNorm2d(x, w, b, { training: true, eps: 1e-3 }),
  },
  {
    op: 'batchNorm2d(train)',
    inputs: [normal(r, [2, 3, 4, 4])],
    gpu: ([x]) => ops.batchNorm2d(x, null, null, null, null, { training: true }),
    cpu: ([x]) => ref.batchNorm2d(x, null, null, { training: true }),
  },
  // the output used twice: the backward kernels take the two gradient parts (a channel slice of a concat's
  // gradient, and a slice's zero-padded gradient or a product's) and sum them themselves
  {
    op: 'batchNorm2d(train, output used twice)',
    inputs: [ref.scale(normal(r, [3, 4, 3, 5]), 2), uniform(r, [4], 0.5, 1.5), normal(r, [4])],
    diff: [0, 1, 2],
    gpu: ([x, w, b]) => {
      const y = ops.batchNorm2d(x, w, b, null, null, { training: true, eps: 1e-3, activation: 'silu' });
      return ops.concat([y, ops.slice(y, 1, 1, 3)], 1);
    },
    cpu: ([x, w, b]) => {
      const y = ref.unary('silu', ref.batchNorm2d(x, w, b, { training: true, eps: 1e-3 }));
      return ref.concat([y, ref.slice(y, 1, 1, 3)], 1);
    },
  },
  {
    op: 'batchNorm2d(train, output used twice)',
    inputs: [normal(r, [2, 3, 4, 4])],
    gpu: ([x]) => {
      const y = ops.batchNorm2d(x, null, null, null, null, { training: true });
      return ops.mul(y, y);
    },
    cpu: ([x]) => {
      const y = ref.batchNorm2d(x, null, null, { training: true });
      return ref.binary('mul', y, y);
    },
  },
  // RepConvN: y = SiLU(BN(x) + residual) in one kernel each way, alone and with the output used twice (twelve
  // storage buffers, where the device has them); without SiLU it is BatchNorm, then an add
  {
    op: 'batchNorm2d(train, residual, SiLU)',
    inputs: [ref.scale(normal(r, [3, 4, 3, 5]), 2), uniform(r, [4], 0.5, 1.5), normal(r, [4]), normal(r, [3, 4, 3, 5])],
    diff: [0, 1, 2, 3],
    gpu: ([x, w, b, res]) => ops.batchNorm2d(x, w, b, null, null, { training: true, eps: 1e-3, activation: 'silu', residual: res }),
    cpu: ([x, w, b, res]) => ref.unary('silu', ref.binary('add', ref.batchNorm2d(x, w, b, { training: true, eps: 1e-3 }), res)),
  },
  {
    op: 'batchNorm2d(train, residual, SiLU, output used twice)',
    inputs: [ref.scale(normal(r, [2, 4, 3, 5]), 2), uniform(r, [4], 0.5, 1.5), normal(r, [4]), normal(r, [2, 4, 3, 5])],
    diff: [0, 1, 2, 3],
    gpu: ([x, w, b, res]) => {
      const y = ops.batchNorm2d(x, w, b, null, null, { training: true, eps: 1e-3, activation: 'silu', residual: res });
      return ops.concat([y, ops.slice(y, 1, 1, 3)], 1);
    },
    cpu: ([x, w, b, res]) => {
      const y = ref.unary('silu', ref.binary('add', ref.batchNorm2d(x, w, b, { training: true, eps: 1e-3 }), res));
      return ref.concat([y, ref.slice(y, 1, 1, 3)], 1);
    },
  },
  {
    op: 'batchNorm2d(train, residual, no activation)',
    inputs: [normal(r, [2, 3, 4, 4]), normal(r, [2, 3, 4, 4])],
    diff: [0, 1],
    gpu: ([x, res]) => ops.batchNorm2d(x, null, null, null, null, { training: true, residual: res }),
    cpu: ([x, res]) => ref.binary('add', ref.batchNorm2d(x, null, null, { training: true }), res),
  },
  {
    op: 'batchNorm2d(eval)',
    inputs: [normal(r, [2, 4, 3, 5]), uniform(r, [4], 0.5, 1.5), normal(r, [4]), normal(r, [4]), uniform(r, [4], 0.5, 2)],
    diff: [0, 1, 2],
    gpu: ([x, w, b, rm, rv]) => ops.batchNorm2d(x, w, b, rm, rv, { training: false, eps: 1e-3 }),
    cpu: ([x, w, b, rm, rv]) => ref.batchNorm2d(x, w, b, { training: false, runningMean: rm, runningVar: rv, eps: 1e-3 }),
  },
]);

// ---- pooling and upsampling ----------------------------------------------------------------------------------

cases('pooling', (r) => {
  const pools: [number[], ref.PoolOptions][] = [
    [[2, 3, 7, 6], { kernel: [3, 3], stride: [2, 2], padding: [1, 1] }],
    [[1, 2, 6, 8], { kernel: [2, 2] }],
    [[1, 2, 5, 6], { kernel: [3, 2], stride: [1, 2], padding: [1, 0] }], // overlapping windows
    [[1, 2, 11, 10], { kernel: [4, 4], stride: [3, 3], padding: [2, 2] }], // windows past the padding
  ];
  return pools.flatMap(([shape, o]): GradCase[] => [
    { op: 'maxPool2d', inputs: [distinct(r, shape)], gpu: ([x]) => ops.maxPool2d(x, o), cpu: ([x]) => ref.maxPool2d(x, o) },
    ...[true, false].map((countIncludePad): GradCase => ({
      op: `avgPool2d(countIncludePad=${countIncludePad})`,
      inputs: [normal(r, shape)],
      gpu: ([x]) => ops.avgPool2d(x, { ...o, countIncludePad }),
      cpu: ([x]) => ref.avgPool2d(x, { ...o, countIncludePad }),
    })),
  ]);
});

cases('upsampleNearest', (r) => {
  const configs: [number[], { scale: number | [number, number] } | { size: [number, number] }][] = [
    [[1, 2, 3, 4], { scale: 2 }],
    [[1, 2, 3, 4], { scale: [2, 3] }],
    [[1, 1, 5, 4], { scale: 1.5 }],
    [[2, 2, 3, 4], { size: [7, 5] }],
    [[1, 2, 5, 7], { size: [2, 3] }],
  ];
  return configs.map(([shape, o]): GradCase => ({
    op: 'upsampleNearest',
    inputs: [normal(r, shape)],
    gpu: ([x]) => ops.upsampleNearest(x, o),
    cpu: ([x]) => ref.upsampleNearest(x, o),
  }));
});

// ---- layout --------------------------------------------------------------------------------------------------

cases('layout', (r) => [
  {
    op: 'concat',
    inputs: [normal(r, [2, 1, 3]), normal(r, [2, 4, 3]), normal(r, [2, 2, 3])],
    gpu: (xs) => ops.concat(xs, 1),
    cpu: (xs) => ref.concat(xs, 1),
  },
  {
    op: 'concat',
    inputs: [normal(r, [2, 3]), normal(r, [4, 2])],
    gpu: ([a, b]) => ops.concat([a, ops.transpose(b, 0, 1), a], -1), // a used twice, b as a view
    cpu: ([a, b]) => ref.concat([a, ref.transpose(b, 0, 1), a], -1),
  },
  {
    op: 'split',
    inputs: [normal(r, [4, 7])],
    gpu: ([x]) => ops.split(x, [2, 4, 1], 1),
    cpu: ([x]) => [ref.slice(x, 1, 0, 2), ref.slice(x, 1, 2, 6), ref.slice(x, 1, 6, 7)],
  },
  {
    op: 'chunk',
    inputs: [normal(r, [5, 3])],
    gpu: ([x]) => ops.chunk(x, 3, 0), // sizes 2, 2, 1
    cpu: ([x]) => [ref.slice(x, 0, 0, 2), ref.slice(x, 0, 2, 4), ref.slice(x, 0, 4, 5)],
  },
  { op: 'slice', inputs: [normal(r, [3, 6, 4])], gpu: ([x]) => ops.slice(x, 1, 1, 5), cpu: ([x]) => ref.slice(x, 1, 1, 5) },
  { op: 'slice', inputs: [normal(r, [3, 6, 4])], gpu: ([x]) => ops.slice(ops.slice(x, -1, 0, 3), 0, 2, 3), cpu: ([x]) => ref.slice(ref.slice(x, -1, 0, 3), 0, 2, 3) },
  { op: 'permute', inputs: [normal(r, [2, 3, 4])], gpu: ([x]) => ops.permute(x, [2, 0, 1]), cpu: ([x]) => ref.permute(x, [2, 0, 1]) },
  { op: 'transpose', inputs: [normal(r, [2, 3, 4])], gpu: ([x]) => ops.transpose(x, 0, -1), cpu: ([x]) => ref.transpose(x, 0, -1) },
  { op: 'reshape', inputs: [normal(r, [2, 3, 4])], gpu: ([x]) => ops.reshape(x, [4, -1]), cpu: ([x]) => ref.reshape(x, [4, -1]) },
  {
    op: 'reshape',
    inputs: [normal(r, [2, 3, 4])],
    gpu: ([x]) => ops.reshape(ops.permute(x, [1, 2, 0]), [12, 2]), // copy path
    cpu: ([x]) => ref.reshape(ref.permute(x, [1, 2, 0]), [12, 2]),
  },
  { op: 'expand', inputs: [normal(r, [3, 1])], gpu: ([x]) => ops.expand(x, [2, 3, 4]), cpu: ([x]) => ref.expand(x, [2, 3, 4]) },
  { op: 'expand', inputs: [normal(r, [4])], gpu: ([x]) => ops.expand(x, [3, 4]), cpu: ([x]) => ref.expand(x, [3, 4]) },
  { op: 'contiguous', inputs: [normal(r, [3, 4])], gpu: ([x]) => ops.contiguous(ops.transpose(x, 0, 1)), cpu: ([x]) => ref.transpose(x, 0, 1) },
]);

// ---- larger shapes: the other kernel schedules, checked at sampled coordinates ----------------------------------

cases('larger shapes (sampled coordinates)', (r) => [
  { op: 'matmul', inputs: [normal(r, [37, 129]), normal(r, [129, 41])], sample: 24, gpu: ([a, b]) => ops.matmul(a, b), cpu: ([a, b]) => ref.matmul(a, b) },
  { op: 'softmax', inputs: [ref.scale(normal(r, [4, 300]), 3)], sample: 24, gpu: ([x]) => ops.softmax(x, 1), cpu: ([x]) => ref.softmax(x, 1) },
  { op: 'logSoftmax', inputs: [ref.scale(normal(r, [2, 300, 3]), 3)], sample: 24, gpu: ([x]) => ops.logSoftmax(x, 1), cpu: ([x]) => ref.logSoftmax(x, 1) },
  { op: 'logsumexp', inputs: [ref.scale(normal(r, [3, 300]), 3)], sample: 24, gpu: ([x]) => ops.logsumexp(x, 1), cpu: ([x]) => ref.logsumexp(x, 1) },
  { op: 'max', inputs: [distinct(r, [3, 300], 0.01)], sample: 24, gpu: ([x]) => ops.max(x, 1), cpu: ([x]) => ref.max(x, 1) },
  { op: 'sum', inputs: [normal(r, [25000])], sample: 12, gpu: ([x]) => ops.sum(x), cpu: ([x]) => ref.sum(x) },
  {
    op: 'batchNorm2d(train)',
    inputs: [normal(r, [4, 16, 10, 10]), uniform(r, [16], 0.5, 1.5), normal(r, [16])],
    sample: 8,
    gpu: ([x, w, b]) => ops.batchNorm2d(x, w, b, null, null, { training: true, eps: 1e-3 }),
    cpu: ([x, w, b]) => ref.batchNorm2d(x, w, b, { training: true, eps: 1e-3 }),
  },
]);

// ---- composite ----------------------------------------------------------------------------------------------

cases('composite: conv -> BN(train) -> SiLU -> maxpool -> upsample -> concat -> sum', (r) => [
  {
    op: 'composite',
    inputs: [normal(r, [2, 3, 6, 6]), ref.scale(normal(r, [4, 3, 3, 3]), 0.3), uniform(r, [4], 0.5, 1.5), normal(r, [4])],
    diff: [0, 1],
    gpu: ([x, w, g, b]) => {
      const y = ops.silu(ops.batchNorm2d(ops.conv2d(x, w, null, { padding: [1, 1] }), g, b, null, null, { training: true, eps: 1e-3 }));
      const u = ops.upsampleNearest(ops.maxPool2d(y, { kernel: [2, 2] }), { scale: 2 });
      return ops.concat([u, y], 1);
    },
    cpu: ([x, w, g, b]) => {
      const y = ref.unary('silu', ref.batchNorm2d(ref.conv2d(x, w, null, { padding: [1, 1] }), g, b, { training: true, eps: 1e-3 }));
      const u = ref.upsampleNearest(ref.maxPool2d(y, { kernel: [2, 2] }), { scale: 2 });
      return ref.concat([u, y], 1);
    },
  },
]);

test('comparison ops record no gradient', () => {
  const before = dev.memory().liveTensors;
  tidy(dev, () => {
    const a = toGpu(dev, ref.nd([3], [1, 2, 3]), true);
    const b = toGpu(dev, ref.nd([3], [3, 2, 1]), true);
    for (const op of Object.keys(BINARY) as BinaryOp[]) {
      if (BINARY[op].grads === null) expect(ops.binary(op, a, b).requiresGrad, op).toBe(false);
    }
  });
  expect(dev.memory().liveTensors).toBe(before);
});

afterAll(() => {
  const rows = [...worst.entries()].map(([op, e]) => `${op}: ${e.toExponential(2)}`);
  console.log(`max abs gradient error vs finite differences per op: ${rows.join(', ')}`);
});
