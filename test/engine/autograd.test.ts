// Autograd semantics: accumulation, tensors used several times, no-grad scopes, detach, freed graphs, tidy.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { noGrad, tensor, tidy } from '../../engine/tensor';
import { add, mul, sum, scale, exp, conv2d } from '../../engine/ops';
import { testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

const close = (a: ArrayLike<number>, b: number[], tol = 1e-5): void => {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < b.length; i++) expect(Math.abs(a[i] - b[i]), `element ${i}: ${a[i]} vs ${b[i]}`).toBeLessThan(tol);
};

describe('autograd', () => {
  test('a tensor used several times accumulates every path: d/dx Σ(x·x + x) = 2x + 1', async () => {
    const x = tensor(dev, [1, -2, 3], [3], { requiresGrad: true });
    tidy(dev, () => sum(add(mul(x, x), x)).backward());
    close(await x.grad!.data(), [3, -3, 7]);
    x.dispose();
  });

  test('gradients accumulate across backward calls until cleared', async () => {
    const x = tensor(dev, [1, 2], [2], { requiresGrad: true });
    tidy(dev, () => sum(scale(x, 3)).backward());
    tidy(dev, () => sum(scale(x, 3)).backward());
    close(await x.grad!.data(), [6, 6]);
    x.grad!.dispose();
    x.grad = null;
    tidy(dev, () => sum(scale(x, 2)).backward());
    close(await x.grad!.data(), [2, 2]);
    x.dispose();
  });

  test('inputs without requiresGrad get no gradient; detach() cuts the graph', async () => {
    const x = tensor(dev, [1, 2], [2], { requiresGrad: true });
    const c = tensor(dev, [5, 7], [2]);
    tidy(dev, () => {
      const y = mul(x, c);
      const z = add(mul(y.detach(), x), y); // d/dx = y (detached) + c
      sum(z).backward();
    });
    close(await x.grad!.data(), [5 + 5, 14 + 7]);
    expect(c.grad).toBeNull();
    x.dispose();
    c.dispose();
  });

  test('noGrad() records nothing', () => {
    const x = tensor(dev, [1, 2], [2], { requiresGrad: true });
    tidy(dev, () => {
      const y = noGrad(dev, () => exp(x));
      expect(y.requiresGrad).toBe(false);
      expect(y.node).toBeNull();
      expect(() => sum(y).backward()).toThrow(/does not require grad/);
    });
    x.dispose();
  });

  test('a second backward through a freed graph fails clearly', () => {
    const x = tensor(dev, [1, 2], [2], { requiresGrad: true });
    tidy(dev, () => {
      const l = sum(exp(x));
      l.backward();
      expect(() => l.backward()).toThrow(/second time/);
    });
    x.dispose();
  });

  test('backward after the scope that made the graph ended names the op', () => {
    const x = tensor(dev, [1, 2, 3, 4], [1, 1, 2, 2], { requiresGrad: true });
    const w = tensor(dev, [1], [1, 1, 1, 1], { requiresGrad: true });
    const l = tidy(dev, () => sum(conv2d(x, w)));
    expect(() => l.backward()).toThrow(/conv2d saved a tensor .* freed when the tidy\(\) scope/);
    [x, w, l].forEach((t) => t.dispose());
  });

  test('non-scalar backward needs an explicit gradient of the same shape', () => {
    const x = tensor(dev, [1, 2], [2], { requiresGrad: true });
    tidy(dev, () => {
      const y = exp(x);
      expect(() => y.backward()).toThrow(/explicit gradient/);
      expect(() => y.backward(tensor(dev, [1, 2, 3], [3]))).toThrow(/does not match/);
    });
    x.dispose();
  });

  test('tidy returns its result tensors and frees the rest, nested scopes included', async () => {
    const before = dev.memory().liveTensors;
    const x = tensor(dev, [1, 2, 3], [3]);
    const { y, z } = tidy(dev, () => {
      const a = exp(x);
      const inner = tidy(dev, () => [mul(a, a), add(a, a)]);
      return { y: inner[0], z: scale(inner[1], 1) };
    });
    expect(dev.memory().liveTensors).toBe(before + 3);
    close(await y.data(), [1, 2, 3].map((v) => Math.exp(2 * v)), 1e-2);
    close(await z.data(), [1, 2, 3].map((v) => 2 * Math.exp(v)), 1e-4);
    [x, y, z].forEach((t) => t.dispose());
    expect(dev.memory().liveTensors).toBe(before);
  });
});
