// Fine-tuning transfer (models/transfer.ts): the official yolov9-t / gelan-t checkpoints (nc 80, made by the
// official training code: test/fixtures/gen/yolov9_models.py) into models of another class count and into their
// counterpart (gelan ↔ yolov9, checked against the official conversion's state dict), the error when nothing
// matches, and a few fine-tuning steps from trained weights with another class count.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { readSafetensors } from '../../models/io/safetensors';
import { type HostTensor, toFloat32 } from '../../models/io/dtypes';
import { type DetectionModel, builtinConfig, createModel, readWeightFile, transferWeights } from '../../models';
import { SHAPE_NAMES, shapesDataset } from '../../training/data/shapes';
import type { DetectionDataset } from '../../training/data/dataset';
import { DataLoader } from '../../training/data/loader';
import { Trainer } from '../../training/trainer';
import { demoHyp } from '../../training/presets/demo';
import { testDevice } from '../helpers';

const FX = (f: string): string => fileURLToPath(new URL(`../fixtures/${f}`, import.meta.url));
const weights = (f: string) => readWeightFile(new Uint8Array(readFileSync(FX(f))), f);

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

/** Every named model tensor equals `want` exactly (copies of the same fp16-rounded values). */
async function expectEqual(model: DetectionModel, want: (key: string) => HostTensor | undefined, keys: readonly string[]): Promise<void> {
  const entries = new Map([...model.stateEntries()].map(([k, t]) => [k, t] as const));
  for (const k of keys) {
    const w = want(k);
    expect(w, `source of ${k}`).toBeDefined();
    const got = await entries.get(k)!.data();
    const ref = toFloat32(w!);
    const bad = got.findIndex((v, i) => v !== ref[i]);
    expect(bad, `${k}[${bad}]: ${got[bad]} vs ${ref[bad]}`).toBe(-1);
  }
}

test('official yolov9-t (nc 80) into yolov9-t for the shapes classes: everything but the class branch transfers', async () => {
  const w = weights('yolov9/yolov9-t.pt');
  const model = createModel(dev, 'yolov9-t', { nc: SHAPE_NAMES.length, seed: 3 });
  const fresh = createModel(dev, 'yolov9-t', { nc: SHAPE_NAMES.length, seed: 3 });
  const r = transferWeights(model, w.tensors, 'yolov9-t.pt', { sourceConfig: w.config });
  console.log(r.line);
  expect(r.mapping).toBe('name');
  expect(r.total).toBe([...model.stateEntries()].length);
  expect(r.line).toMatch(new RegExp(`^transferred ${r.transferred}/${r.total} tensors from yolov9-t\\.pt`));
  // c_cls = max(ch0, min(2·nc, 128)) is 128 for 80 classes, 64 for 6: the whole class branch (cv3 aux, cv5 main)
  // changes shape; the box branches, DFL and every other layer keep theirs
  const keys = [...model.stateEntries()].map(([k]) => k);
  const cls = keys.filter((k) => /^model\.29\.cv[35]\./.test(k));
  expect(new Set(r.shapeMismatch)).toEqual(new Set(cls));
  expect(r.transferred).toBe(r.total - cls.length);
  expect(r.leftOut).toEqual(['model.29.cv3', 'model.29.cv5']);
  await expectEqual(model, (k) => w.tensors.get(k), keys.filter((k) => !cls.includes(k)));
  // the left-out tensors keep the initialisation of a model built with the same seed
  const init = new Map<string, HostTensor>();
  for (const [k, t] of fresh.stateEntries()) if (cls.includes(k)) init.set(k, { dtype: 'F32', shape: [...t.shape], data: await t.data() });
  await expectEqual(model, (k) => init.get(k), cls);
  model.dispose();
  fresh.dispose();
}, 120_000);

test('gelan-t weights into yolov9-t and yolov9-t weights into gelan-t go through the auxiliary-branch mapping', async () => {
  // yolov9 → gelan: the result equals the official conversion (tools/reparameterization.ipynb) tensor by tensor
  const dualW = weights('yolov9/yolov9-t.pt');
  const converted = readSafetensors(new Uint8Array(readFileSync(FX('yolov9/yolov9-t-converted.safetensors'))), 'converted').tensors;
  const gelan = createModel(dev, 'gelan-t', { seed: 1 });
  const r1 = transferWeights(gelan, dualW.tensors, 'yolov9-t.pt', { sourceConfig: dualW.config });
  console.log(r1.line);
  expect(r1.mapping).toBe('yolov9→gelan');
  expect([r1.transferred, r1.leftOut]).toEqual([r1.total, []]);
  await expectEqual(gelan, (k) => converted.get(k), [...gelan.stateEntries()].map(([k]) => k));
  // plain names (what intersect_dicts does) would miss the head: model.22 is SPPELAN in yolov9-t
  const byName = createModel(dev, 'gelan-t', { seed: 1 });
  const r0 = transferWeights(byName, dualW.tensors, 'yolov9-t.pt');
  expect(r0.mapping).toBe('name');
  expect(r0.leftOut).toEqual(['model.22']);
  byName.dispose();
  gelan.dispose();

  // gelan → yolov9: the main branch and main head half transfer; the auxiliary neck (22–28) and head half
  // (cv2, cv3, dfl) keep their initialisation
  const gelanW = weights('yolov9/gelan-t.pt');
  const dual = createModel(dev, 'yolov9-t', { seed: 1 });
  const r2 = transferWeights(dual, gelanW.tensors, 'gelan-t.pt', { sourceConfig: gelanW.config });
  console.log(r2.line);
  expect(r2.mapping).toBe('gelan→yolov9');
  expect(r2.leftOut).toEqual(['model.22', 'model.25', 'model.28', 'model.29.cv2', 'model.29.cv3', 'model.29.dfl']);
  const main = [...dual.stateEntries()].map(([k]) => k).filter((k) => !/^model\.2[2-8]\./.test(k) && !/^model\.29\.(cv2|cv3|dfl)\./.test(k));
  expect(r2.transferred).toBe(main.length);
  const head = (k: string): string => k.replace(/^model\.29\.cv4\./, 'model.22.cv2.').replace(/^model\.29\.cv5\./, 'model.22.cv3.').replace(/^model\.29\.dfl2\./, 'model.22.dfl.');
  await expectEqual(dual, (k) => gelanW.tensors.get(head(k)), main);
  dual.dispose();
}, 120_000);

test('weights with nothing in common are a clear error', () => {
  const model = createModel(dev, 'gelan-shapes', { nc: 3 });
  const junk = new Map<string, HostTensor>([['encoder.layer0.weight', { dtype: 'F32', shape: [2], data: new Float32Array(2) }]]);
  expect(() => transferWeights(model, junk, 'bert.safetensors')).toThrow(/bert\.safetensors: no tensor matches .*gelan-shapes.* by name and shape \(the file has 1 tensors, e\.g\. encoder\.layer0\.weight; the model expects e\.g\. model\.0\.conv\.weight/);
  model.dispose();
});

/** The shapes data relabelled to three classes (two shapes per class): a dataset with another class count. */
function threeClasses(ds: DetectionDataset): DetectionDataset {
  const remap = <T extends { cls: Int32Array }>(l: T): T => ({ ...l, cls: l.cls.map((c) => c % 3) });
  return {
    names: ['a', 'b', 'c'],
    length: ds.length,
    path: (i) => ds.path(i),
    labels: async (i) => remap(await ds.labels(i)),
    load: async (i) => {
      const x = await ds.load(i);
      return { image: x.image, labels: remap(x.labels) };
    },
    imageSize: (i) => ds.imageSize(i),
  };
}

test('fine-tuning from trained weights with another class count: backbone equals the source, head is new, loss falls', async () => {
  const IMGSZ = 64;
  const w = weights('demo/gelan-shapes.safetensors');
  expect(w.config!.nc).toBe(6);
  const data = shapesDataset({ seed: 7, train: 16, val: 8, imgsz: IMGSZ });
  const model = createModel(dev, builtinConfig('gelan-shapes', { nc: 3 }), { seed: 2 });
  const r = transferWeights(model, w.tensors, 'gelan-shapes.safetensors', { sourceConfig: w.config });
  console.log(r.line);
  const keys = [...model.stateEntries()].map(([k]) => k);
  const head = model.rows.length - 1;
  const backbone = keys.filter((k) => Number(/^model\.(\d+)\./.exec(k)![1]) < head);
  await expectEqual(model, (k) => w.tensors.get(k), backbone);
  // only the class convs' last 1×1 (nc outputs) differs in shape: c_cls = max(ch0, min(2·nc, 128)) is ch0 for both
  expect(r.leftOut).toEqual([0, 1, 2].map((l) => `model.${head}.cv3.${l}.2`));
  expect(r.shapeMismatch).toEqual(keys.filter((k) => new RegExp(`^model\\.${head}\\.cv3\\.\\d\\.2\\.`).test(k)));
  expect(r.transferred).toBe(r.total - 6);

  const train = new DataLoader(threeClasses(data.train), { imgsz: IMGSZ, batchSize: 8, augment: false, seed: 1 });
  const trainer = new Trainer(model, train, null, { epochs: 5, hyp: demoHyp(), optimizer: 'AdamW', nominalBatch: 8, minWarmupIters: 2, closeMosaic: 0 });
  const losses: number[] = [];
  trainer.onStep((e) => void losses.push(e.items.reduce((a, b) => a + b, 0)));
  await trainer.run();
  console.log(`fine-tuning loss per step: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
  // two batches per epoch (no augmentation): the last epoch's pair against the first's
  expect(losses.length).toBe(10);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  expect(mean(losses.slice(-2))).toBeLessThan(0.85 * mean(losses.slice(0, 2)));
  trainer.dispose();
  model.dispose();
}, 300_000);
