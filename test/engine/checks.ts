// The two checks every op's tests are built from: a GPU result against the float64 CPU reference
// (test/reference/ops.ts) with a stated tolerance and no leaked tensor, and a finite-difference gradient check.
import { describe, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { type Tensor, tidy } from '../../engine/tensor';
import * as ops from '../../engine/ops';
import { closeness, rng } from '../helpers';
import * as ref from '../reference/ops';
import type { NdArray } from '../reference/ops';
import { type Rand, normal, toGpu } from '../reference/data';

/** A GPU result, its reference, and optionally the op name to report it under (default: the test's op). */
export type Pair = [Tensor, NdArray] | [Tensor, NdArray, string];

/**
 * Run `build` in a tidy scope, compare every (GPU tensor, reference) pair with |got - want| <= atol + rtol·|want|,
 * record the worst error per op, and check that no tensor leaked.
 */
export async function expectClose(dev: Device, worst: Map<string, number>, op: string, [atol, rtol]: readonly [number, number], build: (r: Rand) => Pair[], seed = 1): Promise<void> {
  const before = dev.memory().liveTensors;
  const reads = tidy(dev, () =>
    build(rng(seed)).map(([t, want, name], i) => {
      expect(t.shape, `${op} output ${i} shape`).toEqual(want.shape);
      return { got: t.data(), want, i, name: name ?? op };
    }),
  );
  for (const { got, want, i, name } of reads) {
    const cl = closeness(await got, want.data, atol, rtol);
    worst.set(name, Math.max(worst.get(name) ?? 0, cl.maxAbs));
    expect(cl.ok, `${name} (output ${i}): max abs err ${cl.maxAbs.toExponential(2)}; worst ${cl.worst}`).toBe(true);
  }
  expect(dev.memory().liveTensors, `${op} leaked tensors`).toBe(before);
}

// GPU gradients are float32 (unit roundoff 6e-8) and sum at most a few hundred O(1) terms, so their error is
// ~1e-6; the finite differences are exact to ~1e-10. atol 1e-4 + rtol 1e-3 leaves a wide margin for that,
// while a wrong index, sign or missing term moves a gradient by O(0.1–1).
const TOL: readonly [number, number] = [1e-4, 1e-3];
const H = 1e-6;

export interface GradCase {
  /** Op name the worst error is reported under. */
  readonly op: string;
  readonly inputs: readonly NdArray[];
  /** Inputs that require grad (default: all). */
  readonly diff?: readonly number[];
  readonly gpu: (xs: Tensor[]) => Tensor | Tensor[];
  readonly cpu: (xs: NdArray[]) => NdArray | NdArray[];
  /** Check this many coordinates per input (first, last and random ones) instead of all: for large shapes. */
  readonly sample?: number;
}

const list = <T,>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Coordinates of an input to differentiate numerically. */
function coords(n: number, sample: number | undefined, r: Rand): number[] {
  if (sample === undefined || sample >= n) return [...Array(n).keys()];
  const s = new Set([0, n - 1]);
  while (s.size < sample) s.add(Math.floor(r() * n));
  return [...s];
}

export async function gradcheck(dev: Device, worst: Map<string, number>, c: GradCase, seed: number): Promise<void> {
  const r = rng(seed);
  const diff = c.diff ?? c.inputs.map((_, i) => i);
  const xs = c.inputs.map((a) => ref.nd(a.shape, a.data)); // private copies, perturbed in place below
  const want = list(c.cpu(xs));
  const weights = want.map((y) => normal(r, y.shape));
  const loss = (): number => list(c.cpu(xs)).reduce((acc, y, i) => acc + ref.dot(y, weights[i]), 0);

  // Analytic: the engine's backward on the GPU.
  const before = dev.memory().liveTensors;
  const reads = tidy(dev, () => {
    const ts = xs.map((a, i) => toGpu(dev, a, diff.includes(i)));
    const ys = list(c.gpu(ts));
    expect(ys.map((y) => y.shape)).toEqual(want.map((y) => y.shape));
    const forward = ys.map((y) => y.data());
    if (ys.length === 1) ys[0].backward(toGpu(dev, weights[0]));
    else ys.map((y, i) => ops.sum(ops.mul(y, toGpu(dev, weights[i])))).reduce((a, b) => ops.add(a, b)).backward();
    const grads = diff.map((i) => {
      const g = ts[i].grad;
      expect(g, `${c.op}: no gradient for input ${i}`).not.toBeNull();
      expect(g!.shape).toEqual(xs[i].shape);
      return g!.data();
    });
    return { forward, grads };
  });
  expect(dev.memory().liveTensors, `${c.op} leaked tensors`).toBe(before);

  // The forward must match too, or the gradient check would be of a different function.
  for (const [i, f] of reads.forward.entries()) {
    const cl = closeness(await f, want[i].data, 1e-4, 1e-4);
    expect(cl.ok, `${c.op} forward output ${i}: ${cl.worst}`).toBe(true);
  }

  // Numerical: central differences of the float64 reference loss.
  for (const [k, i] of diff.entries()) {
    const analytic = await reads.grads[k];
    const at = coords(xs[i].data.length, c.sample, r);
    const numeric = at.map((j) => {
      const v = xs[i].data[j];
      xs[i].data[j] = v + H;
      const lp = loss();
      xs[i].data[j] = v - H;
      const lm = loss();
      xs[i].data[j] = v;
      return (lp - lm) / (2 * H);
    });
    const cl = closeness(at.map((j) => analytic[j]), numeric, ...TOL);
    worst.set(c.op, Math.max(worst.get(c.op) ?? 0, cl.maxAbs));
    expect(cl.ok, `${c.op} d/d(input ${i}): max abs err ${cl.maxAbs.toExponential(2)}; worst ${cl.worst} (coordinate list index)`).toBe(true);
  }
}

/** A seed from a group title, so each group's data do not depend on the other groups or on test order. */
const seedOf = (title: string): number => [...title].reduce((h, ch) => Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0, 2166136261);

/** Register one test per case of a group; the inputs come from one generator seeded by the group title. */
export function gradCases(getDev: () => Device, worst: Map<string, number>, title: string, build: (r: Rand) => GradCase[]): void {
  describe(title, () => {
    const all = build(rng(seedOf(title)));
    all.forEach((c, i) => {
      test(`${c.op} #${i}: ${c.inputs.map((x) => `[${x.shape}]`).join(' ')}`, async () => {
        await gradcheck(getDev(), worst, c, 1000 + i);
      });
    });
  });
}
