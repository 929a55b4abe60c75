// Every op's forward and input gradients against PyTorch (float64 reference computed from float32 inputs;
// fixtures from test/fixtures/gen/ops.py). Tolerances: float32 kernels accumulate rounding ~1e-7 relative per
// term; the per-group atol/rtol below allow for reductions of up to a few hundred terms.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import type { Tensor } from '../../engine/tensor';
import { tidy } from '../../engine/tensor';
import * as ops from '../../engine/ops';
import { type FixtureCase, closeness, loadFixture, testDevice, up } from '../helpers';

/* eslint-disable @typescript-eslint/no-explicit-any -- fixture attributes are JSON */

type Run = (xs: Tensor[], attrs: Record<string, any>) => Tensor[];

const unaryOps: Record<string, (x: Tensor) => Tensor> = {
  neg: ops.neg, exp: ops.exp, log: ops.log, sqrt: ops.sqrt, abs: ops.abs, sigmoid: ops.sigmoid, silu: ops.silu, relu: ops.relu, tanh: ops.tanh,
};
const binaryOps: Record<string, (a: Tensor, b: Tensor) => Tensor> = {
  add: ops.add, sub: ops.sub, mul: ops.mul, div: ops.div, pow: ops.pow, maximum: ops.maximum, minimum: ops.minimum,
  gt: ops.gt, ge: ops.ge, lt: ops.lt, le: ops.le, eq: ops.eq, ne: ops.ne,
};
const pair = (p: number | number[]): [number, number] => (typeof p === 'number' ? [p, p] : [p[0], p[1]]);

const RUN: Record<string, Run> = {
  ...Object.fromEntries(Object.entries(unaryOps).map(([k, f]) => [k, (xs: Tensor[]) => [f(xs[0])]])),
  ...Object.fromEntries(Object.entries(binaryOps).map(([k, f]) => [k, (xs: Tensor[]) => [f(xs[0], xs[1])]])),
  clamp: (xs, a) => [ops.clamp(xs[0], a.min, a.max)],
  pow_scalar: (xs, a) => [ops.powScalar(xs[0], a.exponent)],
  where: (xs) => [ops.where(xs[0], xs[1], xs[2])],
  sum: (xs, a) => [ops.sum(xs[0], a.axes, a.keepdim)],
  mean: (xs, a) => [ops.mean(xs[0], a.axes, a.keepdim)],
  max: (xs, a) => {
    const r = ops.maxWithIndices(xs[0], a.axis, a.keepdim);
    return [r.values, r.indices];
  },
  argmax: (xs, a) => [ops.argmax(xs[0], a.axis, a.keepdim ?? false)],
  softmax: (xs, a) => [ops.softmax(xs[0], a.axis)],
  log_softmax: (xs, a) => [ops.logSoftmax(xs[0], a.axis)],
  logsumexp: (xs, a) => [ops.logsumexp(xs[0], a.axes, a.keepdim)],
  matmul: (xs) => [ops.matmul(xs[0], xs[1])],
  conv2d: (xs, a) => [ops.conv2d(xs[0], xs[1], xs[2] ?? null, { stride: pair(a.stride), padding: pair(a.padding), dilation: pair(a.dilation), groups: a.groups })],
  batch_norm: (xs, a) => {
    const [x, w, b, rm, rv] = xs;
    return [ops.batchNorm2d(x, w, b, rm, rv, { training: a.training, momentum: a.momentum, eps: a.eps }), rm, rv];
  },
  max_pool2d: (xs, a) => [ops.maxPool2d(xs[0], { kernel: pair(a.kernel), stride: pair(a.stride), padding: pair(a.padding) })],
  avg_pool2d: (xs, a) => [ops.avgPool2d(xs[0], { kernel: pair(a.kernel), stride: pair(a.stride), padding: pair(a.padding), countIncludePad: a.count_include_pad })],
  upsample_nearest: (xs, a) => [ops.upsampleNearest(xs[0], a.size ? { size: pair(a.size) } : { scale: a.scale })],
  concat: (xs, a) => [ops.concat(xs, a.axis)],
  split: (xs, a) => ops.split(xs[0], a.sizes, a.axis),
  chunk: (xs, a) => ops.chunk(xs[0], a.chunks, a.axis),
  slice: (xs, a) => [ops.slice(xs[0], a.axis, a.start, a.end)],
  permute: (xs, a) => [ops.permute(xs[0], a.dims)],
  reshape: (xs, a) => [ops.reshape(xs[0], a.shape)],
  transpose: (xs, a) => [ops.transpose(xs[0], a.dim0, a.dim1)],
};

/** Per-file tolerances (atol, rtol) with the reason. */
const TOL: Record<string, [number, number]> = {
  'elementwise.json': [1e-5, 1e-5], // one rounding of a transcendental: ~1e-7 relative, llvmpipe exp/log ~2 ulp
  'reduce.json': [2e-5, 2e-5], // sums of up to 120 terms in float32
  'matmul.json': [2e-5, 2e-5], // K <= 9 products
  'conv2d.json': [5e-5, 5e-5], // up to 5*5*8 = 200 products per output, 2*9*9 per weight grad
  'batchnorm.json': [1e-4, 1e-4], // variance and rsqrt in float32 over <= 54 values
  'pool.json': [1e-5, 1e-5],
  'upsample.json': [1e-5, 1e-5],
  'layout.json': [0, 0], // pure data movement: exact
};

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

/** Worst errors per op, printed for the closing report. */
const worst = new Map<string, number>();

async function runCase(c: FixtureCase, atol: number, rtol: number): Promise<void> {
  const run = RUN[c.op];
  expect(run, `no runner for fixture op ${c.op}`).toBeDefined();
  const before = dev.memory().liveTensors;
  const reads: { what: string; got: Promise<Float32Array>; want: number[] }[] = [];
  // Reads are recorded and submitted synchronously by data(), so disposing at the end of tidy() is safe.
  tidy(dev, () => {
    const xs = c.inputs.map((t) => up(dev, t, t.grad ?? false));
    const ys = run(xs, c.attrs);
    c.outputs.forEach((o, i) => {
      expect(ys[i].shape, `${c.name} output ${o.name} shape`).toEqual(o.shape);
      reads.push({ what: `output ${o.name}`, got: ys[i].data(), want: o.data });
    });
    const grads = c.grads ?? [];
    if (grads.length === 0) return;
    if (c.upstreams) {
      const gys = c.upstreams.map((u) => up(dev, u));
      const parts = ys.map((y, i) => ops.sum(ops.mul(y, gys[i])));
      parts.reduce((acc, p) => ops.add(acc, p)).backward();
    } else {
      ys[0].backward(up(dev, c.upstream!));
    }
    const withGrad = xs.filter((_, i) => c.inputs[i].grad);
    grads.forEach((g, i) => {
      const gt = withGrad[i].grad;
      expect(gt, `${c.name}: no gradient for ${g.name}`).not.toBeNull();
      expect(gt!.shape).toEqual(g.shape);
      reads.push({ what: `grad ${g.name}`, got: gt!.data(), want: g.data });
    });
  });
  for (const r of reads) {
    const cl = closeness(await r.got, r.want, atol, rtol);
    worst.set(c.op, Math.max(worst.get(c.op) ?? 0, cl.maxAbs));
    expect(cl.ok, `${c.name} ${r.what}: max abs err ${cl.maxAbs.toExponential(2)}; worst ${cl.worst}`).toBe(true);
  }
  expect(dev.memory().liveTensors, `${c.name} leaked tensors`).toBe(before);
}

for (const file of Object.keys(TOL)) {
  const fx = loadFixture(`ops/${file}`);
  describe(`${file} (torch ${fx.torch}, seed ${fx.seed})`, () => {
    for (const c of fx.cases) {
      test(c.name, async () => {
        const [atol, rtol] = TOL[file];
        await runCase(c, atol, rtol);
      });
    }
  });
}

afterAll(() => {
  const rows = [...worst.entries()].map(([op, e]) => `${op}: ${e.toExponential(2)}`);
  console.log(`max abs error vs PyTorch per op: ${rows.join(', ')}`);
});
