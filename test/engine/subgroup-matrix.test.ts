// Runs the subgroup-matrix suite (test/subgroup-matrix/vitest.config.ts) on an adapter with subgroup matrices:
// this machine's own when it has them, else the Mesa 26 lavapipe root of scripts/subgroup-matrix-env.sh (built by
// `GELAN_SGMAT_ENV=1 npm run setup` as root; CI does so). Without either it is skipped with the reason printed,
// except under CI, where the set-up must have provided one and its absence fails.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { testDevice } from '../helpers';

const repo = fileURLToPath(new URL('../..', import.meta.url));
const env = join(repo, 'scripts/subgroup-matrix-env.sh');
const vitest = ['node', 'node_modules/vitest/vitest.mjs', 'run', '-c', 'test/subgroup-matrix/vitest.config.ts', '--reporter=default', '--reporter=json'];

/** Tests the suite must hold at least (so that a file silently dropped from it fails). */
const MIN_TESTS = 32;

// where the suite can run: this adapter, the root, or nowhere (then skipped with the reason, failing under CI)
const dev: Device = await testDevice();
const adapter = dev.adapter.description;
const where: 'here' | 'root' | null = dev.subgroupMatrixOffered ? 'here' : process.platform === 'linux' && spawnSync('bash', [env, 'check']).status === 0 ? 'root' : null;
dev.dispose();
const why = `this adapter ('${adapter}') has no subgroup matrices and ${env} has no root (opt-in: GELAN_SGMAT_ENV=1 npm run setup, as root)`;
const skip = !where && !process.env.CI;
if (skip) console.warn(`skipping the subgroup-matrix suite: ${why}`);

test.skipIf(skip)('subgroup-matrix suite passes on an adapter with subgroup matrices', () => {
  // under CI the set-up must have provided an adapter or the root
  if (!where) throw new Error(why);
  // the report goes to a directory inside the checkout: the root sees the checkout at the same path
  const dir = mkdtempSync(join(where === 'root' ? repo : tmpdir(), '.sgmat-report-'));
  const report = join(dir, 'report.json');
  try {
    const args = [...vitest, `--outputFile.json=${report}`];
    // a clean environment: the suite is a vitest run of its own, not a worker of this one
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS'));
    const r = where === 'here'
      ? spawnSync(args[0], args.slice(1), { cwd: repo, env: clean, encoding: 'utf8', timeout: 900_000 })
      : spawnSync('bash', [env, 'run', ...args], { cwd: repo, env: clean, encoding: 'utf8', timeout: 900_000 });
    const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
    if (!existsSync(report)) throw new Error(`the subgroup-matrix suite wrote no report (exit ${r.status}${r.error ? `, ${r.error.message}` : ''}):\n${out.slice(-6000)}`);
    const res = JSON.parse(readFileSync(report, 'utf8')) as { numPassedTests: number; numFailedTests: number; numTotalTests: number; success: boolean };
    const summary = `subgroup-matrix suite (${where === 'here' ? 'this adapter' : 'Mesa 26 lavapipe root'}): ${res.numPassedTests} passed, ${res.numFailedTests} failed of ${res.numTotalTests}`;
    console.log(summary);
    if (process.env.GELAN_SGMAT_COUNTS) console.log(`GELAN_SGMAT_COUNTS ${res.numPassedTests} ${res.numFailedTests}`);
    expect(res.success, `${summary}\n${out.slice(-6000)}`).toBe(true);
    expect(res.numFailedTests).toBe(0);
    expect(res.numTotalTests).toBeGreaterThanOrEqual(MIN_TESTS);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 900_000);
