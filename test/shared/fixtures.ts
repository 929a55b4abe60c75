// Fixture types, tensor upload and the closeness check: pure code (no Node modules), shared by the Node tests
// and the browser test pages. It uses only the engine's public API, so a browser page can take it from the
// library bundle.
import { type Device, type Tensor, tensor } from '../../engine';

export interface FixtureTensor {
  name: string;
  shape: number[];
  data: number[];
  grad?: boolean;
}
export interface FixtureCase {
  name: string;
  op: string;
  attrs: Record<string, unknown>;
  inputs: FixtureTensor[];
  upstream?: { shape: number[]; data: number[] };
  upstreams?: { shape: number[]; data: number[] }[];
  outputs: FixtureTensor[];
  grads?: FixtureTensor[];
}
export interface Fixture {
  generator: string;
  torch: string;
  seed: number;
  cases: FixtureCase[];
}

export const up = (dev: Device, t: { shape: number[]; data: number[] }, requiresGrad = false): Tensor =>
  tensor(dev, t.data, t.shape, { requiresGrad });

export interface Closeness {
  maxAbs: number;
  maxRel: number;
  ok: boolean;
  worst: string;
}

/** |a - e| <= atol + rtol * |e| elementwise; reports the worst element. */
export function closeness(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): Closeness {
  if (actual.length !== expected.length) return { maxAbs: Infinity, maxRel: Infinity, ok: false, worst: `length ${actual.length} vs ${expected.length}` };
  let maxAbs = 0;
  let maxRel = 0;
  let ok = true;
  let worst = '';
  let worstExcess = -Infinity;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const d = Math.abs(a - e);
    if (!(d <= atol + rtol * Math.abs(e))) ok = false;
    const excess = Number.isNaN(d) ? Infinity : d - (atol + rtol * Math.abs(e));
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = `[${i}] got ${a}, expected ${e}`;
    }
    maxAbs = Math.max(maxAbs, Number.isNaN(d) ? Infinity : d);
    maxRel = Math.max(maxRel, d / Math.max(Math.abs(e), 1e-6));
  }
  return { maxAbs, maxRel, ok, worst };
}
