// f16 inference of a fused model (fuseModel(m, { dtype: 'f16' })) against the same model fused in f32: decoded
// outputs within a tolerance derived from f16's precision, and the same detections from trained weights.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { noGrad, tensor, tidy } from '../../engine/tensor';
import { type DetectionModel, createModel, fuseModel, modelFromWeights, readWeightFile } from '../../models';
import { DataLoader, detectImage, shapesDataset, validate } from '../../training';
import { randn, rng, testDevice } from '../helpers';

const WEIGHTS = fileURLToPath(new URL('../fixtures/demo/gelan-shapes.safetensors', import.meta.url));

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

const trained = (): DetectionModel => modelFromWeights(dev, readWeightFile(new Uint8Array(readFileSync(WEIGHTS)), WEIGHTS), WEIGHTS);

/** Decoded y (f32) and the raw level maps (in the model's dtype). */
async function outputs(m: DetectionModel, x: readonly number[], size: number): Promise<{ y: Float32Array; levels: Float32Array[] }> {
  m.eval();
  const [y, ...levels] = await Promise.all(
    noGrad(dev, () =>
      tidy(dev, () => {
        const out = m.forward(tensor(dev, x, [1, 3, size, size]));
        out.main.levels.forEach((t) => expect(t.dtype).toBe(m.dtype));
        expect(out.main.y!.dtype).toBe('f32');
        return [out.main.y!.data(), ...out.main.levels.map((t) => t.data())];
      }),
    ),
  );
  return { y, levels };
}

/** Worst |Δ| of a raw level map relative to its largest magnitude. */
const levelError = (a: Float32Array, b: Float32Array): number =>
  a.reduce((w, v, i) => Math.max(w, Math.abs(v - b[i])), 0) / b.reduce((w, v) => Math.max(w, Math.abs(v)), 0);

/**
 * Worst box error as a fraction of the image side, and worst score error. Each of the ~60 layers between input
 * and head rounds its activations to f16 (u = 2^-11 ≈ 4.9e-4 relative); the errors add up roughly as a random
 * walk over depth, √60·u ≈ 0.38 %: the tolerance is twice that, TOL = 0.75 %, of the image side for boxes and of
 * a raw level map's largest magnitude, and 0.0075 for scores (probabilities). A 2 % error in one upsample of
 * gelan-shapes gives 1.3 % box and 1.7 % level error: caught.
 */
const TOL = 0.0075;

function compare(y16: Float32Array, y32: Float32Array, nc: number, size: number): { box: number; score: number } {
  const A = y32.length / (4 + nc);
  let box = 0;
  let score = 0;
  for (let r = 0; r < 4 + nc; r++)
    for (let a = 0; a < A; a++) {
      const e = Math.abs(y16[r * A + a] - y32[r * A + a]);
      if (r < 4) box = Math.max(box, e / size);
      else score = Math.max(score, e);
    }
  return { box, score };
}

// gelan-shapes carries trained weights: the precision check. Random-init gelan-t is a smoke check that every
// gelan-t block runs in f16 and decodes: its features shrink layer by layer to ~1e-8 (f16's subnormal range) and
// the head's biases dominate its outputs, so its errors say little about precision.
const cases: [string, () => DetectionModel, number][] = [
  ['gelan-shapes (trained)', trained, 128],
  ['gelan-t (random init)', () => createModel(dev, 'gelan-t', { nc: 80, seed: 1 }), 128],
];

for (const [name, make, size] of cases) {
  test(`${name} at ${size}: f16 fused model matches the f32 fused model within f16 tolerance`, async () => {
    if (!dev.features.f16) return console.log('skipped: this adapter has no shader-f16');
    const x = randn(rng(3), 3 * size * size).map((v) => Math.min(Math.max(0.5 + 0.25 * v, 0), 1));
    const m32 = make();
    fuseModel(m32);
    const m16 = make();
    fuseModel(m16, { dtype: 'f16' });
    expect(m16.dtype).toBe('f16');
    try {
      const [o32, o16] = [await outputs(m32, x, size), await outputs(m16, x, size)];
      expect(o16.y.length).toBe(o32.y.length);
      expect(o16.y.every(Number.isFinite)).toBe(true);
      const e = compare(o16.y, o32.y, m32.nc, size);
      const lv = o32.levels.map((l, i) => levelError(o16.levels[i], l));
      console.log(
        `${name} ${size}: worst box error ${(e.box * size).toFixed(3)} px (${(e.box * 100).toFixed(3)} % of the side), worst score error ${e.score.toExponential(2)}, level maps ${lv.map((v) => `${(v * 100).toFixed(3)} %`).join(' / ')}`,
      );
      expect(e.box).toBeLessThan(TOL);
      expect(e.score).toBeLessThan(TOL);
      lv.forEach((v) => expect(v).toBeLessThan(TOL));
      // and not trivially: f16 really ran (an f32 run agrees to ~1e-6)
      expect(Math.max(...lv)).toBeGreaterThan(1e-4);
    } finally {
      m32.dispose();
      m16.dispose();
    }
  });
}

test('trained gelan-shapes detects the same objects in f16 as in f32 (detectImage, 8 validation images)', async () => {
  if (!dev.features.f16) return console.log('skipped: this adapter has no shader-f16');
  const m32 = trained();
  fuseModel(m32);
  const m16 = trained();
  fuseModel(m16, { dtype: 'f16' });
  const data = shapesDataset({ seed: 0, train: 1, val: 8, imgsz: 128 });
  let boxes = 0;
  let worstPx = 0;
  let worstConf = 0;
  try {
    for (let i = 0; i < 8; i++) {
      const { image } = await data.val.load(i);
      const d32 = await detectImage(m32, image, { imgsz: 128, conf: 0.25 });
      const d16 = await detectImage(m16, image, { imgsz: 128, conf: 0.25 });
      // a score within the tolerance of the threshold may fall either side of it: compare the confident ones
      const sure = (d: typeof d32): typeof d32 => d.filter((b) => b[4] > 0.25 + TOL);
      const a = sure(d32);
      const b = sure(d16);
      expect(b.length, `image ${i}: ${JSON.stringify(d16)} vs ${JSON.stringify(d32)}`).toBe(a.length);
      a.forEach((r, k) => {
        const h = b[k];
        expect(h[5], `image ${i} box ${k} class`).toBe(r[5]);
        for (let c = 0; c < 4; c++) worstPx = Math.max(worstPx, Math.abs(h[c] - r[c]));
        worstConf = Math.max(worstConf, Math.abs(h[4] - r[4]));
      });
      boxes += a.length;
    }
    console.log(`detections: ${boxes} boxes in 8 images, same classes; worst corner ${worstPx.toFixed(3)} px, worst confidence ${worstConf.toExponential(2)}`);
    expect(boxes).toBeGreaterThan(4);
    expect(worstPx).toBeLessThan(TOL * 128);
    expect(worstConf).toBeLessThan(TOL);
  } finally {
    m32.dispose();
    m16.dispose();
  }
});

test('validation of the trained model in f16 matches f32 (mAP, loss terms)', async () => {
  if (!dev.features.f16) {
    console.log('skipped: this adapter has no shader-f16');
    return;
  }
  const data = shapesDataset({ seed: 0, train: 1, val: 16, imgsz: 128 });
  const loader = new DataLoader(data.val, { imgsz: 128, batchSize: 8, augment: false });
  const results = [];
  for (const dtype of ['f32', 'f16'] as const) {
    const m = trained();
    fuseModel(m, { dtype });
    results.push((await validate(m, loader)).result);
    m.dispose();
  }
  const [a, b] = results;
  console.log(`val on 16 shapes images: f32 mAP@0.5 ${a.map50.toFixed(4)} mAP ${a.map.toFixed(4)} loss ${a.loss.map((v) => v.toFixed(4))}; f16 ${b.map50.toFixed(4)} ${b.map.toFixed(4)} ${b.loss.map((v) => v.toFixed(4))}`);
  expect(a.map50).toBeGreaterThan(0);
  // detections move by a fraction of a pixel (see above): the AP at IoU 0.5..0.95 moves little
  expect(Math.abs(a.map50 - b.map50)).toBeLessThan(0.01);
  expect(Math.abs(a.map - b.map)).toBeLessThan(0.01);
  a.loss.forEach((v, i) => expect(Math.abs(v - b.loss[i]), `loss term ${i}`).toBeLessThan(TOL * Math.max(1, Math.abs(v))));
});
