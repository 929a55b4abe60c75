// Reading views back: data() of a strided view gathers the storage span it covers on the CPU (no kernel), so it
// must equal the view's elements in row-major order, computed here independently from the host data.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { tensor } from '../../engine/tensor';
import { expand, permute, slice, transpose } from '../../engine/ops/layout';
import { testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

/** Host [2, 3, 4] with element (i, j, k) = 100i + 10j + k. */
const host = Float32Array.from({ length: 24 }, (_, n) => 100 * Math.floor(n / 12) + 10 * (Math.floor(n / 4) % 3) + (n % 4));

test('permuted, transposed, sliced and expanded views read back in row-major order', async () => {
  const t = tensor(dev, host, [2, 3, 4]);
  const p = permute(t, [2, 0, 1]); // (k, i, j)
  const want = [];
  for (let k = 0; k < 4; k++) for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) want.push(100 * i + 10 * j + k);
  expect(Array.from(await p.data())).toEqual(want);
  const tr = transpose(t, 1, 2); // (i, k, j)
  const want2 = [];
  for (let i = 0; i < 2; i++) for (let k = 0; k < 4; k++) for (let j = 0; j < 3; j++) want2.push(100 * i + 10 * j + k);
  expect(Array.from(await tr.data())).toEqual(want2);
  const s = slice(t, 2, 1, 3); // k in [1, 3): offset 1, strides (12, 4, 1)
  const want3 = [];
  for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let k = 1; k < 3; k++) want3.push(100 * i + 10 * j + k);
  expect(Array.from(await s.data())).toEqual(want3);
  const row = slice(slice(t, 0, 1, 2), 1, 2, 3); // element (1, 2, :) as [1, 1, 4]
  const e = expand(row, [3, 2, 4]); // stride-0 dims
  expect(Array.from(await e.data())).toEqual(Array.from({ length: 24 }, (_, n) => 120 + (n % 4)));
  [t, p, tr, s, row, e].forEach((x) => x.dispose());
});

test('an f16 view reads back widened', async (ctx) => {
  if (!dev.features.f16) {
    console.log('skipped: this adapter has no shader-f16');
    ctx.skip();
  }
  const t = tensor(dev, host, [2, 3, 4], { dtype: 'f16' });
  const tr = transpose(t, 0, 2); // (k, j, i)
  const want = [];
  for (let k = 0; k < 4; k++) for (let j = 0; j < 3; j++) for (let i = 0; i < 2; i++) want.push(100 * i + 10 * j + k);
  expect(Array.from(await tr.data())).toEqual(want);
  [t, tr].forEach((x) => x.dispose());
});
