// Mixed-precision training of a whole model (f16 activations, f32 master weights): every parameter gradient of
// yolov9-shapes (both PGI branches) against the same step in f32, and the refusals.
// - The gradients are taken of a smooth surrogate loss (Σ level maps · fixed weights): the detection loss's
//   assigner picks its top-k anchors from near-equal scores at initialisation, so rounding flips ties.
// - Even so, a randomly initialised net with BatchNorm is sensitive: in pure f32, perturbing the input by f16's
//   unit roundoff (2^-11) moves the early layers' gradients by 10-20 % (relative L2), because BN backward
//   subtracts nearly equal terms. So the bound is relative to that measured sensitivity: mixed precision may
//   differ from f32 by at most 3× what one f16 rounding of the input does. A wrong kernel gives O(1) errors.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { createDevice } from '../../engine/create-device';
import { type Tensor, add, cast, mul, scale, sum, tensor, tidy } from '../../engine';
import { createModel } from '../../models';
import { DataLoader, shapesDataset } from '../../training';
import { detectionLoss } from '../../training/loss/detection-loss';
import { testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

test('yolov9-shapes: loss and parameter gradients of a mixed-precision step match f32', async () => {
  if (!dev.features.f16) return console.log('skipped: this adapter has no shader-f16');
  const model = createModel(dev, 'yolov9-shapes', { nc: 6, seed: 0 }).train();
  const data = shapesDataset({ seed: 0, train: 4, val: 1, imgsz: 128 });
  const batch = await new DataLoader(data.train, { imgsz: 128, batchSize: 4, augment: false }).batch(0, 0);
  const LOSS_SCALE = 1; // keeps small f16 gradients out of the subnormal range
  const weights = new Map<string, Tensor>();
  const surrogate = (levels: readonly Tensor[], tag: string): Tensor =>
    levels
      .map((l, i) => {
        const key = `${tag}${i}`;
        if (!weights.has(key)) weights.set(key, tensor(dev, Float32Array.from({ length: l.size }, (_, k) => Math.sin(k * 0.37 + i)), l.shape).keep());
        return sum(mul(l.dtype === 'f32' ? l : cast(l, 'f32'), weights.get(key)!));
      })
      .reduce((a, b) => add(a, b));
  let perturb = false;
  const step = async (): Promise<{ loss: number; grads: Map<string, Float32Array> }> => {
    for (const [, p] of model.namedParameters()) p.grad?.dispose(), (p.grad = null);
    const loss = tidy(dev, () => {
      const images = perturb ? batch.images.map((v, i) => v * (1 + 2 ** -11 * Math.sin(i * 12.9898))) : batch.images;
      const out = model.forward(tensor(dev, images, batch.shape));
      const objective = add(surrogate(out.main.levels, 'main'), surrogate(out.aux!.levels, 'aux'));
      scale(objective, LOSS_SCALE).backward();
      return detectionLoss(out, batch.targets, model.head.strides, model.nc).loss.detach();
    });
    const grads = new Map<string, Float32Array>();
    for (const [name, p] of model.namedParameters()) {
      if (!p.requiresGrad) continue; // the DFL's fixed projection
      expect(p.grad?.dtype, name).toBe('f32');
      grads.set(name, (await p.grad!.data()).map((v) => v / LOSS_SCALE));
    }
    const l = (await loss.data())[0];
    loss.dispose();
    return { loss: l, grads };
  };
  const f32 = await step();
  perturb = true;
  const perturbed = await step();
  perturb = false;
  model.setMixedPrecision(true);
  expect(model.mixedPrecision).toBe(true);
  const mixed = await step();
  model.setMixedPrecision(false);

  // the detection loss's value (f32, over f16 predictions)
  expect(Math.abs(mixed.loss - f32.loss) / f32.loss).toBeLessThan(5e-3);
  /** Relative L2 distance of two gradient sets, over the parameters whose name matches. */
  const dist = (a: Map<string, Float32Array>, b: Map<string, Float32Array>, match: RegExp = /./): number => {
    let num = 0;
    let den = 0;
    for (const [name, g] of b) {
      if (!match.test(name)) continue;
      const h = a.get(name)!;
      for (let i = 0; i < g.length; i++) {
        num += (h[i] - g[i]) ** 2;
        den += g[i] ** 2;
      }
    }
    return Math.sqrt(num / den);
  };
  const sensitivity = dist(perturbed.grads, f32.grads);
  const error = dist(mixed.grads, f32.grads);
  // the same for the head's own layers alone (few BatchNorms between them and the loss)
  const headError = dist(mixed.grads, f32.grads, /^model\.29\./);
  const headSensitivity = dist(perturbed.grads, f32.grads, /^model\.29\./);
  console.log(
    `mixed vs f32: loss ${mixed.loss.toFixed(5)} vs ${f32.loss.toFixed(5)}; gradients relative L2 error ${error.toExponential(2)} ` +
      `(head ${headError.toExponential(2)}); f32 with the input perturbed by 2^-11: ${sensitivity.toExponential(2)} (head ${headSensitivity.toExponential(2)})`,
  );
  expect(error).toBeLessThan(3 * sensitivity);
  expect(error).toBeLessThan(0.5);
  expect(headError).toBeLessThan(3 * headSensitivity);
  weights.forEach((t) => t.dispose());
  model.dispose();
}, 120_000);

test('mixed precision is refused without shader-f16, naming the feature', async () => {
  const plain = await createDevice({ features: [] });
  try {
    const m = createModel(plain, 'gelan-shapes', { nc: 6, seed: 0 });
    expect(() => m.setMixedPrecision(true)).toThrow(/mixed precision needs the shader-f16 feature/);
    m.dispose();
  } finally {
    plain.dispose();
  }
});
