// The browser side of the build: esbuild settings for code that runs in a page (the library bundle, the embedding
// example, the browser test pages), the stub that replaces the engine's Node-only platform module, and the check
// that nothing from Node ends up in a browser bundle. Used by scripts/build.mjs and by test/browser/.
import { build } from 'esbuild';
import { readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Paths inside the checkout, relative and with '/', so bundles and source maps name no build machine's folders. */
const rel = (abs) => relative(ROOT, abs).split(sep).join('/');

/** `import text from './x.yaml?raw'` → the file's text (vite does the same in tests). */
export const rawText = {
  name: 'raw-text',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: rel(resolve(dirname(a.importer), a.path.slice(0, -4))), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, (a) => ({ contents: readFileSync(resolve(ROOT, a.path), 'utf8'), loader: 'text' }));
  },
};

/** The engine's Node-only modules; in a browser bundle each is replaced by a stub that throws. */
const NODE_ONLY = new Set([join(ROOT, 'engine', 'platform', 'node.ts')]);
/** Packages that only work in Node (Dawn's binding, the CLI's argument parser and image codecs stay out too). */
const NODE_PACKAGES = ['webgpu', 'commander'];

export const NOT_IN_BROWSERS =
  "gelan-webgpu: Dawn (the 'webgpu' package for Node) is not available in browsers; " +
  'use a browser with WebGPU (navigator.gpu) or pass your own GPUDevice: createDevice({ device })';

const STUB = `// Browser stand-in for engine/platform/node.ts (scripts/browser-bundle.mjs).
const message = ${JSON.stringify(NOT_IN_BROWSERS)};
export async function nodeGpu() { throw new Error(message); }
export const NODE_NO_ADAPTER_HELP = message;
`;

/** Replaces engine/platform/node.ts with a stub (createDevice only reaches it when navigator.gpu is missing). */
export const nodePlatformStub = {
  name: 'node-platform-stub',
  setup(b) {
    b.onResolve({ filter: /platform\/node(\.ts)?$/ }, (a) => {
      const p = resolve(a.resolveDir, a.path);
      const file = p.endsWith('.ts') ? p : `${p}.ts`;
      return NODE_ONLY.has(file) ? { path: rel(file), namespace: 'node-stub' } : undefined;
    });
    b.onLoad({ filter: /.*/, namespace: 'node-stub' }, () => ({ contents: STUB, loader: 'js' }));
  },
};

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
const NODE_IMPORT = new RegExp(`^(node:.*|(${[...builtinModules, ...NODE_PACKAGES].map(escape).join('|')})(/.*)?)$`);

/** Fails the build, naming the importer, when any module imports a Node built-in or a Node-only package. */
export const noNodeImports = {
  name: 'no-node-imports',
  setup(b) {
    b.onResolve({ filter: NODE_IMPORT }, (a) => ({
      errors: [{ text: `'${a.path}' is Node-only and may not be part of a browser bundle (imported by ${relative(ROOT, a.importer) || a.importer})` }],
    }));
  },
};

/** esbuild options shared by every browser bundle. */
export function browserOptions(extra = {}) {
  const { plugins = [], ...rest } = extra;
  return {
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2022', 'chrome113'],
    sourcemap: true,
    absWorkingDir: ROOT,
    metafile: true,
    logLevel: 'warning',
    ...rest,
    plugins: [nodePlatformStub, noNodeImports, rawText, ...plugins],
  };
}

/**
 * After a browser build: no input may be a Node-only module or package, and no output may import a Node
 * built-in or call require(). Throws a message listing every offence.
 */
export function checkBrowserOutputs(result) {
  const bad = [];
  for (const input of Object.keys(result.metafile.inputs)) {
    const path = input.replace(/^[\w-]+:/, '');
    const abs = resolve(ROOT, path);
    if (NODE_ONLY.has(abs) && !input.startsWith('node-stub:')) bad.push(`input ${input} is Node-only`);
    if (/(^|[/\\])node_modules[/\\](webgpu|commander)[/\\]/.test(path)) bad.push(`input ${input} is a Node-only package`);
  }
  for (const [out, meta] of Object.entries(result.metafile.outputs)) {
    for (const imp of meta.imports ?? []) {
      if (imp.external && NODE_IMPORT.test(imp.path)) bad.push(`${out} imports '${imp.path}'`);
    }
    if (!out.endsWith('.js')) continue;
    const code = readFileSync(resolve(ROOT, out), 'utf8');
    for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*)["'](node:[^"']+|[^"'./][^"']*)["']/g)) {
      if (NODE_IMPORT.test(m[1])) bad.push(`${out} contains an import of '${m[1]}'`);
    }
    // a real require() call (a dynamic one esbuild could not bundle); esbuild's own CJS wrapper merely defines
    // a function named __require, which is harmless
    if (/\b__require\s*\(\s*["'`]|(?<![.\w])require\s*\(\s*["'`]/.test(code)) bad.push(`${out} calls require()`);
  }
  if (bad.length > 0) throw new Error(`Node code in the browser bundle:\n  ${bad.join('\n  ')}`);
}

/** Size of a built file: raw bytes and gzip (level 9) bytes. */
export function fileSize(path) {
  return { raw: statSync(path).size, gzip: gzipSync(readFileSync(path), { level: 9 }).length };
}

export const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

/**
 * Runtime dependencies of the library that a bundler resolves itself (the bundler build leaves them as imports): the
 * ES-module ones. jpeg-js is CommonJS, which plain Rollup cannot import from, so it is compiled in.
 */
const LIBRARY_DEPENDENCIES = ['yaml', 'fflate', 'wgpu-matrix', 'fast-png'];

/**
 * The browser distribution in `outdir` (default dist/browser):
 * - `index.js`: the library for bundlers (the package's `browser` and default export conditions): ESM, Dawn's
 *   platform module stubbed out, its ES-module dependencies left as imports so the app's bundler shares them;
 * - `gelan-webgpu.js` and `gelan-webgpu.min.js`: one self-contained ESM file each (yaml, fflate, wgpu-matrix
 *   inside) for `<script type="module">` from a CDN or an import map (the `./browser` export);
 * - `embed/main.js` (web/embed's example, importing the bundle by its package name, which web/embed/index.html
 *   maps with an import map) and `demo/main.js` + `demo/worker.js` (the demo page web/demo: UI thread and engine
 *   worker); these two are for this checkout's pages and are not published.
 * The library files carry no source maps (the package ships none). Returns the bundle's path and sizes.
 */
export async function buildBrowserDist(outdir = join(ROOT, 'dist', 'browser')) {
  const entry = join(ROOT, 'index.ts');
  const libraries = await Promise.all([
    build(browserOptions({ entryPoints: { 'gelan-webgpu': entry }, outdir, sourcemap: false })),
    build(browserOptions({ entryPoints: { 'gelan-webgpu.min': entry }, outdir, sourcemap: false, minify: true })),
    build(browserOptions({ entryPoints: { index: entry }, outdir, sourcemap: false, external: LIBRARY_DEPENDENCIES })),
  ]);
  for (const lib of libraries) checkBrowserOutputs(lib);
  const embed = await build(
    browserOptions({ entryPoints: { 'embed/main': join(ROOT, 'web', 'embed', 'main.ts') }, outdir, external: ['gelan-webgpu'] }),
  );
  checkBrowserOutputs(embed);
  const demo = await build(
    browserOptions({
      entryPoints: { 'demo/main': join(ROOT, 'web', 'demo', 'main.ts'), 'demo/worker': join(ROOT, 'web', 'demo', 'worker.ts') },
      outdir,
      // `import … from 'gelan-webgpu'` compiled from this checkout's sources: the worker also runs the benchmark
      // suite (bench/suite.ts), which must share its one copy of the engine, and module workers have no import
      // maps to point at the library bundle
      alias: { 'gelan-webgpu': './index.ts' },
    }),
  );
  checkBrowserOutputs(demo);
  const bundle = join(outdir, 'gelan-webgpu.js');
  const minified = join(outdir, 'gelan-webgpu.min.js');
  return { bundle, size: fileSize(bundle), minSize: fileSize(minified), exports: libraries[0].metafile.outputs[rel(bundle)]?.exports ?? [] };
}
