// The published package as a new user meets it: `npm pack` of a fresh build installed offline into a temporary app
// (packed.ts), then a small consumer (test/package/app/) type-checked under every moduleResolution with TypeScript
// 5.x and the newest (with every name README.md shows: readme-api.ts), run in Node (Dawn, the `node` export
// condition), bundled for the browser with no configuration by esbuild (run in headless Chromium), Rollup and webpack
// (the `browser`/default conditions: no Node built-in may reach a bundle), and loaded in Chromium through the
// minified single-file bundle and an import map (CDN use). Each run computes one conv on the GPU and compares it with
// the same conv in float64 on the CPU. The tarball and the minified bundle have a size budget, printed with the
// measured sizes; the installed `gelan` command must run.
//
// The examples run from the same install: examples/node (train a few steps, detect) in Node, examples/vite-app built by
// Vite without configuration and run in Chromium (and once more from Vite's dev server), and the embedding example
// web/embed bundled against the package.
//
// Chromium is Debian's /usr/bin/chromium; without it the Chromium parts are skipped with the reason printed, except
// under CI=true, where they fail.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import { build } from 'esbuild';
import { rollup } from 'rollup';
import { createServer as viteServer, build as viteBuild } from 'vite';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import webpack from 'webpack';
import { ROOT, fileSize, kib } from '../../scripts/browser-bundle.mjs';
import { type StaticServer, serveStatic } from '../../scripts/serve.mjs';
import { type Browser, chromiumMissing, launchChromium } from '../browser/chromium';
import { openPage } from '../browser/open-page';
import type { EmbedReport } from '../../web/embed/main';
import type { ExampleResult } from '../../examples/vite-app/main';
import type { ConvCheck } from './app/conv-check';
import { type PackedApp, packAndInstall } from './packed';
import { type ReadmeApi, readmeApi, readmeApiModule } from './readme-api';

const CI = process.env.CI === 'true' || process.env.CI === '1';
/** float32 sums of 27 products against float64 ones. */
const CONV_TOL = 1e-5;
/**
 * Size budget (bytes): the packed tarball, and the minified single-file browser bundle raw and gzipped (the ONNX
 * export's protobuf writer, onnx-proto with protobufjs, is about 150 KiB of the minified bundle).
 */
const BUDGET = { tarball: 1000 * 1024, minified: 640 * 1024, minifiedGzip: 200 * 1024 };
const TYPESCRIPTS = [
  { name: 'TypeScript 5', tsc: join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc') },
  { name: 'TypeScript latest', tsc: join(ROOT, 'node_modules', 'typescript-latest', 'bin', 'tsc') },
];
const RESOLVERS = [
  { moduleResolution: 'node16', module: 'node16' },
  { moduleResolution: 'nodenext', module: 'nodenext' },
  { moduleResolution: 'bundler', module: 'esnext' },
];

const missing = chromiumMissing();
if (missing && !CI) console.log(`package consumer: Chromium parts skipped: ${missing}`);
const noChromium = missing !== null && !CI;

let workdir = '';
let app: PackedApp;
let readme: ReadmeApi;

beforeAll(() => {
  workdir = mkdtempSync(join(tmpdir(), 'gelan-package-'));
  app = packAndInstall(workdir);
  cpSync(join(ROOT, 'test', 'package', 'app'), app.dir, { recursive: true });
  // the examples as a user copies them next to their install (their own package.json is not needed there)
  for (const d of ['vite-app', 'embed', 'out']) mkdirSync(join(app.dir, d));
  cpSync(join(ROOT, 'examples', 'node', 'train-and-detect.mjs'), join(app.dir, 'train-and-detect.mjs'));
  for (const f of ['index.html', 'main.ts']) cpSync(join(ROOT, 'examples', 'vite-app', f), join(app.dir, 'vite-app', f));
  for (const f of ['index.html', 'main.ts', 'pattern.ts']) cpSync(join(ROOT, 'web', 'embed', f), join(app.dir, 'embed', f));
  readme = readmeApi(readFileSync(join(ROOT, 'README.md'), 'utf8'));
  writeFileSync(join(app.dir, 'readme-api.ts'), readmeApiModule(readme));
}, 150_000);
afterAll(() => {
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

const version = (tsc: string): string => execFileSync(process.execPath, [tsc, '--version'], { encoding: 'utf8' }).trim();

describe('tarball', () => {
  test('holds the builds, declarations, LICENSE and CHANGELOG, and no maps, sources or demo files', () => {
    const has = (f: string): boolean => app.files.includes(f);
    for (const f of ['LICENSE', 'CHANGELOG.md', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/index.ts6.d.ts', 'dist/cli/gelan.js']) {
      expect(has(f), f).toBe(true);
    }
    for (const f of ['dist/browser/index.js', 'dist/browser/gelan-webgpu.js', 'dist/browser/gelan-webgpu.min.js']) expect(has(f), f).toBe(true);
    const stray = app.files.filter((f) => f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts')) || f.includes('/demo/') || f.includes('/embed/'));
    expect(stray).toEqual([]);
    const license = readFileSync(join(app.dir, 'node_modules', 'gelan-webgpu', 'LICENSE'), 'utf8');
    expect(license).toMatch(/^MIT License/);
    expect(license).toContain('gelan-webgpu contributors');
  });

  test('size budget: tarball and minified browser bundle', () => {
    const min = fileSize(join(app.dir, 'node_modules', 'gelan-webgpu', 'dist', 'browser', 'gelan-webgpu.min.js'));
    console.log(
      `package size: tarball ${kib(app.tarballBytes)} (budget ${kib(BUDGET.tarball)}), unpacked ${kib(app.unpackedBytes)}, ${app.files.length} files; ` +
        `gelan-webgpu.min.js ${kib(min.raw)} (budget ${kib(BUDGET.minified)}), gzip ${kib(min.gzip)} (budget ${kib(BUDGET.minifiedGzip)})`,
    );
    expect(app.tarballBytes).toBeLessThanOrEqual(BUDGET.tarball);
    expect(min.raw).toBeLessThanOrEqual(BUDGET.minified);
    expect(min.gzip).toBeLessThanOrEqual(BUDGET.minifiedGzip);
  });
});

describe('types', () => {
  test.each(TYPESCRIPTS)('a consumer type-checks under node16, nodenext and bundler with $name, without skipLibCheck', async ({ tsc }) => {
    const v = version(tsc);
    const runs = RESOLVERS.map((r) => {
      const config = join(app.dir, `tsconfig.${r.moduleResolution}.json`);
      writeFileSync(
        config,
        JSON.stringify({
          compilerOptions: { ...r, target: 'ES2022', lib: ['ES2022', 'DOM'], strict: true, noEmit: true, skipLibCheck: false, types: [] },
          files: ['conv-check.ts', 'node.ts', 'browser.ts', 'cdn.ts', 'vite-app/main.ts', 'readme-api.ts'],
        }),
      );
      // the three checks run side by side
      return new Promise<{ code: number | null; out: string }>((done) => {
        execFile(process.execPath, [tsc, '-p', config], { cwd: app.dir, encoding: 'utf8', timeout: 120_000 }, (e, stdout, stderr) =>
          done({ code: e ? ((e as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
        );
      });
    });
    const results = await Promise.all(runs);
    expect(readme.names.length, 'names found in README.md').toBeGreaterThan(50);
    results.forEach((r, i) => {
      expect(r.code, `${v}, moduleResolution ${RESOLVERS[i].moduleResolution}:\n${r.out}`).toBe(0);
      console.log(`types: ${v}, moduleResolution ${RESOLVERS[i].moduleResolution}: no errors (with the ${readme.names.length + readme.io.length} names README.md shows)`);
    });
  });
});

describe('Node', () => {
  test('the consumer runs a conv on Dawn that matches the CPU', async () => {
    await build({
      entryPoints: [join(app.dir, 'node.ts')],
      outfile: join(app.dir, 'out', 'node.mjs'),
      bundle: true,
      format: 'esm',
      platform: 'node',
      packages: 'external',
      logLevel: 'error',
    });
    const run = spawnSync(process.execPath, [join(app.dir, 'out', 'node.mjs')], { cwd: app.dir, encoding: 'utf8', timeout: 90_000 });
    const line = /CONV_CHECK (.*)/.exec(run.stdout)?.[1];
    expect(line, `node consumer (exit ${run.status}):\n${run.stdout}${run.stderr}`).toBeDefined();
    const r = JSON.parse(line!) as ConvCheck;
    console.log(`Node consumer: ${r.adapter}, ${r.outputs} outputs, max |error| ${r.maxAbsError.toExponential(2)} (tolerance ${CONV_TOL})`);
    expect(r.outputs).toBe(4 * 8 * 8);
    expect(r.maxAbsError).toBeLessThanOrEqual(CONV_TOL);
  });
});

describe('browser', () => {
  let bundled = false;

  test('esbuild bundles the consumer for the browser with no configuration and no Node code', async () => {
    const result = await build({
      entryPoints: [join(app.dir, 'browser.ts')],
      outfile: join(app.dir, 'out', 'browser.js'),
      absWorkingDir: app.dir,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      metafile: true,
      logLevel: 'error',
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs).toContain('node_modules/gelan-webgpu/dist/browser/index.js');
    expect(inputs.filter((i) => /node_modules\/(webgpu|commander)\//.test(i) || i.startsWith('node:'))).toEqual([]);
    const size = fileSize(join(app.dir, 'out', 'browser.js'));
    console.log(`browser consumer bundle: ${kib(size.raw)} (gzip ${kib(size.gzip)}), ${inputs.length} inputs`);
    bundled = true;
  });

  test('Rollup (node-resolve, no options) and webpack (defaults) take the browser build and no Node code', async () => {
    const entry = join(app.dir, 'bundle-entry.js');
    const warnings: string[] = [];
    const bundle = await rollup({ input: entry, plugins: [nodeResolve()], onwarn: (w) => void warnings.push(w.message) });
    const { output } = await bundle.generate({ format: 'es' });
    await bundle.close();
    const ids = output.flatMap((o) => (o.type === 'chunk' ? Object.keys(o.modules) : []));
    expect(ids.some((id) => id.endsWith(join('gelan-webgpu', 'dist', 'browser', 'index.js')))).toBe(true);
    expect(ids.filter((id) => /node_modules[\\/](webgpu|commander)[\\/]/.test(id))).toEqual([]);
    expect(output.flatMap((o) => (o.type === 'chunk' ? o.imports : [])), 'imports left in the Rollup bundle').toEqual([]);
    expect(warnings.filter((w) => /unresolved|node:|polyfill/i.test(w))).toEqual([]);

    const compiler = webpack({ mode: 'production', context: app.dir, entry, output: { path: join(app.dir, 'out', 'webpack'), filename: 'main.js' } });
    const stats = await new Promise<webpack.Stats>((ok, fail) => compiler.run((e, s) => compiler.close(() => (e || !s ? fail(e) : ok(s)))));
    const info = stats.toJson({ all: false, errors: true });
    expect(stats.hasErrors(), JSON.stringify(info.errors?.map((e) => e.message))).toBe(false);
    const files = [...stats.compilation.fileDependencies];
    expect(files.some((f) => f.endsWith(join('gelan-webgpu', 'dist', 'browser', 'index.js')))).toBe(true);
    expect(files.filter((f) => /node_modules[\\/](webgpu|commander)[\\/]/.test(f))).toEqual([]);
    console.log(`Rollup: ${ids.length} modules, ${kib(output.reduce((n, o) => n + (o.type === 'chunk' ? o.code.length : 0), 0))}; webpack: ${files.length} files read, no errors`);
  });

  test('the minified single-file bundle serves a page through an import map (CDN use)', async () => {
    const dir = join(app.dir, 'out', 'cdn');
    await build({
      entryPoints: [join(app.dir, 'browser.ts')],
      outfile: join(dir, 'browser.js'),
      absWorkingDir: app.dir,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      external: ['gelan-webgpu'],
      logLevel: 'error',
    });
    cpSync(join(app.dir, 'node_modules', 'gelan-webgpu', 'dist', 'browser', 'gelan-webgpu.min.js'), join(dir, 'gelan-webgpu.min.js'));
    writeFileSync(
      join(dir, 'index.html'),
      '<!doctype html><meta charset="utf-8"><script type="importmap">{ "imports": { "gelan-webgpu": "./gelan-webgpu.min.js" } }</script>' +
        '<script type="module" src="./browser.js"></script>',
    );
    expect(readFileSync(join(dir, 'browser.js'), 'utf8')).toMatch(/from\s*["']gelan-webgpu["']/);
  });

  test('Vite builds the example app (examples/vite-app) with no configuration', async () => {
    // base './': the test serves the build from a sub-folder
    await viteBuild({ root: join(app.dir, 'vite-app'), base: './', configFile: false, logLevel: 'warn', build: { outDir: join(app.dir, 'out', 'vite'), emptyOutDir: true } });
    const js = readdirSync(join(app.dir, 'out', 'vite', 'assets')).filter((f) => f.endsWith('.js'));
    const code = js.map((f) => readFileSync(join(app.dir, 'out', 'vite', 'assets', f), 'utf8')).join('\n');
    expect(code).not.toMatch(/(?:from\s*|import\s*\(\s*)["'](node:[^"']+|webgpu|module|fs|path|url)["']/);
    console.log(`Vite example build: ${js.length} script(s), ${kib(code.length)}`);
  });

  test('the embedding example (web/embed) bundles against the package', async () => {
    await build({
      entryPoints: [join(app.dir, 'embed', 'main.ts')],
      outfile: join(app.dir, 'out', 'embed', 'main.js'),
      absWorkingDir: app.dir,
      bundle: true,
      format: 'esm',
      platform: 'browser',
      logLevel: 'error',
    });
    // the page as in web/embed, loading the bundle instead of the checkout's import map
    const html = readFileSync(join(app.dir, 'embed', 'index.html'), 'utf8')
      .replace(/<script type="importmap">[\s\S]*?<\/script>/, '')
      .replace(/src="[^"]*embed\/main\.js"/, 'src="./main.js"');
    expect(html).toContain('src="./main.js"');
    writeFileSync(join(app.dir, 'out', 'embed', 'index.html'), html);
  });

  describe.skipIf(noChromium)('in headless Chromium', () => {
    let server: StaticServer;
    let browser: Browser;
    beforeAll(async () => {
      if (missing) throw new Error(`Chromium is required under CI: ${missing}`);
      cpSync(join(app.dir, 'index.html'), join(app.dir, 'out', 'index.html'));
      server = await serveStatic({ '/': join(app.dir, 'out') });
      browser = await launchChromium();
    });
    afterAll(async () => {
      await browser?.close();
      await server?.close();
    });

    test('the bundled consumer runs a conv on the page WebGPU that matches the CPU', async () => {
      expect(bundled, 'the esbuild bundle was built').toBe(true);
      const page = await openPage(browser, server, '/index.html', 'window.consumerResult !== undefined');
      const r = (await page.evaluate('window.consumerResult')) as ConvCheck | { error: string };
      await page.close();
      expect('error' in r ? r.error : '').toBe('');
      const ok = r as ConvCheck;
      console.log(`Chromium consumer: ${ok.adapter || 'adapter'}, ${ok.outputs} outputs, max |error| ${ok.maxAbsError.toExponential(2)}`);
      expect(ok.outputs).toBe(4 * 8 * 8);
      expect(ok.maxAbsError).toBeLessThanOrEqual(CONV_TOL);
    });

    test('the page importing the minified CDN bundle runs the same conv', async () => {
      const page = await openPage(browser, server, '/cdn/index.html', 'window.consumerResult !== undefined');
      const r = (await page.evaluate('window.consumerResult')) as ConvCheck | { error: string };
      await page.close();
      expect('error' in r ? r.error : '').toBe('');
      expect((r as ConvCheck).maxAbsError).toBeLessThanOrEqual(CONV_TOL);
    });

    test('the Vite example trains a step and detects in the tab', async () => {
      const page = await openPage(browser, server, '/vite/index.html?steps=1&imgsz=64', 'window.exampleResult !== undefined', { timeoutMs: 90_000 });
      const r = (await page.evaluate('window.exampleResult')) as ExampleResult;
      const log = await page.locator('#log').textContent();
      await page.close();
      expect(r.error ?? '', log ?? '').toBe('');
      console.log(`Vite example in Chromium:\n${log}`);
      expect(r.steps).toBe(1);
      expect(r.losses.every((l) => Number.isFinite(l) && l > 0)).toBe(true);
      expect(r.detections).toBeGreaterThan(0);
    });

    test('the Vite example also runs from the Vite dev server (dependency pre-bundling, no configuration)', async () => {
      const dev = await viteServer({ root: join(app.dir, 'vite-app'), configFile: false, logLevel: 'warn', server: { host: '127.0.0.1', port: 0 } });
      try {
        await dev.listen();
        const origin = dev.resolvedUrls!.local[0].replace(/\/$/, '');
        const page = await openPage(browser, { origin, missing: [], close: async () => undefined }, '/?steps=1&imgsz=64', 'window.exampleResult !== undefined', { timeoutMs: 90_000 });
        const r = (await page.evaluate('window.exampleResult')) as ExampleResult;
        await page.close();
        expect(r.error ?? '').toBe('');
        expect(r.steps).toBe(1);
        expect(r.detections).toBeGreaterThan(0);
      } finally {
        await dev.close();
      }
    });

    test("the embedding example runs on the page's own GPUDevice", async () => {
      const page = await openPage(browser, server, '/embed/index.html', 'document.body.dataset.state !== undefined');
      const r = (await page.evaluate('window.embedReport')) as EmbedReport;
      await page.close();
      expect(r.ok, r.error ?? JSON.stringify(r)).toBe(true);
      expect(r.engineDisposed && r.engineRefusesWork && !r.hostDeviceLost).toBe(true);
    });
  });
});

describe('command line', () => {
  test('the installed gelan command runs', () => {
    // as `npx gelan` runs it: the bin link npm made, executed through its #! line
    const run = spawnSync(join(app.dir, 'node_modules', '.bin', 'gelan'), ['--help'], { cwd: app.dir, encoding: 'utf8', timeout: 60_000 });
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/Usage: gelan/);
    expect(run.stdout).toMatch(/\btrain\b/);
  });
});

describe('examples', () => {
  test('examples/node trains a step on the shapes data and detects', () => {
    const run = spawnSync(process.execPath, ['train-and-detect.mjs', '--steps', '1', '--imgsz', '64', '--batch', '2'], { cwd: app.dir, encoding: 'utf8', timeout: 120_000 });
    expect(run.status, `${run.stdout}${run.stderr}`).toBe(0);
    console.log(`examples/node:\n${run.stdout}`);
    const loss = /step 1\/1: loss box (\S+) cls (\S+) dfl (\S+)/.exec(run.stdout);
    expect(loss, run.stdout).not.toBeNull();
    expect(loss!.slice(1).map(Number).every((v) => Number.isFinite(v) && v > 0)).toBe(true);
    expect(run.stdout).toMatch(/[1-9]\d* detections on a 64×64 validation image/);
  });
});
