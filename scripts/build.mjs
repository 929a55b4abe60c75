// Builds dist/: the Node library and CLI bundles (ESM, source maps) with esbuild, type declarations with tsc, and
// the browser bundle dist/browser/gelan-webgpu.js (scripts/browser-bundle.mjs: no Node code allowed in it).
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { buildBrowserDist, kib, rawText } from './browser-bundle.mjs';

const started = performance.now();
rmSync('dist', { recursive: true, force: true });
// Node build: every runtime dependency stays an import (installed beside us; bundling CJS into ESM breaks).
const external = Object.keys(JSON.parse(readFileSync('package.json', 'utf8')).dependencies ?? {});
await build({
  entryPoints: { index: 'index.ts', 'cli/gelan': 'cli/gelan.ts' },
  outdir: 'dist',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  external,
  plugins: [rawText],
  logLevel: 'warning',
});
const browser = await buildBrowserDist();
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
console.log(`built dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s`);
console.log(`browser bundle dist/browser/gelan-webgpu.js: ${kib(browser.size.raw)} (gzip ${kib(browser.size.gzip)})`);
