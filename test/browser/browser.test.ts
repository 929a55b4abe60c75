// The engine in a browser: the browser bundle (no Node code, the public API, a clear error where Dawn would be
// needed), then headless Chromium's WebGPU (SwiftShader without a GPU) running the same op fixtures with the same
// tolerances as test/engine/fixture-ops.test.ts, the GELAN/YOLOv9 block fixtures of test/models/blocks.test.ts,
// and the embedding example web/embed (host-owned GPUDevice, its own render pass, pixels checked).
//
// Chromium is Debian's /usr/bin/chromium (scripts/setup.sh installs it). Without it the Chromium part is skipped
// with the reason printed, except under CI=true, where it fails.
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decode } from 'fast-png';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { NOT_IN_BROWSERS, ROOT, kib } from '../../scripts/browser-bundle.mjs';
import { HEIGHT, WIDTH, exampleInput, exampleWeights, toRgba8 } from '../../web/embed/pattern';
import type { EmbedReport } from '../../web/embed/main';
import { loadFixture } from '../helpers';
import { TOL } from '../shared/op-cases';
import { type Browser, CHROMIUM, chromiumMissing, launchChromium } from './chromium';
import type { CaseResult, PageEnv } from './page/common';
import { openPage } from './open-page';
import { type BuiltPages, buildPages } from './pages';
import { type StaticServer, serveStatic } from '../../scripts/serve.mjs';

const CI = process.env.CI === 'true' || process.env.CI === '1';
const ARTIFACTS = join(ROOT, 'test', 'browser', 'artifacts');
const BLOCKS_DIR = join(ROOT, 'test', 'fixtures', 'yolov9', 'blocks');

const missing = chromiumMissing();
if (missing && !CI) console.log(`browser tests: Chromium part skipped: ${missing}`);

let workdir = '';
let built: BuiltPages;

beforeAll(async () => {
  workdir = mkdtempSync(join(tmpdir(), 'gelan-browser-'));
  built = await buildPages(workdir);
});
afterAll(() => {
  if (workdir) rmSync(workdir, { recursive: true, force: true });
});

describe('browser bundle', () => {
  test('builds without Node code and exports the public API', () => {
    // buildPages() already failed if any Node built-in, Dawn or a require() reached the bundle.
    console.log(`browser bundle gelan-webgpu.js: ${kib(built.bundle.raw)} (gzip ${kib(built.bundle.gzip)}), ${built.bundle.exports.length} exports`);
    for (const name of ['createDevice', 'Device', 'tensor', 'tidy', 'noGrad', 'conv2d', 'batchNorm2d', 'matmul', 'createModel', 'fuseModel', 'readWeightFile', 'io']) {
      expect(built.bundle.exports, `export ${name}`).toContain(name);
    }
  });

  test('createDevice() where only Dawn could help fails with a clear message', async () => {
    // Node without navigator.gpu is such a place: the bundle's stub stands where Dawn's loader was.
    const lib = (await import(/* @vite-ignore */ pathToFileURL(built.bundle.path).href)) as typeof import('../../index');
    await expect(lib.createDevice()).rejects.toThrow(NOT_IN_BROWSERS);
  });
});

const describeChromium = missing ? describe.skip : describe;
if (missing && CI) {
  test('Chromium is installed (required under CI)', () => {
    throw new Error(`browser tests cannot run: ${missing}`);
  });
}

describeChromium('Chromium WebGPU', () => {
  let server: StaticServer;
  let browser: Browser;
  /** Console errors/warnings and page errors, per page path. */
  const logs: string[] = [];

  beforeAll(async () => {
    server = await serveStatic({
      '/dist/browser/': built.dist,
      '/runner/': built.runner,
      '/test/browser/page/': join(ROOT, 'test', 'browser', 'page'),
      '/test/fixtures/': join(ROOT, 'test', 'fixtures'),
      '/web/': join(ROOT, 'web'),
    });
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (logs.length > 0) console.log(`browser console:\n  ${logs.slice(0, 40).join('\n  ')}`);
  });

  const open = (path: string, ready: string): Promise<Page> => openPage(browser, server, path, ready, { logs });

  const failure = (name: string, r: CaseResult): string =>
    [`${name} failed in Chromium`, r.error, ...r.gpuErrors.map((e) => `GPU ${e}`)].filter(Boolean).join('\n');

  const describeEnv = (env: PageEnv): string => {
    const l = env.limits;
    return [
      `${env.userAgent.match(/(Headless)?Chrome\/[\d.]+/)?.[0] ?? env.userAgent}, ${CHROMIUM}`,
      `adapter: ${Object.values(env.adapter).filter(Boolean).join(' / ') || '(no info)'}`,
      `engine features: shader-f16 ${env.features.f16 ? 'yes' : 'no'}, subgroups ${env.features.subgroups ? 'yes' : 'no'}, timestamp-query ${env.features.timestampQuery ? 'yes' : 'no'}`,
      `adapter features: ${env.adapterFeatures.join(', ')}`,
      `limits: ${Object.entries(l).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    ].join('\n  ');
  };

  describe('op fixtures (same cases and tolerances as Node)', () => {
    let page: Page;
    const pageMs = new Map<string, number>();
    beforeAll(async () => {
      page = await open('/test/browser/page/ops.html', 'window.gelanOps !== undefined');
    });

    test('navigator.gpu gives the engine an adapter and a device', async () => {
      // The runner's first createDevice(): NoAdapterError here means Chromium has no WebGPU with these flags.
      const env = await page.evaluate(() => window.gelanOps!.env());
      console.log(`browser WebGPU (library bundle on navigator.gpu):\n  ${describeEnv(env)}`);
      // what every kernel variant is sized for: at least SwiftShader's limits, and the features reported as flags
      expect(env.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
      expect(env.limits.maxStorageBuffersPerShaderStage).toBeGreaterThanOrEqual(8);
      for (const f of ['f16', 'subgroups', 'timestampQuery'] as const) expect(typeof env.features[f], f).toBe('boolean');
    });
    afterAll(async () => {
      if (!page) return;
      const worst = await page.evaluate(() => window.gelanOps!.worst()).catch(() => ({}));
      console.log(`in-page time per fixture: ${[...pageMs].map(([f, ms]) => `${f} ${ms.toFixed(0)} ms`).join(', ')}`);
      console.log(`max abs error vs PyTorch per op (Chromium): ${Object.entries(worst).map(([op, e]) => `${op}: ${e.toExponential(2)}`).join(', ')}`);
      await page.evaluate(() => window.gelanOps!.dispose()).catch(() => undefined);
      await page.close();
    });

    for (const file of Object.keys(TOL)) {
      const fx = loadFixture(`ops/${file}`);
      describe(file, () => {
        fx.cases.forEach((c, index) => {
          test(c.name, async () => {
            const r = await page.evaluate(([f, i]) => window.gelanOps!.run(f, i), [file, index] as const);
            pageMs.set(file, (pageMs.get(file) ?? 0) + r.ms);
            if (!r.ok) throw new Error(failure(`${file} ${c.name}`, r));
          });
        });
      });
    }
  });

  describe('GELAN/YOLOv9 blocks vs official (same procedure as Node)', () => {
    let page: Page;
    const worst: string[] = [];
    beforeAll(async () => {
      page = await open('/test/browser/page/blocks.html', 'window.gelanBlocks !== undefined');
    });
    afterAll(async () => {
      if (worst.length > 0) console.log(`max abs error vs official per block (Chromium): ${worst.join(', ')}`);
      if (!page) return;
      await page.evaluate(() => window.gelanBlocks!.dispose()).catch(() => undefined);
      await page.close();
    });

    const files = readdirSync(BLOCKS_DIR).filter((f) => f.endsWith('.safetensors')).sort();
    for (const file of files) {
      test(file.replace('.safetensors', ''), async () => {
        const r = await page.evaluate((f) => window.gelanBlocks!.run(f), file);
        if (!r.ok) throw new Error(failure(file, r));
        worst.push(`${file.replace('.safetensors', '')} ${r.maxErr!.toExponential(1)} (${r.ms.toFixed(0)} ms)`);
      });
    }
  });

  describe('embedding example web/embed', () => {
    /** The expected image: sigmoid(conv2d(x, w, b, padding 1)) in float64, packed like the example packs it. */
    function expectedTexels(): Uint8Array {
      const x = exampleInput();
      const { weight, bias } = exampleWeights();
      const n = WIDTH * HEIGHT;
      const planes = new Float64Array(3 * n);
      for (let o = 0; o < 3; o++) {
        for (let i = 0; i < HEIGHT; i++) {
          for (let j = 0; j < WIDTH; j++) {
            let s = bias[o];
            for (let c = 0; c < 2; c++) {
              for (let ki = 0; ki < 3; ki++) {
                for (let kj = 0; kj < 3; kj++) {
                  const y = i + ki - 1;
                  const z = j + kj - 1;
                  if (y >= 0 && y < HEIGHT && z >= 0 && z < WIDTH) s += weight[(o * 2 + c) * 9 + ki * 3 + kj] * x[c * n + y * WIDTH + z];
                }
              }
            }
            planes[o * n + i * WIDTH + j] = 1 / (1 + Math.exp(-s));
          }
        }
      }
      return toRgba8(planes);
    }

    /** Compare an RGB(A) image of the canvas with the expected panels: left as computed, right inverted. */
    function compare(img: { width: number; height: number; channels: number; data: ArrayLike<number> }, scale: number, tol: number): string {
      const want = expectedTexels();
      let worst = 0;
      let bad = 0;
      let where = '';
      for (let y = 0; y < img.height; y++) {
        for (let x = 0; x < img.width; x++) {
          const right = x >= WIDTH * scale;
          const t = Math.floor(y / scale) * WIDTH + Math.floor((right ? x - WIDTH * scale : x) / scale);
          for (let c = 0; c < 3; c++) {
            const e = right ? 255 - want[4 * t + c] : want[4 * t + c];
            const d = Math.abs(img.data[(y * img.width + x) * img.channels + c] - e);
            if (d > tol) bad++;
            if (d > worst) {
              worst = d;
              where = `pixel (${x}, ${y}) channel ${c}: got ${img.data[(y * img.width + x) * img.channels + c]}, expected ${e}`;
            }
          }
        }
      }
      return bad === 0 ? '' : `${bad} channel values off by more than ${tol} (worst ${worst} at ${where})`;
    }

    test('the page computes on its own GPUDevice, draws the result, disposes the engine and still renders', async () => {
      const page = await open('/web/embed/index.html', "document.body.dataset.state !== undefined");
      try {
        const report = (await page.evaluate(() => window.embedReport)) as EmbedReport;
        const status = await page.locator('#status').textContent();
        const hint = /Instance reference|destroyed/.test(report.error ?? status ?? '')
          ? '\n(headless Chromium without a GPU presents WebGPU canvases only with --use-angle=swiftshader --enable-features=Vulkan --use-vulkan=swiftshader)'
          : '';
        expect(report.ok, `embed example: ${report.error ?? JSON.stringify(report)}\n${status}${hint}`).toBe(true);
        expect(report.engineDisposed).toBe(true);
        expect(report.engineRefusesWork).toBe(true);
        expect(report.hostDeviceLost).toBe(false);

        // The canvas as the page holds it (toDataURL), pixel for pixel: the byte rounding of sigmoid values
        // computed in float32 vs float64 may differ by one.
        const url = await page.evaluate(() => document.querySelector<HTMLCanvasElement>('#view')!.toDataURL('image/png'));
        const png = decode(Buffer.from(url.slice(url.indexOf(',') + 1), 'base64'));
        expect([png.width, png.height]).toEqual([2 * WIDTH * report.scale, HEIGHT * report.scale]);
        expect(compare(png, report.scale, 1), 'canvas pixels (toDataURL)').toBe('');

        // What a person sees: a screenshot of the canvas, kept as an artifact, and of the page.
        mkdirSync(ARTIFACTS, { recursive: true });
        const shot = decode(await page.locator('#view').screenshot({ path: join(ARTIFACTS, 'embed-canvas.png') }));
        await page.screenshot({ path: join(ARTIFACTS, 'embed-page.png'), fullPage: true });
        expect(compare(shot, report.scale, 2), 'canvas pixels (screenshot)').toBe('');
        console.log(`embed example: ${report.adapter}, canvas ${report.canvasFormat}, compute ${report.computeMs.toFixed(1)} ms; screenshots in test/browser/artifacts/\n${status}`);
      } finally {
        await page.close();
      }
    });
  });
});
