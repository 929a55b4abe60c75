// Mixed-precision gradients: every op of the YOLO training graph run with f16 activations, reached from f32
// master tensors through cast() as a mixed-precision model does, against the same graph in f32. f16 keeps
// 11 significant bits (u = 2^-11 ≈ 4.9e-4): inputs, outputs and gradients are each rounded once or a few times
// and sums are formed in f32, so the stated tolerance is 1e-2 of the largest gradient (≈ 20 u).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { type Tensor, tensor, tidy } from '../../engine/tensor';
import * as ops from '../../engine/ops';
import { randn, rng, testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

interface Case {
  name: string;
  /** Input shapes (f32 masters, all requiring grad). */
  shapes: number[][];
  /** The op on inputs of one dtype (f16 in the mixed run). */
  f: (xs: Tensor[]) => Tensor;
  /** Scale of the random inputs per input (default 1). */
  scales?: number[];
}

const CASES: Case[] = [
  { name: 'conv2d 3x3 p1', shapes: [[2, 8, 9, 11], [16, 8, 3, 3]], f: ([x, w]) => ops.conv2d(x, w, null, { padding: 1 }), scales: [1, 0.2] },
  { name: 'conv2d 3x3 s2 p1 (phase input gradient)', shapes: [[2, 8, 12, 13], [8, 8, 3, 3]], f: ([x, w]) => ops.conv2d(x, w, null, { stride: 2, padding: 1 }), scales: [1, 0.2] },
  { name: 'conv2d 1x1 with bias', shapes: [[2, 16, 6, 7], [12, 16, 1, 1], [12]], f: ([x, w, b]) => ops.conv2d(x, w, b), scales: [1, 0.2, 1] },
  { name: 'conv2d 3x3 groups 4', shapes: [[1, 16, 8, 8], [16, 4, 3, 3]], f: ([x, w]) => ops.conv2d(x, w, null, { padding: 1, groups: 4 }), scales: [1, 0.3] },
  { name: 'conv2d 3x3 s2 dilation 2 (gather input gradient)', shapes: [[1, 4, 11, 11], [4, 4, 3, 3]], f: ([x, w]) => ops.conv2d(x, w, null, { stride: 2, padding: 2, dilation: 2 }), scales: [1, 0.3] },
  {
    name: 'batchNorm2d train + SiLU (f32 parameters)',
    shapes: [[4, 6, 5, 7], [6], [6]],
    f: ([x, w, b]) => ops.batchNorm2d(x, ops.cast(w, 'f32'), ops.cast(b, 'f32'), null, null, { training: true, activation: 'silu' }),
    scales: [2, 1, 1],
  },
  { name: 'silu, add with broadcast, mul', shapes: [[2, 4, 5, 6], [1, 4, 1, 1]], f: ([x, b]) => ops.mul(ops.silu(ops.add(x, b)), x) },
  { name: 'concat and slice', shapes: [[2, 3, 4, 5], [2, 5, 4, 5]], f: ([a, b]) => ops.slice(ops.concat([a, b], 1), 1, 1, 7) },
  { name: 'maxPool2d 5x5 s1 p2', shapes: [[2, 3, 9, 9]], f: ([x]) => ops.maxPool2d(x, { kernel: 5, stride: 1, padding: 2 }) },
  { name: 'avgPool2d 2x2 s1', shapes: [[2, 3, 9, 8]], f: ([x]) => ops.avgPool2d(x, { kernel: 2, stride: 1 }) },
  { name: 'upsample nearest x2', shapes: [[2, 3, 4, 5]], f: ([x]) => ops.upsampleNearest(x, { scale: 2 }) },
  { name: 'sum over H, W (bias-style reduction)', shapes: [[2, 5, 6, 7]], f: ([x]) => ops.sum(x, [2, 3]) },
];

/** Forward through `f` in `dtype` from f32 masters, loss = Σ y·r (r fixed), backward; returns y and the masters' grads. */
async function run(c: Case, dtype: 'f32' | 'f16', data: Float32Array[], r: () => number): Promise<{ y: Float32Array; grads: Float32Array[] }> {
  const masters = c.shapes.map((s, i) => tensor(dev, data[i], s, { requiresGrad: true }));
  const y = tidy(dev, () => {
    const ins = masters.map((m) => (dtype === 'f32' ? m : ops.cast(m, 'f16')));
    const out = c.f(ins);
    expect(out.dtype).toBe(dtype);
    const y32 = dtype === 'f32' ? out : ops.cast(out, 'f32');
    const weights = tensor(dev, Float32Array.from(randn(r, y32.size)), y32.shape);
    ops.sum(ops.mul(y32, weights)).backward();
    return y32.data();
  });
  const grads = await Promise.all(masters.map((m) => m.grad!.data()));
  for (const m of masters) {
    expect(m.grad!.dtype).toBe('f32');
    m.dispose();
  }
  return { y: await y, grads };
}

const maxAbs = (a: Float32Array): number => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('mixed precision: f16 activations from f32 masters match the f32 graph', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      if (!dev.features.f16) return console.log('skipped: this adapter has no shader-f16');
      const r = rng(3);
      const data = c.shapes.map((s, i) => Float32Array.from(randn(r, s.reduce((a, b) => a * b, 1)).map((v) => v * (c.scales?.[i] ?? 1))));
      const f32 = await run(c, 'f32', data, rng(9));
      const f16 = await run(c, 'f16', data, rng(9));
      const worst: string[] = [];
      const check = (what: string, got: Float32Array, want: Float32Array): void => {
        const tol = 1e-2 * maxAbs(want) + 1e-6;
        let err = 0;
        for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
        if (!(err <= tol)) worst.push(`${what}: max |f16 - f32| ${err.toExponential(2)} > ${tol.toExponential(2)}`);
      };
      check('output', f16.y, f32.y);
      f16.grads.forEach((g, i) => check(`gradient of input ${i}`, g, f32.grads[i]));
      expect(worst).toEqual([]);
    });
  }
});
