// The tile search (engine/tile-search.ts): every candidate tiling it may pick computes the same conv / matmul as a
// float64 CPU reference; with the search on, unseen shapes are queued, timed and cached, the cached choice is
// what the op then uses, and the cache saves and reloads only onto the same adapter. Scratch tensors are freed.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDevice } from '../../engine/create-device';
import type { Device } from '../../engine/device';
import { type Tensor, tensor } from '../../engine/tensor';
import { type Conv2dOptions, type FwdTune, conv2d, convForwardTuned, convGeometry } from '../../engine/ops/conv2d';
import { matmul } from '../../engine/ops/matmul';
import * as ref from '../reference/ops';
import { closeness, randn, rng, testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

const pair = (v: number | undefined, d: number): [number, number] => [v ?? d, v ?? d];

interface ConvCase {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  o: { stride?: number; padding?: number; groups?: number };
}
const CONV_CASES: ConvCase[] = [
  { name: '3x3 p1, width 13 (no tile width divides it)', x: [2, 8, 5, 13], w: [16, 8, 3, 3], o: { padding: 1 } },
  { name: '3x3 s2 p1, odd width', x: [1, 8, 9, 19], w: [8, 8, 3, 3], o: { stride: 2, padding: 1 } },
  { name: '3x3 groups 2', x: [1, 8, 6, 10], w: [8, 4, 3, 3], o: { padding: 1, groups: 2 } },
  { name: '3x3 p1, 32 outputs in 2 groups of 16', x: [2, 8, 7, 9], w: [32, 4, 3, 3], o: { padding: 1, groups: 2 } },
  { name: '1x1 (matmul path), 3 images, 37 pixels', x: [3, 24, 1, 37], w: [40, 24, 1, 1], o: {} },
  { name: '1x1 stride 2 (window path)', x: [1, 8, 7, 9], w: [16, 8, 1, 1], o: { stride: 2 } },
];
const FWD_TUNES: Record<string, FwdTune> = {
  'window 4 columns': { columns: 4 },
  'window 8 columns': { columns: 8 },
  'window 12 columns': { columns: 12 },
  'window 4 channels x 8 columns': { outChannels: 4, columns: 8 },
  'window 16 channels x 4 columns (two weight loads per tap)': { outChannels: 16, columns: 4 },
  'window 16 channels x 8 columns': { outChannels: 16, columns: 8 },
  'matmul 4x16': { mm: { TM: 4, TN: 16 } },
  'matmul 2x32': { mm: { TM: 2, TN: 32 } },
  'matmul 4x24': { mm: { TM: 4, TN: 24 } },
  'matmul 8x16, k unrolled by 2': { mm: { TM: 8, TN: 16, KU: 2 } },
  'matmul subgroup lanes 4': { mm: { SG: 4, TM: 4, TN: 16 } },
};

describe('every forward tiling matches the float64 reference', () => {
  for (const c of CONV_CASES) {
    test(c.name, async () => {
      const r = rng(11);
      const xa = ref.nd(c.x, randn(r, c.x.reduce((a, b) => a * b)));
      const wa = ref.nd(c.w, randn(r, c.w.reduce((a, b) => a * b)));
      const o: Conv2dOptions = c.o;
      const want = ref.conv2d(xa, wa, null, { stride: pair(c.o.stride, 1), padding: pair(c.o.padding, 0), groups: c.o.groups ?? 1 });
      const x = tensor(dev, Float32Array.from(xa.data), c.x);
      const w = tensor(dev, Float32Array.from(wa.data), c.w);
      const g = convGeometry(x, w, null, o);
      const failures: string[] = [];
      let ran = 0;
      for (const [name, tune] of Object.entries(FWD_TUNES)) {
        // the matmul tilings apply to dense 1×1 convs on devices with subgroups of ≥ their lane count
        if (tune.mm && (c.w[2] !== 1 || (c.o.stride ?? 1) !== 1 || dev.subgroupMinSize < (tune.mm.SG ?? 8))) continue;
        if (tune.outChannels && (c.w[0] / (c.o.groups ?? 1)) % tune.outChannels !== 0) continue;
        if (tune.outChannels === 16 && dev.subgroupMinSize < 8) continue; // needs 8-lane subgroups
        const y: Tensor = convForwardTuned(x, w, g, tune);
        const cl = closeness(await y.data(), want.data, 1e-4, 1e-5);
        y.dispose();
        ran++;
        if (!cl.ok) failures.push(`${name}: max abs err ${cl.maxAbs.toExponential(2)}; worst ${cl.worst}`);
      }
      x.dispose();
      w.dispose();
      expect(failures).toEqual([]);
      expect(ran).toBeGreaterThanOrEqual(4);
    });
  }
});

describe('tile search', () => {
  test('is off by default: no shape is queued', async () => {
    const x = tensor(dev, new Float32Array(2 * 4 * 6 * 6), [2, 4, 6, 6]);
    const w = tensor(dev, new Float32Array(4 * 4 * 9), [4, 4, 3, 3]);
    conv2d(x, w, null, { padding: 1 }).dispose();
    expect(dev.tiles.pendingCount).toBe(0);
    x.dispose();
    w.dispose();
  });

  test('queues unseen shapes, times every candidate, caches the fastest and uses it; the cache reloads on the same adapter only', async () => {
    const d = await createDevice({ tileSearch: true });
    try {
      const r = rng(5);
      const xa = ref.nd([1, 16, 12, 20], randn(r, 16 * 12 * 20));
      const w3 = ref.nd([16, 16, 3, 3], randn(r, 16 * 16 * 9));
      const w1 = ref.nd([32, 16, 1, 1], randn(r, 32 * 16));
      const am = ref.nd([33, 70], randn(r, 33 * 70));
      const bm = ref.nd([70, 45], randn(r, 70 * 45));
      const x = tensor(d, Float32Array.from(xa.data), xa.shape);
      const t3 = tensor(d, Float32Array.from(w3.data), w3.shape);
      const t1 = tensor(d, Float32Array.from(w1.data), w1.shape);
      const ta = tensor(d, Float32Array.from(am.data), am.shape);
      const tb = tensor(d, Float32Array.from(bm.data), bm.shape);
      const want = [
        ref.conv2d(xa, w3, null, { padding: [1, 1] }).data,
        ref.conv2d(xa, w1, null, {}).data,
        ref.matmul(am, bm).data,
      ];
      const runAll = (): Tensor[] => [conv2d(x, t3, null, { padding: 1 }), conv2d(x, t1), matmul(ta, tb)];
      const before = runAll();
      const subgroups = d.subgroupMinSize >= 4 && !d.compactKernels;
      // the 3×3 window tilings always have candidates; the 1×1 and the matmul have them with subgroups
      const queued = d.tiles.pendingCount;
      expect(queued).toBe(subgroups ? 3 : 1);
      const liveBefore = d.liveTensors;
      const progress: number[] = [];
      const results = await d.tiles.run({ reps: 2, onProgress: (done) => progress.push(done) });
      expect(d.liveTensors).toBe(liveBefore); // scratch inputs freed
      expect(progress).toEqual([...Array(queued).keys()].map((i) => i + 1));
      expect(d.tiles.pendingCount).toBe(0);
      expect(d.tiles.size).toBe(queued);
      for (const res of results) {
        expect(res.ms.length).toBeGreaterThan(1);
        for (const m of res.ms) expect(m.ms).toBeGreaterThan(0);
        const best = Math.min(...res.ms.map((m) => m.ms));
        expect(res.ms.find((m) => m.choice === res.chosen)?.ms).toBe(best);
        console.log(`${res.key}: ${res.ms.map((m) => `${JSON.stringify(m.choice)} ${m.ms.toFixed(2)} ms`).join(', ')} -> ${JSON.stringify(res.chosen)}`);
      }
      // the chosen tilings give the same results, and nothing is queued again
      const after = runAll();
      expect(d.tiles.pendingCount).toBe(0);
      for (let i = 0; i < 3; i++) {
        const a = await before[i].data();
        const b = await after[i].data();
        expect(closeness(b, want[i], 1e-4, 1e-5).ok).toBe(true);
        expect(closeness(a, want[i], 1e-4, 1e-5).ok).toBe(true);
      }
      [...before, ...after, x, t3, t1, ta, tb].forEach((t) => t.dispose());

      // save / reload
      const saved = JSON.parse(JSON.stringify(d.tiles.toJSON())) as ReturnType<typeof d.tiles.toJSON>;
      expect(Object.keys(saved.choices).length).toBe(queued);
      const d2 = await createDevice({ tileSearch: true });
      try {
        d2.tiles.load(saved, 'tiles.json');
        expect(d2.tiles.toJSON()).toEqual(saved);
        // with every shape cached nothing is queued
        const x2 = tensor(d2, Float32Array.from(xa.data), xa.shape);
        const w2 = tensor(d2, Float32Array.from(w3.data), w3.shape);
        conv2d(x2, w2, null, { padding: 1 }).dispose();
        expect(d2.tiles.pendingCount).toBe(0);
        [x2, w2].forEach((t) => t.dispose());
        expect(() => d2.tiles.load({ ...saved, adapter: 'some other GPU' }, 'tiles.json')).toThrow(/tiles\.json: measured on 'some other GPU', this device is/);
        expect(() => d2.tiles.load(JSON.parse('{"choices": 3}'), 'tiles.json')).toThrow(/tiles\.json: not a tile cache/);
      } finally {
        d2.dispose();
      }
    } finally {
      d.dispose();
    }
  });
});
