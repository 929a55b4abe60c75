// gelan bench end to end on one small case (built CLI in dist/): progress lines, the table, the JSON file in the
// format of `npm run bench -- --json`, and its errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { builtCli } from './built-cli';

const cli = builtCli('gelan-bench-');
const gelan = cli.gelan;

interface BenchJson {
  adapter: string;
  date: string;
  peak_gflops: number;
  cases: { name: string; flops: number; ours: { median_ms: number; timing: string; samples: number }; peers: Record<string, unknown> }[];
  failed: unknown[];
  memory: unknown;
}

test('bench --quick --filter runs one case: progress, table and JSON', () => {
  const name = 'conv1x1 1x256x20x20>256 fwd';
  const r = gelan('bench', '--quick', '--filter', `^${name}$`, '--json', 'out.json');
  expect(r.code, r.err).toBe(0);
  expect(r.out).toMatch(/^adapter: \S/m);
  expect(r.out).toMatch(/^peak: [\d.]+ GFLOP\/s/m);
  expect(r.out).toContain('1 cases, 3 samples each');
  expect(r.out).toMatch(new RegExp(`^\\[1/1, \\d+ s\\] ${name}: [\\d.]+ ms \\((gpu|wall)\\)`, 'm'));
  expect(r.out).toMatch(new RegExp(`^\\| ${name} \\|\\s+[\\d.]+w? \\|\\s+[\\d.]+ \\|\\s+[\\d.]+ \\|\\s+\\d+% \\|$`, 'm'));
  expect(r.out).not.toContain('vs fastest peer');
  const j = JSON.parse(readFileSync(join(cli.dir, 'out.json'), 'utf8')) as BenchJson;
  expect(j.adapter.length).toBeGreaterThan(0);
  expect(Number.isNaN(Date.parse(j.date))).toBe(false);
  expect(j.peak_gflops).toBeGreaterThan(0);
  expect(j.cases).toHaveLength(1);
  expect(j.cases[0]).toMatchObject({ name, flops: 2 * 256 * 256 * 20 * 20, peers: {}, ours: { samples: 3 } });
  expect(j.cases[0].ours.median_ms).toBeGreaterThan(0);
  expect(j.failed).toEqual([]);
  expect(j.memory).toBeNull(); // the memory line comes with the model cases
}, 300_000);

test('bench: a filter that matches nothing, or is no regular expression, fails clearly', () => {
  const none = gelan('bench', '--filter', 'no such case');
  expect(none.code).toBe(1);
  expect(none.err).toContain('gelan: no benchmark case matches --filter no such case');
  const bad = gelan('bench', '--filter', '(');
  expect(bad.code).toBe(1);
  expect(bad.err).toMatch(/gelan: --filter \(: not a regular expression/);
});
