// The package as a user gets it: `npm pack` of a fresh build, installed into a temporary app with `npm ci --offline`.
// The app's lockfile lists the tarball and the project's own locked runtime dependencies (version + integrity), so
// npm takes every package from its cache (filled by the project's `npm ci`) and never asks the registry.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../../scripts/browser-bundle.mjs';

interface LockEntry {
  readonly version?: string;
  readonly dev?: boolean;
  readonly link?: boolean;
  readonly [key: string]: unknown;
}

export interface PackedApp {
  /** The app folder; node_modules/gelan-webgpu is the installed tarball. */
  readonly dir: string;
  readonly tarball: string;
  readonly tarballBytes: number;
  readonly unpackedBytes: number;
  readonly files: readonly string[];
}

const npm = (args: string[], cwd: string): string =>
  execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });

/** Builds, packs and installs into `<workdir>/app`. */
export function packAndInstall(workdir: string): PackedApp {
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, stdio: 'pipe' });
  const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', workdir], ROOT)) as {
    filename: string;
    size: number;
    unpackedSize: number;
    files: { path: string }[];
  }[];
  const tarball = join(workdir, packed.filename);
  const dir = join(workdir, 'app');
  mkdirSync(dir);
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string; dependencies: Record<string, string>; bin: unknown };
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const spec = `file:../${packed.filename}`;
  const packages: Record<string, unknown> = {
    '': { name: 'app', dependencies: { 'gelan-webgpu': spec } },
    'node_modules/gelan-webgpu': { version: pkg.version, resolved: spec, license: 'MIT', dependencies: pkg.dependencies, bin: pkg.bin },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path.startsWith('node_modules/') && !entry.dev && !entry.link) packages[path] = entry;
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { 'gelan-webgpu': spec } }, null, 2));
  writeFileSync(join(dir, 'package-lock.json'), JSON.stringify({ name: 'app', lockfileVersion: 3, requires: true, packages }, null, 2));
  try {
    npm(['ci', '--offline', '--no-audit', '--no-fund'], dir);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new Error(`npm ci --offline of the tarball failed (is npm's cache filled by the project's 'npm ci'?): ${err.stderr || err.message}`);
  }
  return { dir, tarball, tarballBytes: statSync(tarball).size, unpackedBytes: packed.unpackedSize, files: packed.files.map((f) => f.path) };
}
