// The Device: features and limits obtained, embedding a host-owned GPUDevice, two engines side by side,
// batched submission, pipeline caching, and device loss (every pending and later call rejects, nothing hangs).
import { describe, expect, test } from 'vitest';
import { createDevice } from '../../engine/create-device';
import { DeviceLostError } from '../../engine/errors';
import { tensor, tidy } from '../../engine/tensor';
import { add, conv2d, exp, mul, sum } from '../../engine/ops';
import { nodeGpu } from '../../engine/platform/node';

describe('device', () => {
  test('requests the optional features the adapter has and raises limits to its maximum', async () => {
    const gpu = await nodeGpu();
    const adapter = (await gpu.requestAdapter())!;
    const dev = await createDevice({ gpu });
    expect(dev.features.f16).toBe(adapter.features.has('shader-f16'));
    expect(dev.features.subgroups).toBe(adapter.features.has('subgroups'));
    expect(dev.features.timestampQuery).toBe(adapter.features.has('timestamp-query'));
    expect(dev.limits.maxStorageBufferBindingSize).toBe(adapter.limits.maxStorageBufferBindingSize);
    expect(dev.limits.maxComputeInvocationsPerWorkgroup).toBe(adapter.limits.maxComputeInvocationsPerWorkgroup);
    expect(dev.adapter.description.length + dev.adapter.vendor.length).toBeGreaterThan(0);
    dev.dispose();
  });

  test('features can be declined (kernels must then fall back)', async () => {
    const dev = await createDevice({ features: [] });
    expect(dev.features).toEqual({ f16: false, subgroups: false, timestampQuery: false });
    expect(() => tensor(dev, [1, 2], [2], { dtype: 'f16' })).toThrow(/shader-f16/);
    dev.dispose();
  });

  test('embedding: a host-owned GPUDevice is used, not destroyed, and all engine memory is freed', async () => {
    const gpu = await nodeGpu();
    const host = await (await gpu.requestAdapter())!.requestDevice();
    const dev = await createDevice({ device: host });
    const x = tensor(dev, [1, 2, 3], [3]);
    const y = exp(x);
    expect(Array.from(await y.data()).map((v) => +v.toFixed(4))).toEqual([1, 2, 3].map((v) => +Math.exp(v).toFixed(4)));
    expect(dev.memory().liveBytes).toBeGreaterThan(0);
    dev.dispose();
    expect(dev.memory().liveBytes).toBe(0);
    expect(dev.memory().pooledBytes).toBe(0);
    expect(() => exp(x)).toThrow(/disposed/);
    // the host's device still works
    const b = host.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    await b.mapAsync(GPUMapMode.READ);
    b.unmap();
    host.destroy();
  });

  test('two engines on two devices do not interfere', async () => {
    const [d1, d2] = await Promise.all([createDevice(), createDevice()]);
    const a = tensor(d1, [1, 2], [2]);
    const b = tensor(d2, [10, 20], [2]);
    const ya = add(a, a);
    const yb = mul(b, b);
    expect(Array.from(await ya.data())).toEqual([2, 4]);
    expect(Array.from(await yb.data())).toEqual([100, 400]);
    expect(() => add(a, b)).toThrow(/different devices/);
    d1.dispose();
    expect(Array.from(await mul(b, b).data())).toEqual([100, 400]);
    d2.dispose();
  });

  test('dispatches are batched: many ops, one submit at the read-back', async () => {
    const dev = await createDevice();
    let submits = 0;
    const queue = dev.gpu.queue;
    const submit = queue.submit.bind(queue);
    queue.submit = (cbs: Iterable<GPUCommandBuffer>) => {
      submits++;
      submit(cbs);
    };
    const x = tensor(dev, [1, 2, 3, 4], [4]);
    const v = await tidy(dev, () => {
      let y = x;
      for (let i = 0; i < 50; i++) y = add(y, x);
      return sum(y);
    }).data();
    expect(v[0]).toBe(51 * 10);
    expect(submits).toBe(1);
    dev.dispose();
  });

  test('pipelines are cached by variant, not by shape', async () => {
    const dev = await createDevice();
    const run = (n: number): void =>
      tidy(dev, () => {
        const x = tensor(dev, new Array(n * 4 * 6 * 6).fill(0.5), [n, 4, 6, 6]);
        const w = tensor(dev, new Array(8 * 4 * 9).fill(0.1), [8, 4, 3, 3]);
        void conv2d(x, w, null, { padding: 1 });
      });
    run(1);
    const after = dev.memory().pipelines;
    run(2);
    run(3);
    expect(dev.memory().pipelines).toBe(after);
    dev.dispose();
  });

  test('device loss: pending and later calls reject with a clear error, nothing hangs', async () => {
    const dev = await createDevice();
    const x = tensor(dev, new Array(1 << 16).fill(1), [1 << 16]);
    const pending = exp(x).data();
    dev.gpu.destroy();
    await expect(pending).rejects.toThrow(DeviceLostError);
    await new Promise((r) => setTimeout(r, 60));
    expect(dev.isLost).toBe(true);
    expect(() => exp(x)).toThrow(DeviceLostError);
    await expect(dev.sync()).rejects.toThrow(/GPU device lost/);
  });
});
