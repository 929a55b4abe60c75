// Running one op fixture case (test/fixtures/ops/*.json, from PyTorch) on the engine: forward outputs and input
// gradients against the float64 reference, and no leaked tensors. Shared by test/engine/fixture-ops.test.ts
// (Node, Dawn) and test/browser (Chromium's WebGPU); only the engine's public API is used.
import * as E from '../../engine';
import type { Expect } from './expect';
import { type FixtureCase, closeness, up } from './fixtures';

/* eslint-disable @typescript-eslint/no-explicit-any -- fixture attributes are JSON */

type Device = E.Device;
type Tensor = E.Tensor;
type Run = (xs: Tensor[], attrs: Record<string, any>) => Tensor[];

const unaryOps: Record<string, (x: Tensor) => Tensor> = {
  neg: E.neg, exp: E.exp, log: E.log, sqrt: E.sqrt, abs: E.abs, sigmoid: E.sigmoid, silu: E.silu, relu: E.relu, tanh: E.tanh,
};
const binaryOps: Record<string, (a: Tensor, b: Tensor) => Tensor> = {
  add: E.add, sub: E.sub, mul: E.mul, div: E.div, pow: E.pow, maximum: E.maximum, minimum: E.minimum,
  gt: E.gt, ge: E.ge, lt: E.lt, le: E.le, eq: E.eq, ne: E.ne,
};
const pair = (p: number | number[]): [number, number] => (typeof p === 'number' ? [p, p] : [p[0], p[1]]);

export const RUN: Record<string, Run> = {
  ...Object.fromEntries(Object.entries(unaryOps).map(([k, f]) => [k, (xs: Tensor[]) => [f(xs[0])]])),
  ...Object.fromEntries(Object.entries(binaryOps).map(([k, f]) => [k, (xs: Tensor[]) => [f(xs[0], xs[1])]])),
  clamp: (xs, a) => [E.clamp(xs[0], a.min, a.max)],
  pow_scalar: (xs, a) => [E.powScalar(xs[0], a.exponent)],
  where: (xs) => [E.where(xs[0], xs[1], xs[2])],
  sum: (xs, a) => [E.sum(xs[0], a.axes, a.keepdim)],
  mean: (xs, a) => [E.mean(xs[0], a.axes, a.keepdim)],
  max: (xs, a) => {
    const r = E.maxWithIndices(xs[0], a.axis, a.keepdim);
    return [r.values, r.indices];
  },
  argmax: (xs, a) => [E.argmax(xs[0], a.axis, a.keepdim ?? false)],
  softmax: (xs, a) => [E.softmax(xs[0], a.axis)],
  log_softmax: (xs, a) => [E.logSoftmax(xs[0], a.axis)],
  logsumexp: (xs, a) => [E.logsumexp(xs[0], a.axes, a.keepdim)],
  matmul: (xs) => [E.matmul(xs[0], xs[1])],
  conv2d: (xs, a) => [E.conv2d(xs[0], xs[1], xs[2] ?? null, { stride: pair(a.stride), padding: pair(a.padding), dilation: pair(a.dilation), groups: a.groups })],
  batch_norm: (xs, a) => {
    const [x, w, b, rm, rv] = xs;
    return [E.batchNorm2d(x, w, b, rm, rv, { training: a.training, momentum: a.momentum, eps: a.eps }), rm, rv];
  },
  max_pool2d: (xs, a) => [E.maxPool2d(xs[0], { kernel: pair(a.kernel), stride: pair(a.stride), padding: pair(a.padding) })],
  avg_pool2d: (xs, a) => [E.avgPool2d(xs[0], { kernel: pair(a.kernel), stride: pair(a.stride), padding: pair(a.padding), countIncludePad: a.count_include_pad })],
  upsample_nearest: (xs, a) => [E.upsampleNearest(xs[0], a.size ? { size: pair(a.size) } : { scale: a.scale })],
  concat: (xs, a) => [E.concat(xs, a.axis)],
  split: (xs, a) => E.split(xs[0], a.sizes, a.axis),
  chunk: (xs, a) => E.chunk(xs[0], a.chunks, a.axis),
  slice: (xs, a) => [E.slice(xs[0], a.axis, a.start, a.end)],
  permute: (xs, a) => [E.permute(xs[0], a.dims)],
  reshape: (xs, a) => [E.reshape(xs[0], a.shape)],
  transpose: (xs, a) => [E.transpose(xs[0], a.dim0, a.dim1)],
};

/** Per-file tolerances (atol, rtol) with the reason. */
export const TOL: Record<string, [number, number]> = {
  'elementwise.json': [1e-5, 1e-5], // one rounding of a transcendental: ~1e-7 relative, llvmpipe exp/log ~2 ulp
  'reduce.json': [2e-5, 2e-5], // sums of up to 120 terms in float32
  'matmul.json': [2e-5, 2e-5], // K <= 9 products
  'conv2d.json': [5e-5, 5e-5], // up to 5*5*8 = 200 products per output, 2*9*9 per weight grad
  'batchnorm.json': [1e-4, 1e-4], // variance and rsqrt in float32 over <= 54 values
  'pool.json': [1e-5, 1e-5],
  'upsample.json': [1e-5, 1e-5],
  'layout.json': [0, 0], // pure data movement: exact
};

/**
 * Run case `c` on `dev` and check every output and input gradient within (atol, rtol), and that no tensor
 * leaked. `worst` collects the largest absolute error per op.
 */
export async function runOpCase(dev: Device, c: FixtureCase, atol: number, rtol: number, expect: Expect, worst?: Map<string, number>): Promise<void> {
  const run = RUN[c.op];
  expect(run, `no runner for fixture op ${c.op}`).toBeDefined();
  const before = dev.memory().liveTensors;
  const reads: { what: string; got: Promise<Float32Array>; want: number[] }[] = [];
  // Reads are recorded and submitted synchronously by data(), so disposing at the end of tidy() is safe.
  E.tidy(dev, () => {
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
      const parts = ys.map((y, i) => E.sum(E.mul(y, gys[i])));
      parts.reduce((acc, p) => E.add(acc, p)).backward();
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
    worst?.set(c.op, Math.max(worst.get(c.op) ?? 0, cl.maxAbs));
    expect(cl.ok, `${c.name} ${r.what}: max abs err ${cl.maxAbs.toExponential(2)}; worst ${cl.worst}`).toBe(true);
  }
  expect(dev.memory().liveTensors, `${c.name} leaked tensors`).toBe(before);
}
