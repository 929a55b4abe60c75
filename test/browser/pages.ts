// Builds what the browser tests serve, fresh for every run, with the same esbuild settings as `npm run build`
// (scripts/browser-bundle.mjs): the browser distribution (library bundle + the embedding example) and the
// in-page test runners.
import { existsSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { ROOT, browserOptions, buildBrowserDist, checkBrowserOutputs } from '../../scripts/browser-bundle.mjs';

/** Where pages load the library bundle from (the server maps /dist/browser/ to the fresh build). */
export const LIBRARY_URL = '/dist/browser/gelan-webgpu.js';

const isFile = (p: string): boolean => existsSync(p) && statSync(p).isFile();

/**
 * The ops page takes the engine from the library bundle: imports of index.ts or engine/index.ts (the public API)
 * become imports of LIBRARY_URL, and anything else from engine/, models/, kernels/ fails the build.
 */
const engineFromBundle: Plugin = {
  name: 'engine-from-bundle',
  setup(b) {
    b.onResolve({ filter: /^\./ }, (a) => {
      const abs = resolve(a.resolveDir, a.path);
      const file = [abs, `${abs}.ts`, join(abs, 'index.ts')].find(isFile);
      if (!file) return undefined;
      if (file === join(ROOT, 'index.ts') || file === join(ROOT, 'engine', 'index.ts')) return { path: LIBRARY_URL, external: true };
      const rel = relative(ROOT, file);
      if (/^(engine|models|kernels|training)[\\/]/.test(rel)) {
        return { errors: [{ text: `${relative(ROOT, a.importer)} imports ${rel}: code on the library bundle may only use the public API (index.ts, engine/index.ts)` }] };
      }
      return undefined;
    });
  },
};

export interface BuiltPages {
  /** Folder served as /dist/browser/. */
  dist: string;
  /** Folder served as /runner/. */
  runner: string;
  bundle: { path: string; raw: number; gzip: number; exports: string[] };
}

export async function buildPages(outdir: string): Promise<BuiltPages> {
  const dist = join(outdir, 'dist', 'browser');
  const runner = join(outdir, 'runner');
  const lib = await buildBrowserDist(dist);
  const page = (name: string): string => join(ROOT, 'test', 'browser', 'page', `${name}.ts`);
  checkBrowserOutputs(await build(browserOptions({ entryPoints: { 'ops-runner': page('ops-runner') }, outdir: runner, plugins: [engineFromBundle] })));
  checkBrowserOutputs(await build(browserOptions({ entryPoints: { 'blocks-runner': page('blocks-runner') }, outdir: runner })));
  return { dist, runner, bundle: { path: lib.bundle, ...lib.size, exports: lib.exports } };
}
