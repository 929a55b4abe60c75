// Seeded randomness for the data pipeline. Every augmentation takes an `Rng` (a function returning a float in
// [0, 1)), so a run is reproducible from one seed and independent of the order in which samples are loaded:
// the loader derives a fresh stream per (seed, epoch, sample) with `deriveSeed`.

/** A source of uniform floats in [0, 1). */
export type Rng = () => number;

/** mulberry32 (engine/random.ts): the project's one seeded generator. */
export { mulberry32 } from '../../engine/random';

/** Mixes integers into one 32-bit seed (murmur3 finaliser per part), so nearby inputs give unrelated streams. */
export function deriveSeed(...parts: number[]): number {
  let h = 0x9e3779b9;
  for (const p of parts) {
    let k = Math.imul((p | 0) ^ Math.floor(p / 4294967296), 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64;
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** U(lo, hi), like Python's `random.uniform`. */
export const uniform = (rng: Rng, lo: number, hi: number): number => lo + (hi - lo) * rng();

/** An integer in [lo, hi] inclusive, like Python's `random.randint`. */
export const randint = (rng: Rng, lo: number, hi: number): number => lo + Math.floor(rng() * (hi - lo + 1));

/** Fisher–Yates shuffle in place; returns the array. */
export function shuffle<T>(rng: Rng, xs: T[]): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = xs[i];
    xs[i] = xs[j];
    xs[j] = t;
  }
  return xs;
}

/** A random permutation of 0..n-1. */
export const permutation = (rng: Rng, n: number): number[] => shuffle(rng, Array.from({ length: n }, (_, i) => i));

/** Standard normal (Box–Muller). */
export function normal(rng: Rng): number {
  const u = Math.max(rng(), 1e-300);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
}

/** Gamma(shape, 1) by Marsaglia–Tsang (shape >= 1; boosted for shape < 1). */
export function gamma(rng: Rng, shape: number): number {
  if (shape < 1) return gamma(rng, shape + 1) * Math.pow(Math.max(rng(), 1e-300), 1 / shape);
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = rng();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(Math.max(u, 1e-300)) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/** Beta(a, b) from two gammas (mixup uses Beta(32, 32), as `np.random.beta(32.0, 32.0)`). */
export function beta(rng: Rng, a: number, b: number): number {
  const x = gamma(rng, a);
  const y = gamma(rng, b);
  return x / (x + y);
}
