// GPU memory must not grow across training steps: 200 forward+backward steps of a small conv net (conv, BN in
// training mode, SiLU, max-pool, upsample, concat) with an SGD-style parameter update, and live tensors/bytes
// must return to the same value after every step.
import { expect, test } from 'vitest';
import { createDevice } from '../../engine/create-device';
import { type Tensor, noGrad, tensor, tidy } from '../../engine/tensor';
import { add, batchNorm2d, concat, conv2d, maxPool2d, mean, mul, scale, silu, sub, upsampleNearest } from '../../engine/ops';
import { randn, rng } from '../helpers';

test('200 forward+backward steps keep live GPU memory flat', async () => {
  const dev = await createDevice();
  const r = rng(3);
  const param = (shape: number[], s: number): Tensor =>
    tensor(dev, randn(r, shape.reduce((a, b) => a * b, 1)).map((v) => v * s), shape, { requiresGrad: true });
  let w1 = param([8, 3, 3, 3], 0.2);
  let w2 = param([8, 8, 3, 3], 0.1);
  let w3 = param([4, 16, 1, 1], 0.2);
  const gamma = tensor(dev, new Array(8).fill(1), [8], { requiresGrad: true });
  const beta = tensor(dev, new Array(8).fill(0), [8], { requiresGrad: true });
  const rm = tensor(dev, new Array(8).fill(0), [8]);
  const rv = tensor(dev, new Array(8).fill(1), [8]);
  const x = tensor(dev, randn(r, 2 * 3 * 16 * 16), [2, 3, 16, 16]);
  const target = tensor(dev, randn(r, 2 * 4 * 16 * 16), [2, 4, 16, 16]);

  const samples: { tensors: number; bytes: number }[] = [];
  const pooledAt: number[] = [];
  const losses: number[] = [];
  for (let step = 0; step < 200; step++) {
    const loss = tidy(dev, () => {
      const a = silu(batchNorm2d(conv2d(x, w1, null, { padding: 1 }), gamma, beta, rm, rv, { training: true, momentum: 0.03, eps: 1e-3 }));
      const b = upsampleNearest(maxPool2d(silu(conv2d(a, w2, null, { padding: 1 })), { kernel: 2 }), { scale: 2 });
      const y = conv2d(concat([a, b], 1), w3);
      const d = sub(y, target);
      const l = mean(mul(d, d));
      l.backward();
      // SGD step: new parameters replace the old ones (kept outside the scope)
      noGrad(dev, () => {
        const upd = (p: Tensor): Tensor => {
          const n = add(p, scale(p.grad!, -0.05)).keep();
          n.requiresGrad = true;
          p.dispose();
          return n;
        };
        w1 = upd(w1);
        w2 = upd(w2);
        w3 = upd(w3);
      });
      for (const p of [gamma, beta]) {
        p.grad!.dispose();
        p.grad = null;
      }
      return l;
    });
    if (step % 20 === 0 || step === 199) losses.push(await loss.item());
    loss.dispose();
    const m = dev.memory();
    samples.push({ tensors: m.liveTensors, bytes: m.liveBytes });
    pooledAt.push(m.pooledBytes);
  }
  // identical after every step (the first step warms the pool; it must already match)
  for (const s of samples) expect(s).toEqual(samples[0]);
  expect(losses[losses.length - 1]).toBeLessThan(losses[0]);
  expect(losses.every(Number.isFinite)).toBe(true);
  // the pool stops growing once warm: every step reuses the buffers of the previous one
  const pooled = pooledAt[pooledAt.length - 1];
  expect(pooledAt.slice(5).every((p) => p === pooled)).toBe(true);
  console.log(`memory after 200 steps: ${samples[0].tensors} live tensors, ${samples[0].bytes} live bytes, ${pooled} pooled bytes; loss ${losses[0].toFixed(4)} -> ${losses[losses.length - 1].toFixed(4)}`);
  dev.dispose();
});
