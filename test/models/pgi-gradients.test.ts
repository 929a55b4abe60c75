// PGI: in training, a loss on the auxiliary head alone must reach the layers the deployed model keeps — through
// the shared backbone (yolov9-t) or through CBLinear into the main backbone (yolov9-c, the reversible branch) —
// while the main head's own layers get nothing from it.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { type Tensor, tensor, tidy } from '../../engine/tensor';
import { add, mul, sum } from '../../engine/ops';
import { createModel, seededRandom } from '../../models';
import { testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

async function gradNorm(t: Tensor | undefined): Promise<number> {
  if (!t?.grad) return 0;
  return Math.sqrt((await t.grad.data()).reduce((s, v) => s + v * v, 0));
}

async function auxOnlyGrads(name: string, size: number, probes: Record<string, string>): Promise<Record<string, number>> {
  const m = createModel(dev, name, { seed: 3 });
  m.train();
  const r = seededRandom(9);
  const x = tensor(dev, Array.from({ length: 3 * size * size }, r), [1, 3, size, size]);
  tidy(dev, () => {
    const out = m.forward(x);
    expect(out.aux).not.toBeNull();
    const terms = out.aux!.levels.map((l) => sum(mul(l, tensor(dev, Array.from({ length: l.size }, () => r() - 0.5), l.shape))));
    terms.reduce((a, b) => add(a, b)).backward();
  });
  const params = new Map([...m.namedParameters()]);
  const res: Record<string, number> = {};
  for (const [label, key] of Object.entries(probes)) {
    expect(params.has(key), key).toBe(true);
    res[label] = await gradNorm(params.get(key));
  }
  x.dispose();
  m.dispose();
  return res;
}

test('yolov9-t: the auxiliary loss trains the shared backbone and the aux neck, not the main head', async () => {
  const g = await auxOnlyGrads('yolov9-t', 64, {
    stem: 'model.0.conv.weight',
    backbone: 'model.8.cv4.conv.weight',
    auxNeck: 'model.28.cv4.conv.weight',
    mainNeck: 'model.21.cv4.conv.weight',
    mainHead: 'model.29.cv4.0.0.conv.weight',
  });
  expect(g.stem).toBeGreaterThan(0);
  expect(g.backbone).toBeGreaterThan(0);
  expect(g.auxNeck).toBeGreaterThan(0);
  expect(g.mainNeck).toBe(0);
  expect(g.mainHead).toBe(0);
});

test('yolov9-c: the reversible branch sends the auxiliary gradient through CBLinear into the main backbone', async () => {
  const g = await auxOnlyGrads('yolov9-c', 64, {
    cblinear: 'model.23.conv.weight',
    mainBackbone: 'model.5.cv4.conv.weight',
    mainStem: 'model.1.conv.weight',
    auxBackbone: 'model.31.cv4.conv.weight',
    mainNeck: 'model.22.cv4.conv.weight',
    mainHead: 'model.38.cv4.0.0.conv.weight',
  });
  expect(g.cblinear).toBeGreaterThan(0);
  expect(g.mainBackbone).toBeGreaterThan(0);
  expect(g.mainStem).toBeGreaterThan(0);
  expect(g.auxBackbone).toBeGreaterThan(0);
  expect(g.mainNeck).toBe(0);
  expect(g.mainHead).toBe(0);
});
