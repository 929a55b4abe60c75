// The training-throughput bench's building blocks (bench/train-step.ts, bench/torch_train.py): the synthetic batch
// has the promised distribution, a measured step is a real training step whose numbers are consistent, and the
// PyTorch driver reports a missing official checkout as one error line. No timing assertions.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { measureTraining, syntheticBatch } from '../../bench/train-step';
import { testDevice } from '../helpers';

test('syntheticBatch: U[0,1) pixels, 2–6 boxes per image inside the image, classes below nc', () => {
  const c = { cfg: 'gelan-t', imgsz: 32, batch: 8, nc: 3 };
  const b = syntheticBatch(c, 1);
  expect(b.shape).toEqual([8, 3, 32, 32]);
  expect(b.images.length).toBe(8 * 3 * 32 * 32);
  expect(b.images.every((v) => v >= 0 && v < 1)).toBe(true);
  const rows = b.targets.length / 6;
  const perImage = new Array<number>(8).fill(0);
  for (let r = 0; r < rows; r++) {
    const [img, cls, cx, cy, w, h] = b.targets.subarray(6 * r, 6 * r + 6);
    perImage[img]++;
    expect(Number.isInteger(cls) && cls >= 0 && cls < 3).toBe(true);
    expect(w).toBeGreaterThanOrEqual(0.05);
    expect(w).toBeLessThanOrEqual(0.5);
    expect(h).toBeGreaterThanOrEqual(0.05);
    expect(h).toBeLessThanOrEqual(0.5);
    for (const [c0, s] of [[cx, w], [cy, h]]) {
      expect(c0 - s / 2).toBeGreaterThanOrEqual(-1e-6);
      expect(c0 + s / 2).toBeLessThanOrEqual(1 + 1e-6);
    }
  }
  expect(perImage.every((n) => n >= 2 && n <= 6)).toBe(true);
  expect(syntheticBatch(c, 1).targets).toEqual(b.targets); // seeded
});

test('measureTraining: a whole step of gelan-t, its medians and counts consistent', async () => {
  const dev = await testDevice();
  const c = { cfg: 'gelan-t', imgsz: 64, batch: 2, nc: 3 };
  const m = await measureTraining(dev, c, { warmup: 1, steps: 2 });
  expect(m.stepsMs).toHaveLength(2);
  expect(m.stepMs).toBeCloseTo((m.stepsMs[0] + m.stepsMs[1]) / 2, 6);
  expect(m.imagesPerSecond).toBeCloseTo((1000 * 2) / m.stepMs, 6);
  expect(m.hostMs).toBeGreaterThan(0);
  expect(m.hostMs).toBeLessThanOrEqual(m.stepMs); // recording is part of the step's wall time
  // a training step of gelan-t records hundreds of convs, their gradients, the loss and the optimiser
  expect(m.dispatches).toBeGreaterThan(500);
  expect(m.lossItems).toHaveLength(3);
  expect(m.lossItems.every((v) => Number.isFinite(v) && v > 0)).toBe(true);
  if (dev.features.timestampQuery) expect(m.gpuSource).toBe('profiled');
  await expect(measureTraining(dev, c, { warmup: 0, steps: 0 })).rejects.toThrow(/steps must be ≥ 1/);
  expect(dev.memory().liveBytes).toBeLessThan(1 << 20); // model, optimiser and EMA are freed
}, 120_000);

const py = '/usr/bin/python3';
test.skipIf(!existsSync(py))(`torch_train.py: a missing checkout is one error line (needs ${py})`, () => {
  const script = fileURLToPath(new URL('../../bench/torch_train.py', import.meta.url));
  const r = spawnSync(py, [script, '--yolov9', '/nonexistent/yolov9'], { input: '[]', encoding: 'utf8' });
  expect(r.status).toBe(3);
  expect(JSON.parse(r.stdout.trim())).toEqual({ error: 'no official YOLOv9 checkout at /nonexistent/yolov9 (--yolov9 DIR or GELAN_YOLOV9_DIR)' });
});
