// Shared Node test utilities: one device per file, fixture loading, test data; closeness checks come from shared/.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createDevice } from '../engine/create-device';
import { mulberry32 } from '../engine/random';
import type { Device } from '../engine/device';
import type { Fixture } from './shared/fixtures';

// Fixture types, upload and closeness live in test/shared/ (pure code, also run in the browser tests).
export { type Closeness, type Fixture, type FixtureCase, type FixtureTensor, closeness, up } from './shared/fixtures';

export function loadFixture(name: string): Fixture {
  const path = fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as Fixture;
}

let shared: Promise<Device> | null = null;
/** The test file's device (created once per file; files run in separate processes). */
export function testDevice(): Promise<Device> {
  // the subgroup-matrix suite (test/subgroup-matrix/vitest.config.ts) runs f16 suites with the matrices forced on
  shared ??= createDevice(process.env.GELAN_TEST_SUBGROUP_MATRIX ? { subgroupMatrix: true } : {});
  return shared;
}

/** A deterministic PRNG (mulberry32) for test data. */
export const rng = mulberry32;

export function randn(r: () => number, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r()));
  }
  return out;
}
