// The training line in headless Chromium: bundles bench/train-page.ts with the browser build's settings, serves it
// on loopback (scripts/serve.mjs) and runs measureTraining in the page (WebGPU on SwiftShader where there is no
// GPU), with the flags and the Debian browser of the browser tests (test/browser/chromium.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { serveStatic } from '../scripts/serve.mjs';
import { chromiumMissing, launchChromium } from '../test/browser/chromium';
import { openPage } from '../test/browser/open-page';
import type { TrainConfig, TrainMeasurement, TrainSteps } from './train-step';
import type { TrainBenchPage } from './train-page';

export type BrowserTrainResult = { adapter: string; result: TrainMeasurement } | { skipped: string };

/** Runs `c` in a fresh headless Chromium; `outDir` receives the page bundle. Never throws: failures come back as `skipped`. */
export async function measureTrainingInChromium(root: string, outDir: string, c: TrainConfig, o: TrainSteps, timeoutMs: number): Promise<BrowserTrainResult> {
  const missing = chromiumMissing();
  if (missing) return { skipped: missing };
  mkdirSync(outDir, { recursive: true });
  try {
    // loaded from the checkout, not bundled into the harness: it locates the sources from its own path
    const url = pathToFileURL(join(root, 'scripts', 'browser-bundle.mjs')).href;
    const { browserOptions, checkBrowserOutputs } = (await import(url)) as typeof import('../scripts/browser-bundle.mjs');
    checkBrowserOutputs(await build(browserOptions({ entryPoints: { 'train-page': join(root, 'bench', 'train-page.ts') }, outdir: outDir })));
  } catch (e) {
    return { skipped: `page bundle failed: ${(e as Error).message.split('\n')[0]}` };
  }
  writeFileSync(join(outDir, 'index.html'), '<!doctype html>\n<meta charset="utf-8" />\n<title>gelan-webgpu training bench</title>\n<script type="module" src="/train-page.js"></script>\n');
  const server = await serveStatic({ '/': outDir });
  let browser: Awaited<ReturnType<typeof launchChromium>> | null = null;
  try {
    browser = await launchChromium();
    const page = await openPage(browser, server, '/', 'window.gelanTrainBench !== undefined');
    const run = page.evaluate(
      async ([cfg, steps]) => {
        const api = (window as unknown as { gelanTrainBench: TrainBenchPage }).gelanTrainBench;
        return { adapter: await api.adapter(), result: await api.run(cfg, steps) };
      },
      [c, o] as const,
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`no result within ${(timeoutMs / 1000).toFixed(0)} s`)), timeoutMs);
    });
    try {
      return await Promise.race([run, timeout]);
    } finally {
      clearTimeout(timer);
    }
  } catch (e) {
    return { skipped: (e as Error).message.split('\n')[0] };
  } finally {
    await browser?.close();
    await server.close();
  }
}
