// The built CLI (dist/cli/gelan.js) for end-to-end tests: builds once before the file's tests, runs commands in a
// fresh temporary folder that is removed afterwards.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliRun {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

export interface BuiltCli {
  /** The temporary working folder (set once the file's tests start). */
  readonly dir: string;
  /** Run `gelan <args>` in `dir`. */
  gelan(...args: string[]): CliRun;
  /** The same with extra environment variables. */
  gelanWith(env: Record<string, string>, ...args: string[]): CliRun;
}

export function builtCli(prefix: string, timeoutMs = 300_000): BuiltCli {
  let dir = '';
  beforeAll(() => {
    execFileSync('node', ['scripts/build.mjs'], { cwd: ROOT, stdio: 'pipe' });
    dir = mkdtempSync(join(tmpdir(), prefix));
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const run = (env: Record<string, string>, args: string[]): CliRun => {
    const r = spawnSync('node', [join(ROOT, 'dist/cli/gelan.js'), ...args], { cwd: dir, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...env } });
    return { code: r.status ?? -1, out: r.stdout, err: r.stderr };
  };
  return {
    get dir() {
      return dir;
    },
    gelan: (...args) => run({}, args),
    gelanWith: (env, ...args) => run(env, args),
  };
}
