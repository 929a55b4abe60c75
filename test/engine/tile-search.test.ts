// The tile search (engine/tile-search.ts): with the search on, unseen shapes are queued, timed and cached, the
// cached choice is what the op then uses (and computes what the float64 reference does), and the cache saves and
// reloads only onto the same adapter. Scratch tensors are freed. Every conv tiling it may pick is checked in
// test/engine/conv2d.test.ts.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDevice } from '../../engine/create-device';
import type { Device } from '../../engine/device';
import { type Tensor, tensor } from '../../engine/tensor';
import { conv2d } from '../../engine/ops/conv2d';
import { matmul } from '../../engine/ops/matmul';
import * as ref from '../reference/ops';
import { closeness, randn, rng, testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

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
