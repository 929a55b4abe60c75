// Builds dist/: the Node library and CLI bundles (ESM) with esbuild, the browser files (scripts/browser-bundle.mjs:
// the library for bundlers, the single-file bundle and its minified twin, no Node code allowed in any) and the
// type declarations as one file (scripts/declarations.mjs). package.json's export conditions pick the Node or the
// browser library; the published files carry no source maps.
import { build } from 'esbuild';
import { readFileSync, rmSync } from 'node:fs';
import { buildBrowserDist, kib, rawText } from './browser-bundle.mjs';
import { buildDeclarations } from './declarations.mjs';

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
  external,
  plugins: [rawText],
  logLevel: 'warning',
});
const browser = await buildBrowserDist();
await buildDeclarations();
console.log(`built dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s`);
console.log(`browser bundle dist/browser/gelan-webgpu.js: ${kib(browser.size.raw)} (gzip ${kib(browser.size.gzip)})`);
console.log(`minified dist/browser/gelan-webgpu.min.js: ${kib(browser.minSize.raw)} (gzip ${kib(browser.minSize.gzip)})`);
