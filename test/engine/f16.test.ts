// f16 storage plumbing: upload, read-back and cast kernels on devices with shader-f16. Expected values are
// IEEE half facts (nearest-even rounding, 65504 max, subnormals), not our own output.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { tensor, tidy } from '../../engine/tensor';
import { cast, matmul, mul, sum } from '../../engine/ops';
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

test('f16 matmul and its gradients match float64 on the f16 operands (subgroup matrices or widened to f32)', async () => {
  if (!dev.features.f16) {
    console.log('skipped: this adapter has no shader-f16');
    return;
  }
  // [2, 5, 19] · [19, 7] with B broadcast over the batch; operands exactly representable in f16 (k/64 for small k)
  const [B, M, K, N] = [2, 5, 19, 7];
  const av = Array.from({ length: B * M * K }, (_, i) => (((i * 37) % 29) - 14) / 64);
  const bv = Array.from({ length: K * N }, (_, i) => (((i * 11) % 23) - 11) / 64);
  const [c, ga, gb] = await Promise.all(
    tidy(dev, () => {
      const a = tensor(dev, av, [B, M, K], { dtype: 'f16', requiresGrad: true });
      const b = tensor(dev, bv, [K, N], { dtype: 'f16', requiresGrad: true });
      const y = matmul(a, b);
      expect(y.dtype).toBe('f16');
      // loss = Σ y²/2 in f32: dL/dy = y, dA = y·Bᵀ, dB = Σ_batch Aᵀ·y
      sum(mul(cast(y, 'f32'), cast(y, 'f32'))).backward();
      return [y.data(), a.grad!.data(), b.grad!.data()];
    }),
  );
  const y = new Float64Array(B * M * N);
  for (let z = 0; z < B; z++) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += av[(z * M + i) * K + k] * bv[k * N + j];
    y[(z * M + i) * N + j] = s;
  }
  // y is rounded to f16 on output (≤ 2^-11 relative); gradients are sums of f16 products: 4·2^-11 of their scale
  const yh = f16ToF32(f32ToF16(Array.from(y)));
  const close = (got: Float32Array, want: ArrayLike<number>, rel: number): void => {
    const scale = Math.max(...Array.from(want, Math.abs));
    for (let i = 0; i < got.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(rel * scale);
  };
  close(c, y, 2 ** -11);
  const gaRef = new Float64Array(B * M * K);
  const gbRef = new Float64Array(K * N);
  for (let z = 0; z < B; z++) for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) {
    const g = 2 * yh[(z * M + i) * N + j];
    for (let k = 0; k < K; k++) {
      gaRef[(z * M + i) * K + k] += g * bv[k * N + j];
      gbRef[k * N + j] += g * av[(z * M + i) * K + k];
    }
  }
  close(ga, gaRef, 4 * 2 ** -11);
  close(gb, gbRef, 4 * 2 ** -11);
});
