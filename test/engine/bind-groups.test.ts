// No per-step bind-group creation: after the first training steps, a step of yolov9-shapes (forward, loss,
// backward, AdamW, EMA) must be recorded with the bind groups the device already holds (pooled buffers come back
// in the same order), and the results must not change because bind groups are reused (the uniform parameters sit
// at a dynamic offset).
import { expect, test } from 'vitest';
import { createDevice } from '../../engine/create-device';
import { tensor, tidy } from '../../engine/tensor';
import { createModel } from '../../models';
import { detectionLoss } from '../../training/loss/detection-loss';
import { Optimizer } from '../../training/optim/optimizer';
import { ModelEMA } from '../../training/optim/ema';
import { randn, rng } from '../helpers';

test('a repeated training step creates no bind groups', async () => {
  const dev = await createDevice();
  let created = 0;
  const gpu = dev.gpu as GPUDevice & { createBindGroup: GPUDevice['createBindGroup'] };
  const original = gpu.createBindGroup.bind(gpu);
  gpu.createBindGroup = (d: GPUBindGroupDescriptor): GPUBindGroup => {
    created++;
    return original(d);
  };
  try {
    const model = createModel(dev, 'yolov9-shapes', { nc: 6, seed: 0 }).train();
    const opt = new Optimizer(model, { name: 'AdamW', lr: 1e-3, momentum: 0.9, weightDecay: 5e-4 });
    const ema = new ModelEMA(model);
    const x = Float32Array.from(randn(rng(1), 2 * 3 * 64 * 64), (v) => Math.abs(v) % 1);
    // [image, class, cx, cy, w, h]
    const targets = Float32Array.from([0, 1, 0.3, 0.4, 0.2, 0.3, 1, 4, 0.6, 0.5, 0.3, 0.2]);
    const perStep: number[] = [];
    const losses: number[] = [];
    for (let step = 0; step < 5; step++) {
      const before = created;
      const items = tidy(dev, () => {
        const out = model.forward(tensor(dev, x, [2, 3, 64, 64]));
        const { loss, items } = detectionLoss(out, targets, model.head.strides, model.nc);
        loss.backward();
        opt.step();
        opt.zeroGrad();
        ema.update(model);
        return items;
      });
      losses.push((await items.data()).reduce((a, b) => a + b, 0));
      items.dispose();
      perStep.push(created - before);
    }
    console.log(`bind groups created per step: ${perStep.join(', ')} (cache holds ${dev.cachedBindGroups}); losses ${losses.map((v) => v.toFixed(4)).join(', ')}`);
    expect(perStep[0]).toBeGreaterThan(100);
    expect(perStep.slice(3)).toEqual([0, 0]);
    expect(losses.every(Number.isFinite)).toBe(true);
    // AdamW is learning on the same batch: the loss moves every step, so reused bind groups read fresh parameters
    for (let i = 1; i < losses.length; i++) expect(losses[i]).not.toBe(losses[i - 1]);
    ema.dispose();
    opt.dispose();
    model.dispose();
  } finally {
    dev.dispose();
  }
});
