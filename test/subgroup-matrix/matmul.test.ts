// Subgroup-matrix (cooperative matrix) path: f16 matmuls and convs on the adapter's matrices against f64 CPU
// products of the same f16-rounded operands. Runs only on an adapter with chromium-experimental-subgroup-matrix
// (scripts/subgroup-matrix-env.sh provides one: Mesa 26 lavapipe); on any other adapter the file fails, never skips.
// Operands are exact in f16 and products are summed in f32, so the error is the f32 accumulation's (K·2^-24 of
// Σ|a·b|) plus one f16 rounding of f16 outputs: tolerance 1e-5 of the row magnitude for f32 out, 2e-3 for f16 out.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { type Tensor, tensor } from '../../engine/tensor';
import * as ops from '../../engine/ops';
import { f16ToF32, f32ToF16 } from '../../engine/half';
import { randn, rng, testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
  if (!dev.subgroupMatrix) throw new Error(`adapter '${dev.adapter.description}' has no usable subgroup matrices: run these tests through scripts/subgroup-matrix-env.sh`);
});
afterAll(() => dev?.dispose());

/** Values rounded to f16 (what the kernel sees). */
const f16round = (xs: number[]): number[] => Array.from(f16ToF32(f32ToF16(xs)));

/** Batched row-major product in f64 with NumPy broadcasting of one leading batch dim. */
function refMatmul(a: number[], b: number[], [ba, M, K]: number[], [bb, , N]: number[]): { c: number[]; mag: number[] } {
  const nb = Math.max(ba, bb);
  const c: number[] = [];
  const mag: number[] = [];
  for (let z = 0; z < nb; z++) {
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        let m = 0;
        for (let k = 0; k < K; k++) {
          const p = a[(ba > 1 ? z : 0) * M * K + i * K + k] * b[(bb > 1 ? z : 0) * K * N + k * N + j];
          s += p;
          m += Math.abs(p);
        }
        c.push(s);
        mag.push(m);
      }
    }
  }
  return { c, mag };
}

describe('subgroup-matrix matmul', () => {
  test('the device picked an f16 shape', () => {
    const s = dev.subgroupMatrix!;
    expect(s.M * s.N * s.K).toBeGreaterThan(0);
    expect(s.subgroupSize).toBeGreaterThan(0);
  });

  const shapes: [number[], number[]][] = [
    [[1, 64, 64], [1, 64, 64]],
    [[1, 37, 53], [1, 53, 29]], // ragged in every dimension
    [[3, 20, 70], [3, 70, 9]], // batched
    [[4, 17, 8], [1, 8, 40]], // B broadcast over the batch
    [[1, 130, 100], [1, 100, 150]], // several tiles and k slices
  ];
  for (const [sa, sb] of shapes) {
    test(`f16 ${sa.join('x')} · ${sb.join('x')}`, async () => {
      const r = rng(sa[1] * 131 + sb[2]);
      const a = f16round(randn(r, sa[0] * sa[1] * sa[2]));
      const b = f16round(randn(r, sb[0] * sb[1] * sb[2]));
      const ta = tensor(dev, a, sa, { dtype: 'f16' });
      const tb = tensor(dev, b, sb, { dtype: 'f16' });
      const tc = ops.matmul(ta, tb);
      const got = await tc.data();
      const { c, mag } = refMatmul(a, b, sa, sb);
      expect(tc.dtype).toBe('f16');
      let worst = 0;
      for (let i = 0; i < c.length; i++) worst = Math.max(worst, Math.abs(got[i] - c[i]) / Math.max(mag[i], 1));
      expect(worst).toBeLessThan(2e-3);
      [ta, tb, tc].forEach((t) => t.dispose());
    });
  }
});
