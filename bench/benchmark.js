#!/usr/bin/env node
// `npm run bench [-- --quick] [-- --json out.json] [-- --filter REGEX] [-- --no-peers] [-- --no-torch]`
//
// Launcher: installs the peers (TensorFlow.js WebGPU, onnxruntime-web, jax-js) into bench/node_modules on first
// run — they are never dependencies of the library — bundles the TypeScript harness with esbuild (the models
// import their YAML configs as `?raw` text, as in the library build), then runs it in a child Node process with
// the V8 flags the peers need. Everything after `--` is passed on; `--help` lists the options.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const args = process.argv.slice(2);
const say = (m) => console.log(`bench: ${m}`);

// 1. Peers: installed with their own package.json so they never enter the library's dependency tree.
if (!args.includes('--no-peers') && !args.includes('--train-only')) {
  const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
  const missing = Object.keys(pkg.dependencies ?? {}).filter((d) => !existsSync(join(here, 'node_modules', d, 'package.json')));
  if (missing.length > 0) {
    say(`peers missing (${missing.join(', ')}): running 'npm install --prefix bench' (about 230 MB, once)`);
    const r = spawnSync('npm', ['install', '--prefix', here, '--no-audit', '--no-fund'], { stdio: 'inherit' });
    if (r.status !== 0) say('npm install failed: the peers that are missing will be reported as not run');
  }
}

// 2. Bundle: the harness and each peer shim as separate entry points (main.ts imports a shim by URL only when
// that peer runs). Packages stay external — the peers resolve from bench/node_modules, webgpu and the rest
// from the root node_modules — except tfjs (see below).
const out = join(here, '.out');
const { build } = await import('esbuild');
const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: resolve(dirname(a.importer), a.path.slice(0, -4)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, (a) => ({ contents: readFileSync(a.path, 'utf8'), loader: 'text' }));
  },
};
const common = {
  outdir: out,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: 'inline',
  plugins: [rawText],
  logLevel: 'warning',
  absWorkingDir: root,
};
await build({
  ...common,
  entryPoints: { main: join(here, 'main.ts'), 'peers/ort': join(here, 'peers/ort.ts'), 'peers/jax': join(here, 'peers/jax.ts') },
  splitting: true,
  packages: 'external',
});
// tfjs: bundled from its ES modules, because tfjs-core's CommonJS build for Node leaves out the gradient
// registrations (dist/register_all_gradients.js exists only as an ES module); one bundle = one tfjs copy.
// (skipped when it is not installed: --no-peers on a machine that never installed the peers)
if (existsSync(join(here, 'node_modules', '@tensorflow', 'tfjs-core', 'package.json'))) await build({
  ...common,
  entryPoints: { 'peers/tfjs': join(here, 'peers/tfjs.ts') },
  mainFields: ['module', 'main'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
});

// 3. Run. --liftoff-only: onnxruntime-web's wasm is otherwise re-compiled by TurboFan on background threads
// while we measure (the machine has two cores); the GPU kernels are unaffected. --expose-gc: a collection
// between cases, outside the measurements.
const r = spawnSync(process.execPath, ['--liftoff-only', '--expose-gc', '--enable-source-maps', join(out, 'main.mjs'), ...args], {
  stdio: 'inherit',
  cwd: root,
});
if (r.error) throw r.error;
process.exitCode = r.status ?? 1;
