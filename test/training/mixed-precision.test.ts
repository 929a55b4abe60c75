// Mixed-precision training end to end: dynamic loss scaling on the GPU (skip on overflow, halve, grow after the
// interval, unscale before the clip) against hand-computed updates, and a Trainer run with f16 activations that
// learns like the f32 run with the same seed, with flat GPU memory (the memory saved is measured by the bench).
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { tensor, tidy } from '../../engine/tensor';
import { mul, sum } from '../../engine/ops';
import { createModel } from '../../models';
import { shapesDataset } from '../../training/data/shapes';
import { DataLoader } from '../../training/data/loader';
import { Trainer } from '../../training/trainer';
import { Optimizer } from '../../training/optim/optimizer';
import { GradScaler } from '../../training/optim/grad-scaler';
import { demoHyp } from '../../training/presets/demo';
import { testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

test('GradScaler: scaled gradients are unscaled before clip and SGD; overflow skips the step and halves the scale; the scale doubles after the interval', async () => {
  const model = createModel(dev, 'gelan-shapes', { nc: 6, seed: 0 });
  // plain SGD (no momentum, no decay) on one parameter, all others without gradient
  const [name, p] = [...model.namedParameters()].find(([n]) => n.endsWith('bn.bias'))!;
  const opt = new Optimizer(model, { name: 'SGD', lr: 0.5, momentum: 0, weightDecay: 0, maxGradNorm: 1e9 });
  const scaler = new GradScaler(dev, { initScale: 1024, growthInterval: 2 });
  const before = await p.data();
  const backward = (coef: number): void =>
    tidy(dev, () => {
      const c = tensor(dev, Float32Array.from({ length: p.size }, (_, i) => coef * (i + 1)), p.shape);
      scaler.scale(sum(mul(p, c))).backward();
    });
  // step 1: gradient c_i = i+1, scaled by 1024 → unscaled → p -= 0.5 · (i+1)
  backward(1);
  expect((await p.grad!.data())[1]).toBe(2 * 1024);
  opt.step(scaler);
  opt.zeroGrad();
  const after1 = await p.data();
  after1.forEach((v, i) => expect(v, `${name}[${i}]`).toBeCloseTo(before[i] - 0.5 * (i + 1), 4));
  expect(await scaler.read()).toEqual({ scale: 1024, goodSteps: 1 });
  // step 2: an overflowing gradient (inf after scaling) is skipped, the scale halves
  backward(1e36);
  opt.step(scaler);
  opt.zeroGrad();
  expect(Array.from(await p.data())).toEqual(Array.from(after1));
  expect(await scaler.read()).toEqual({ scale: 512, goodSteps: 0 });
  // steps 3, 4: two good steps double the scale; the updates use the unscaled gradient
  backward(1);
  opt.step(scaler);
  opt.zeroGrad();
  backward(1);
  opt.step(scaler);
  opt.zeroGrad();
  expect(await scaler.read()).toEqual({ scale: 1024, goodSteps: 0 });
  (await p.data()).forEach((v, i) => expect(v).toBeCloseTo(after1[i] - 2 * 0.5 * (i + 1), 4));
  // clipping acts on the unscaled norm: ‖g‖ = ‖(1..n)‖ > 1 is clipped to 1
  const clipped = new Optimizer(model, { name: 'SGD', lr: 0.5, momentum: 0, weightDecay: 0, maxGradNorm: 1 });
  const pre = await p.data();
  backward(1);
  clipped.step(scaler);
  clipped.zeroGrad();
  clipped.dispose();
  const norm = Math.sqrt(Array.from({ length: p.size }, (_, i) => (i + 1) ** 2).reduce((a, b) => a + b, 0));
  (await p.data()).forEach((v, i) => expect(v).toBeCloseTo(pre[i] - (0.5 * (i + 1)) / norm, 4));
  expect(() => new GradScaler(dev, { initScale: 0 })).toThrow(/GradScaler: initScale must be a finite number ≥ 1, got 0/);
  scaler.dispose();
  opt.dispose();
  model.dispose();
});

test('Trainer with mixedPrecision learns like f32 (same seed), with flat GPU memory', async () => {
  if (!dev.features.f16) return console.log('skipped: this adapter has no shader-f16');
  const run = async (mixed: boolean): Promise<{ losses: number[]; live: number[]; scale: number }> => {
    const ds = shapesDataset({ seed: 3, train: 32, val: 8, imgsz: 96 });
    const model = createModel(dev, 'yolov9-shapes', { nc: ds.names.length, seed: 5 });
    const train = new DataLoader(ds.train, { imgsz: 96, batchSize: 8, augment: false, seed: 11 });
    // a loss scale that fits this net's gradients from the start (from 2^16 the first ~8 steps overflow and are skipped)
    const trainer = new Trainer(model, train, null, { epochs: 4, hyp: demoHyp(), optimizer: 'AdamW', nominalBatch: 8, minWarmupIters: 4, mixedPrecision: mixed, initialLossScale: 256 });
    const losses: number[] = [];
    const live: number[] = [];
    trainer.onStep((e) => void losses.push(e.items.reduce((a, b) => a + b, 0)));
    trainer.onEpoch(() => void live.push(dev.memory().liveBytes));
    await trainer.run();
    const scale = trainer.scaler ? (await trainer.scaler.read()).scale : 1;
    trainer.dispose();
    model.dispose();
    return { losses, live, scale };
  };
  const f32 = await run(false);
  const mixed = await run(true);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const head = (r: { losses: number[] }): number => mean(r.losses.slice(0, 4));
  const tail = (r: { losses: number[] }): number => mean(r.losses.slice(-4));
  console.log(
    `loss first/last 4 steps: f32 ${head(f32).toFixed(3)} → ${tail(f32).toFixed(3)}, mixed ${head(mixed).toFixed(3)} → ${tail(mixed).toFixed(3)}; ` +
      `loss scale at the end ${mixed.scale}; live bytes after epochs (mixed) ${mixed.live.join(', ')}`,
  );
  expect(mixed.losses.every(Number.isFinite)).toBe(true);
  // it learns: the last steps' loss is well below the first steps'
  expect(tail(mixed)).toBeLessThan(0.85 * head(mixed));
  // and about as well as f32 (random init, 16 steps: within 10 %)
  expect(Math.abs(tail(mixed) - tail(f32)) / tail(f32)).toBeLessThan(0.1);
  // memory does not grow across epochs
  expect(mixed.live.every((m) => m === mixed.live[0]), `live bytes per epoch ${mixed.live.join(', ')}`).toBe(true);
  expect(mixed.scale).toBeGreaterThanOrEqual(1);
}, 300_000);
