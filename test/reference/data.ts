// Seeded test data for the reference and gradient-check tests. Every value is rounded to float32 so the GPU
// (float32) and the float64 CPU reference see exactly the same inputs.
import type { Device } from '../../engine/device';
import { type Tensor, tensor } from '../../engine/tensor';
import { randn } from '../helpers';
import { type NdArray, nd, numel } from './ops';

export type Rand = () => number;

const f32 = (vs: ArrayLike<number>): Float64Array => Float64Array.from(vs, Math.fround);

/** Standard normal values. */
export const normal = (r: Rand, shape: readonly number[]): NdArray => nd(shape, f32(randn(r, numel(shape))));

/** Uniform values in [lo, hi). */
export const uniform = (r: Rand, shape: readonly number[], lo: number, hi: number): NdArray =>
  nd(shape, f32(Array.from({ length: numel(shape) }, () => lo + (hi - lo) * r())));

/** Normal values at least `gap` away from each of `points` (kinks of relu, abs, clamp...). */
export function awayFrom(r: Rand, shape: readonly number[], points: readonly number[], gap = 0.05): NdArray {
  const vs = randn(r, numel(shape)).map((v) => {
    for (const p of points) if (Math.abs(v - p) < gap) v = p + (v < p ? -gap : gap) * (1 + r());
    return v;
  });
  return nd(shape, f32(vs));
}

/** A random permutation of well-separated values (steps of `step`): no ties for max and max-pooling. */
export function distinct(r: Rand, shape: readonly number[], step = 0.05): NdArray {
  const n = numel(shape);
  const vs = Array.from({ length: n }, (_, i) => (i - n / 2) * step);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [vs[i], vs[j]] = [vs[j], vs[i]];
  }
  return nd(shape, f32(vs));
}

/** Upload a reference array as a float32 tensor. */
export const toGpu = (dev: Device, a: NdArray, requiresGrad = false): Tensor =>
  tensor(dev, Float32Array.from(a.data), a.shape, { requiresGrad });
