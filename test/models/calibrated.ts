// Test models for export parity.
//
// A seeded createModel with a train-free BatchNorm calibration (γ = 0.3·(1 ± 0.1), β = ±0.05, running
// statistics of one training-mode batch of uniform noise, each running variance raised to at least its layer's
// mean; head class biases 0 so class probabilities are O(1)). With the plain init the output barely depends on the
// input, which would let a wrong backbone graph pass; with γ ≈ 1 or near-constant channels the random network
// amplifies f32 rounding (fused vs unfused differ by pixels), which would make parity meaningless. Calibrated so,
// boxes move by tens of pixels between inputs while our fused and unfused models agree to ~1e-6.
import type { Device } from '../../engine/device';
import { noGrad, tensor, tidy } from '../../engine/tensor';
import { type DetectionModel, createModel, seededRandom } from '../../models';

/** Deterministic test images in [0, 1] (B, 3, H, W). */
export function images(b: number, h: number, w: number, seed: number): Float32Array {
  const r = seededRandom(seed);
  return Float32Array.from({ length: b * 3 * h * w }, r);
}

/** The calibration described at the top of the file (`seed` picks the weights). */
export async function calibrated(dev: Device, cfg: string, seed: number, size = 160): Promise<DetectionModel> {
  const m = createModel(dev, cfg, { seed });
  const r = seededRandom(seed + 100);
  noGrad(dev, () => {
    for (const [k, t] of [...m.stateEntries()]) {
      if (k.endsWith('bn.weight')) m.setTensor(k, tensor(dev, Float32Array.from({ length: t.size }, () => 0.3 * (1 + 0.2 * (r() - 0.5))), t.shape));
      // class logits around 0 instead of the prior's −11.5, so class probabilities are O(1) and NMS has work
      if (/\.cv[35]\.\d+\.2\.bias$/.test(k)) m.setTensor(k, tensor(dev, new Float32Array(t.size), t.shape));
      if (k.endsWith('bn.bias')) m.setTensor(k, tensor(dev, Float32Array.from({ length: t.size }, () => 0.1 * (r() - 0.5)), t.shape));
    }
  });
  const saved = [...m.batchNorms()].map(([, bn]) => bn as unknown as { momentum: number });
  saved.forEach((bn) => (bn.momentum = 1));
  const x = tensor(dev, images(2, size, size, seed + 200), [2, 3, size, size]);
  m.train();
  noGrad(dev, () => tidy(dev, () => void m.forward(x)));
  m.eval();
  saved.forEach((bn) => (bn.momentum = 0.03));
  // no channel may be scaled up beyond the layer's typical scale (a near-constant channel would amplify rounding)
  for (const [k, t] of [...m.stateEntries()].filter(([key]) => key.endsWith('running_var'))) {
    const v = await t.data();
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    m.setTensor(k, tensor(dev, v.map((e) => Math.max(e, mean)), t.shape));
  }
  x.dispose();
  return m;
}

