// The fused BatchNorm + SiLU kernels (YOLO's Conv block) equal BatchNorm followed by SiLU, forward and backward,
// in training and eval mode (metamorphic check against the separately tested unfused ops).
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { tensor, tidy } from '../../engine/tensor';
import { batchNorm2d, mul, silu, sum } from '../../engine/ops';
import { closeness, randn, rng, testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

/** Output, running stats and the gradients of x, weight and bias for one draw of inputs. */
function run(fused: boolean, training: boolean, seed: number): Promise<Float32Array>[] {
  const r = rng(seed);
  const shape = [3, 5, 6, 7];
  const n = 3 * 5 * 6 * 7;
  return tidy(dev, () => {
    const x = tensor(dev, randn(r, n).map((v) => v * 2 + 0.3), shape, { requiresGrad: true });
    const w = tensor(dev, randn(r, 5).map((v) => 1 + 0.3 * v), [5], { requiresGrad: true });
    const b = tensor(dev, randn(r, 5).map((v) => 0.2 * v), [5], { requiresGrad: true });
    const rm = tensor(dev, randn(r, 5).map((v) => 0.1 * v), [5]);
    const rv = tensor(dev, randn(r, 5).map((v) => 1 + 0.2 * Math.abs(v)), [5]);
    const up = tensor(dev, randn(r, n), shape);
    const o = { training, momentum: 0.03, eps: 1e-3 };
    const y = fused ? batchNorm2d(x, w, b, rm, rv, { ...o, activation: 'silu' }) : silu(batchNorm2d(x, w, b, rm, rv, o));
    sum(mul(y, up)).backward();
    return [y, x.grad!, w.grad!, b.grad!, rm, rv].map((t) => t.data());
  });
}

test.each([true, false])('training=%s: fused equals unfused (output, running stats, all gradients)', async (training) => {
  const ref = await Promise.all(run(false, training, 7));
  const got = await Promise.all(run(true, training, 7));
  got.forEach((v, i) => {
    // float32 with a different operation order: a few ulps
    const c = closeness(v, ref[i], 1e-5, 1e-5);
    expect(c.ok, `tensor ${i}: ${c.worst}`).toBe(true);
  });
});
