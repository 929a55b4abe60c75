// Builds dist/: the Node library and CLI bundles (ESM, source maps) with esbuild, and type declarations with tsc.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { resolve, dirname } from 'node:path';

/** `import text from './x.yaml?raw'` → the file's text (vite does the same in tests). */
const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: resolve(dirname(a.importer), a.path.slice(0, -4)), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, (a) => ({ contents: readFileSync(a.path, 'utf8'), loader: 'text' }));
  },
};

const started = performance.now();
rmSync('dist', { recursive: true, force: true });
const external = ['webgpu', 'commander', 'yaml', 'fflate', 'wgpu-matrix'];
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
execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
console.log(`built dist/ in ${((performance.now() - started) / 1000).toFixed(1)} s`);
