// Subgroup-matrix convs: f16 convs (forward, input and weight gradients, all on the matrices: implicit GEMM
// forward, the input gradient's phases through it, the weight gradient as gy · im2col(x)ᵀ) of a device with subgroup matrices
// against the same convs of a second device on the same adapter with them switched off (the f16 SIMT kernels,
// themselves tested against float64 in test/kernels/conv-f16.test.ts), and proof by kernel profile that the
// matrices ran. Both sides sum in f32 from the same f16 operands and round once to f16, so they may differ by
// the two accumulation orders (~K·2^-24 of Σ|w·x|) and one f16 rounding each: 2·2^-11 of the output scale.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDevice } from '../../engine/create-device';
import type { Device } from '../../engine/device';
import { type Tensor, tensor } from '../../engine/tensor';
import * as ops from '../../engine/ops';
import { randn, rng } from '../helpers';

let dev: Device;
let plain: Device;
beforeAll(async () => {
  dev = await createDevice({ subgroupMatrix: true });
  plain = await createDevice({ subgroupMatrix: false });
  if (!dev.subgroupMatrix) throw new Error(`adapter '${dev.adapter.description}' has no usable subgroup matrices: run these tests through scripts/subgroup-matrix-env.sh`);
  expect(plain.subgroupMatrix).toBeNull();
});
afterAll(() => {
  dev?.dispose();
  plain?.dispose();
});

interface Case {
  readonly name: string;
  readonly x: number[];
  readonly w: number[];
  readonly o: ops.Conv2dOptions;
  readonly bias?: boolean;
}

const CASES: Case[] = [
  { name: '3x3 p1 (GELAN)', x: [2, 16, 12, 10], w: [24, 16, 3, 3], o: { padding: 1 } },
  { name: '3x3 s2 p1', x: [1, 8, 13, 11], w: [16, 8, 3, 3], o: { stride: 2, padding: 1 } },
  { name: '1x1 with bias', x: [2, 40, 7, 9], w: [36, 40, 1, 1], o: {}, bias: true },
  { name: '3x3 dilation 2 p2', x: [1, 8, 11, 12], w: [8, 8, 3, 3], o: { padding: 2, dilation: 2 } },
  { name: '5x3 p(2,1) ragged', x: [1, 5, 9, 17], w: [7, 5, 5, 3], o: { padding: [2, 1] } },
];

/** y, gx, gw (and gb) of sum(conv(x, w, b) · t) for a fixed random t, on device d. */
async function run(d: Device, c: Case, profile: boolean): Promise<{ out: Float32Array[]; kernels: string[] }> {
  const r = rng(c.x.reduce((a, b) => a * 7 + b, 3));
  const x = tensor(d, randn(r, c.x.reduce((a, b) => a * b)), c.x, { dtype: 'f16', requiresGrad: true });
  const fan = c.w[1] * c.w[2] * c.w[3];
  const w = tensor(d, randn(r, c.w.reduce((a, b) => a * b)).map((v) => v / Math.sqrt(fan)), c.w, { dtype: 'f16', requiresGrad: true });
  const b = c.bias ? tensor(d, randn(r, c.w[0]), [c.w[0]], { dtype: 'f16', requiresGrad: true }) : null;
  if (profile) d.profileStart();
  const y = ops.conv2d(x, w, b, c.o);
  const t = tensor(d, randn(r, y.size), y.shape, { dtype: 'f16' });
  const loss = ops.sum(ops.cast(ops.mul(y, t), 'f32'));
  loss.backward();
  const kernels = profile ? (await d.profileEnd()).map((k) => k.name) : [];
  const out = await Promise.all([y, x.grad!, w.grad!, ...(b ? [b.grad!] : [])].map((u) => u.data()));
  for (const u of [x, w, y, t, loss, ...(b ? [b] : [])] as Tensor[]) u.dispose();
  return { out, kernels };
}

describe('subgroup-matrix conv2d (f16)', () => {
  for (const c of CASES) {
    test(`${c.name}: forward and gradients match the SIMT kernels`, async () => {
      const a = await run(dev, c, true);
      const b = await run(plain, c, false);
      // forward, input and weight gradient all on the matrices: no SIMT conv or matmul kernel ran
      expect(a.kernels.some((k) => k.endsWith('.sgmat'))).toBe(true);
      expect(a.kernels.filter((k) => ['conv2d.fwd', 'conv2d.wgrad', 'conv2d.dgrad', 'matmul'].includes(k))).toEqual([]);
      ['y', 'gx', 'gw', 'gb'].slice(0, a.out.length).forEach((name, i) => {
        const scale = Math.max(...Array.from(b.out[i], Math.abs));
        let worst = 0;
        for (let j = 0; j < b.out[i].length; j++) worst = Math.max(worst, Math.abs(a.out[i][j] - b.out[i][j]));
        expect(worst / scale, `${name}: max |Δ| ${worst} of scale ${scale}`).toBeLessThan(2 * 2 ** -11);
      });
    });
  }
});
