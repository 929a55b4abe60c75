// Whole models against the official implementation: parameter counts and FLOPs of all ten configs, the official
// fp16 checkpoints of gelan-t and yolov9-t (made by the official training code) loaded from their `.pt` files,
// eval and train outputs at 320×320, fusion, and removal of the auxiliary branch vs the official conversion.
// Fixtures: test/fixtures/gen/yolov9_models.py.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { type Tensor, noGrad, tensor, tidy } from '../../engine/tensor';
import { readSafetensors } from '../../models/io/safetensors';
import { type HostTensor, toFloat32 } from '../../models/io/dtypes';
import { OFFICIAL_CONFIGS, builtinConfig, createModel, fuseModel, loadStateDict, readWeightFile, removeAuxBranch, DetectionModel, seededRandom } from '../../models';
import { closeness, testDevice } from '../helpers';

const FX = (f: string): string => fileURLToPath(new URL(`../fixtures/yolov9/${f}`, import.meta.url));
const bytes = (f: string): Uint8Array => new Uint8Array(readFileSync(FX(f)));

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

interface Counts {
  params_unfused: number;
  params_fused: number;
  gflops_640_fused: number;
}
const counts = JSON.parse(readFileSync(FX('param-counts.json'), 'utf8')) as { models: Record<string, Counts> };

describe('parameter counts and FLOPs equal the official ones (nc = 80)', () => {
  for (const name of Object.keys(OFFICIAL_CONFIGS)) {
    test(name, async () => {
      const want = counts.models[name];
      const m = createModel(dev, name);
      expect(m.numParameters()).toBe(want.params_unfused);
      // the official GFLOPs hook counts every conv of the fused model at 640; ours is analytic
      expect(Math.abs(m.gflops(640) - want.gflops_640_fused) / want.gflops_640_fused).toBeLessThan(2e-3);
      fuseModel(m);
      expect(m.numParameters()).toBe(want.params_fused);
      m.dispose();
      await dev.sync();
      dev.trim();
    });
  }
});

/** Float32 through ~60 layers vs float64 PyTorch: boxes are in pixels (0–320), scores in [0, 1]. */
const ATOL = 2e-3;
const RTOL = 1e-4;
const expectClose = (got: Float32Array, want: HostTensor, what: string): number => {
  const c = closeness(got, toFloat32(want), ATOL, RTOL);
  expect(c.ok, `${what}: max abs err ${c.maxAbs.toExponential(2)}; ${c.worst}`).toBe(true);
  return c.maxAbs;
};

function loadOfficial(file: string): DetectionModel {
  const w = readWeightFile(bytes(file), file);
  expect(w.format).toBe('torch');
  const m = new DetectionModel(dev, w.config!, seededRandom(1));
  loadStateDict(m, w.tensors, file);
  return m;
}

async function evalOutputs(m: DetectionModel, x: Tensor): Promise<{ y: Float32Array; levels: Float32Array[]; yAux: Float32Array | null; aux: Float32Array[] }> {
  m.eval();
  const r = noGrad(dev, () => tidy(dev, () => {
    const o = m.forward(x);
    return { y: o.main.y!.data(), levels: o.main.levels.map((t) => t.data()), yAux: o.aux?.y?.data() ?? null, aux: o.aux?.levels.map((t) => t.data()) ?? [] };
  }));
  return { y: await r.y, levels: await Promise.all(r.levels), yAux: r.yAux ? await r.yAux : null, aux: await Promise.all(r.aux) };
}

async function trainLevels(m: DetectionModel, x: Tensor): Promise<{ main: Float32Array[]; aux: Float32Array[] }> {
  m.train();
  const r = noGrad(dev, () => tidy(dev, () => {
    const o = m.forward(x);
    return { main: o.main.levels.map((t) => t.data()), aux: o.aux?.levels.map((t) => t.data()) ?? [] };
  }));
  return { main: await Promise.all(r.main), aux: await Promise.all(r.aux) };
}

describe('official checkpoints (fp16 .pt from the official code)', () => {
  test('gelan-t: the .pt loads (config from its embedded yaml) and eval/train outputs match', async () => {
    const fx = readSafetensors(bytes('gelan-t-320.safetensors'), 'gelan-t-320').tensors;
    const m = loadOfficial('gelan-t.pt');
    expect(m.rows.map((r) => r.module)).toEqual(builtinConfig('gelan-t').rows.map((r) => r.module));
    const x = tensor(dev, toFloat32(fx.get('input')!), [1, 3, 320, 320]);
    const e = await evalOutputs(m, x);
    const err = expectClose(e.y, fx.get('f64.eval.y')!, 'eval.y');
    e.levels.forEach((l, i) => expectClose(l, fx.get(`eval.level.${i}`)!, `eval.level.${i}`));
    const t = await trainLevels(m, x);
    t.main.forEach((l, i) => expectClose(l, fx.get(`train.level.${i}`)!, `train.level.${i}`));
    console.log(`gelan-t eval.y max abs err vs float64 official: ${err.toExponential(2)}`);
    x.dispose();
    m.dispose();
  });

  test('yolov9-t: main and auxiliary branches match in eval and train mode', async () => {
    const fx = readSafetensors(bytes('yolov9-t-320.safetensors'), 'yolov9-t-320').tensors;
    const m = loadOfficial('yolov9-t.pt');
    expect(m.isDual).toBe(true);
    const x = tensor(dev, toFloat32(fx.get('input')!), [1, 3, 320, 320]);
    const e = await evalOutputs(m, x);
    expectClose(e.y, fx.get('f64.eval.y_main')!, 'eval.y_main');
    expectClose(e.yAux!, fx.get('f64.eval.y_aux')!, 'eval.y_aux');
    e.levels.forEach((l, i) => expectClose(l, fx.get(`eval.main.${i}`)!, `eval.main.${i}`));
    e.aux.forEach((l, i) => expectClose(l, fx.get(`eval.aux.${i}`)!, `eval.aux.${i}`));
    const t = await trainLevels(m, x);
    t.main.forEach((l, i) => expectClose(l, fx.get(`train.main.${i}`)!, `train.main.${i}`));
    t.aux.forEach((l, i) => expectClose(l, fx.get(`train.aux.${i}`)!, `train.aux.${i}`));
    x.dispose();
    m.dispose();
  });

  test('removing the auxiliary branch reproduces the official conversion and the main-branch output', async () => {
    const fx = readSafetensors(bytes('yolov9-t-320.safetensors'), 'yolov9-t-320').tensors;
    const conv = readSafetensors(bytes('yolov9-t-converted.safetensors'), 'yolov9-t-converted').tensors;
    const dual = loadOfficial('yolov9-t.pt');
    const x = tensor(dev, toFloat32(fx.get('input')!), [1, 3, 320, 320]);
    const dualOut = await evalOutputs(dual, x);
    const gelan = removeAuxBranch(dual, builtinConfig('gelan-t'));
    // every tensor equals the official converted state dict exactly (a copy of the same fp16-rounded values)
    for (const [k, t] of gelan.stateEntries()) {
      const got = await t.data();
      const want = toFloat32(conv.get(k)!);
      const bad = got.findIndex((v, i) => v !== want[i]);
      expect(bad, `${k}[${bad}]: ${got[bad]} vs ${want[bad]}`).toBe(-1);
    }
    const g = await evalOutputs(gelan, x);
    const rel = closeness(g.y, dualOut.y, 0, 1e-4);
    expect(rel.ok, `converted vs main branch: ${rel.worst}`).toBe(true);
    expectClose(g.y, conv.get('eval.y')!, 'converted eval.y vs official converted model');
    [x].forEach((t) => t.dispose());
    dual.dispose();
    gelan.dispose();
  });

  test('fused model (one conv+bias+SiLU kernel per conv) equals the unfused one', async () => {
    const fx = readSafetensors(bytes('gelan-t-320.safetensors'), 'gelan-t-320').tensors;
    const m = loadOfficial('gelan-t.pt');
    const x = tensor(dev, toFloat32(fx.get('input')!), [1, 3, 320, 320]);
    const before = await evalOutputs(m, x);
    fuseModel(m);
    const after = await evalOutputs(m, x);
    const c = closeness(after.y, before.y, 1e-3, 1e-4);
    expect(c.ok, c.worst).toBe(true);
    expectClose(after.y, fx.get('f64.eval.y')!, 'fused eval.y vs official');
    x.dispose();
    m.dispose();
  });
});

describe('checkpoint errors', () => {
  test('a checkpoint of another config names the key and both shapes', () => {
    const w = readWeightFile(bytes('gelan-t.pt'), 'gelan-t.pt');
    const m = createModel(dev, 'gelan-s');
    expect(() => loadStateDict(m, w.tensors, 'gelan-t.pt')).toThrow(/^gelan-t\.pt: model\.0\.conv\.weight has shape \[16, 3, 3, 3\] but builtin:gelan-s expects \[32, 3, 3, 3\]/);
    m.dispose();
    const d = createModel(dev, 'yolov9-t');
    expect(() => loadStateDict(d, w.tensors, 'gelan-t.pt')).toThrow(/^gelan-t\.pt does not fit builtin:yolov9-t: missing model\.22\.cv1\.conv\.weight/);
    d.dispose();
  });

  test('truncated and non-checkpoint files are rejected with the file name', () => {
    const b = bytes('gelan-t.pt');
    expect(() => readWeightFile(b.subarray(0, b.length >> 1), 'cut.pt')).toThrow(/^cut\.pt: /);
    expect(() => readWeightFile(new TextEncoder().encode('hello world, not a model'), 'notes.pt')).toThrow(/^notes\.pt: not a PyTorch zip checkpoint/);
    expect(() => readWeightFile(new Uint8Array([1, 2, 3]), 'tiny.safetensors')).toThrow(/^tiny\.safetensors: /);
  });
});
