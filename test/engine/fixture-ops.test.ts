// Every op's forward and input gradients against PyTorch (float64 reference computed from float32 inputs;
// fixtures from test/fixtures/gen/ops.py). Tolerances: float32 kernels accumulate rounding ~1e-7 relative per
// term; the per-group atol/rtol (test/shared/op-cases.ts) allow for reductions of up to a few hundred terms.
// test/browser runs the same cases with the same tolerances in Chromium.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { TOL, runOpCase } from '../shared/op-cases';
import { loadFixture, testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

/** Worst errors per op, printed for the closing report. */
const worst = new Map<string, number>();

// conv2d's fixtures run with the rest of conv2d's checks in test/engine/conv2d.test.ts
for (const file of Object.keys(TOL).filter((f) => f !== 'conv2d.json')) {
  const fx = loadFixture(`ops/${file}`);
  describe(`${file} (torch ${fx.torch}, seed ${fx.seed})`, () => {
    for (const c of fx.cases) {
      test(c.name, async () => {
        const [atol, rtol] = TOL[file];
        await runOpCase(dev, c, atol, rtol, expect, worst);
      });
    }
  });
}

afterAll(() => {
  const rows = [...worst.entries()].map(([op, e]) => `${op}: ${e.toExponential(2)}`);
  console.log(`max abs error vs PyTorch per op: ${rows.join(', ')}`);
});
