// f16 storage plumbing: upload, read-back and cast kernels on devices with shader-f16. Expected values are
// IEEE half facts (nearest-even rounding, 65504 max, subnormals), not our own output.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { tensor, tidy } from '../../engine/tensor';
import { cast, mul, sum } from '../../engine/ops';
import { f16ToF32, f32ToF16 } from '../../engine/half';
import { testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

const VALUES = [0, 1, -2.5, 1 / 3, 65504, 70000, 1e-8, 6.103515625e-5, 5.960464477539063e-8, 2049, -0];
const HALF = [0, 1, -2.5, 0.333251953125, 65504, Infinity, 0, 6.103515625e-5, 5.960464477539063e-8, 2048, -0];

test('host conversion follows IEEE half rounding', () => {
  expect(Array.from(f16ToF32(f32ToF16(VALUES)))).toEqual(HALF);
  expect(Array.from(f32ToF16([1, 65504, NaN]))).toEqual([0x3c00, 0x7bff, 0x7e00]);
});

test('f16 tensors upload and read back; cast f32 <-> f16 on the GPU rounds like IEEE half', async () => {
  if (!dev.features.f16) {
    console.log('skipped: this adapter has no shader-f16');
    return;
  }
  const [direct, viaCast] = tidy(dev, () => {
    const h = tensor(dev, VALUES, [VALUES.length], { dtype: 'f16' });
    expect(h.dtype).toBe('f16');
    const back = cast(cast(tensor(dev, VALUES, [VALUES.length]), 'f16'), 'f32');
    return [h.data(), back.data()];
  });
  expect(Array.from(await direct)).toEqual(HALF);
  // GPU f32->f16 conversion may flush or round differently only at overflow; finite values must match exactly
  const got = Array.from(await viaCast);
  HALF.forEach((v, i) => {
    if (Number.isFinite(v)) expect(got[i], `value ${VALUES[i]}`).toBe(v);
    else expect(Math.abs(got[i])).toBeGreaterThanOrEqual(65504);
  });
});

test('gradients flow through cast (mixed-precision plumbing)', async () => {
  if (!dev.features.f16) {
    console.log('skipped: this adapter has no shader-f16');
    return;
  }
  const x = tensor(dev, [0.5, 1.5, -3], [3], { requiresGrad: true });
  tidy(dev, () => {
    const y = cast(cast(x, 'f16'), 'f32');
    sum(mul(y, tensor(dev, [1, 2, 3], [3]))).backward();
  });
  expect(Array.from(await x.grad!.data())).toEqual([1, 2, 3]);
  expect(x.grad!.dtype).toBe('f32');
  x.dispose();
});
