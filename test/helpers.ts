// Shared test utilities: one device per file, fixture loading, and closeness checks that report the worst error.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createDevice } from '../engine/create-device';
import type { Device } from '../engine/device';
import { type Tensor, tensor } from '../engine/tensor';

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

export function loadFixture(name: string): Fixture {
  const path = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as Fixture;
}

let shared: Promise<Device> | null = null;
/** The test file's device (created once per file; files run in separate processes). */
export function testDevice(): Promise<Device> {
  shared ??= createDevice();
  return shared;
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

/** A deterministic PRNG (mulberry32) for test data. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(r: () => number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r()));
  }
  return out;
}
