// Your own data in the demo page (headless Chromium, SwiftShader WebGPU): a zipped YOLO dataset made from the shapes
// renderer (test/shared/yolo-zip.ts; 3 classes, mixed image sizes) is loaded through the page — a copy with one bad
// label line, dropped on the page, is reported by file and line — fine-tuned from gelan-shapes weights trained on 6 classes, validated
// each epoch; the loss falls; the training checkpoint downloads and `gelan train --resume` continues it in Node.
// The same run in Node gives the per-step losses and speed to compare with; the live loop runs on a video file
// recorded in the page (no camera in headless Chromium) and reports frames per second.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT, buildBrowserDist } from '../../scripts/browser-bundle.mjs';
import { type StaticServer, serveStatic } from '../../scripts/serve.mjs';
import { createDevice } from '../../engine';
import { readWeightFile } from '../../models';
import { bytesSource, openZip, openUserDataset, demoHyp, readCheckpoint } from '../../training';
import type { DemoState } from '../../web/demo/main';
import { createRun, demoRecord, trainArgs } from '../../web/demo/run';
import { builtCli } from '../cli/built-cli';
import { labelName, shapesZip } from '../shared/yolo-zip';
import { type Browser, chromiumMissing, launchChromium } from './chromium';
import { openPage, waitProgressing } from './open-page';

/** The run stopped (paused or done) or reported an error. */
const PAUSED_OR_DONE = "window.gelanDemo.errors.length > 0 || window.gelanDemo.state === 'paused' || window.gelanDemo.state === 'done'";
const CI = process.env.CI === 'true' || process.env.CI === '1';
const WEIGHTS = join(ROOT, 'test', 'fixtures', 'demo', 'gelan-shapes.safetensors');
/** 24 images at 64 px: 20 train (3 batches of 8) and 4 held out for validation. */
const SETTINGS = { cfg: 'gelan-shapes', imgsz: 64, batch: 8, epochs: 4, trainImages: 0, valImages: 0, seed: 1, maxSteps: 0, userData: true, finetune: true };
const TAB_EPOCHS = 2;
const STEPS_PER_EPOCH = 3;
const ZIP = 'shapes3.zip';

const missing = chromiumMissing();
if (missing && !CI) console.log(`user-data page tests skipped: ${missing}`);
const describeChromium = missing ? describe.skip : describe;

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? (s[s.length >> 1] + s[(s.length - 1) >> 1]) / 2 : NaN;
};
const csvRows = (file: string): number[][] => readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map((s) => Number(s.trim())));

describeChromium('your dataset in the demo page (headless Chromium)', () => {
  const cli = builtCli('gelan-user-data-', 600_000);
  let server: StaticServer;
  let browser: Browser;
  const logs: string[] = [];
  const state = (page: Page): Promise<DemoState> => page.evaluate(() => structuredClone(window.gelanDemo!));

  beforeAll(async () => {
    const dist = join(cli.dir, 'dist', 'browser');
    await buildBrowserDist(dist);
    server = await serveStatic({ '/dist/browser/': dist, '/web/': join(ROOT, 'web') });
    browser = await launchChromium();
  }, 300_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (logs.length > 0) console.log(`page console:\n  ${logs.slice(0, 40).join('\n  ')}`);
  });

  test('load (bad copy reported), fine-tune, validate, download the checkpoint, resume in Node; live loop on a video file', async () => {
    const good = await shapesZip({ images: 24, imgsz: 64, classes: 3, seed: 5, mixedSizes: true });
    const bad = await shapesZip({ images: 24, imgsz: 64, classes: 3, seed: 5, mixedSizes: true, badLabel: { image: 7, line: 2 } });
    writeFileSync(join(cli.dir, ZIP), good.bytes);
    const q = `?cfg=${SETTINGS.cfg}&imgsz=${SETTINGS.imgsz}&batch=${SETTINGS.batch}&epochs=${SETTINGS.epochs}&seed=${SETTINGS.seed}&steps=${TAB_EPOCHS * STEPS_PER_EPOCH}`;
    const page = await openPage(browser, server, `/web/demo/${q}`, 'window.gelanDemo !== undefined && (window.gelanDemo.ready || window.gelanDemo.fatal !== null)', { logs, timeoutMs: 120_000 });
    const zipFile = (name: string, buffer: Uint8Array) => ({ name, mimeType: 'application/zip', buffer: Buffer.from(buffer) });
    let tabIps = NaN;
    let tabLosses: number[][] = [];
    try {
      expect((await state(page)).fatal).toBeNull();
      // the bad copy, dropped on the page: refused with the label file and line
      await page.evaluate((bytes) => {
        const dt = new DataTransfer();
        dt.items.add(new File([new Uint8Array(bytes)], 'bad.zip', { type: 'application/zip' }));
        document.querySelector('#data-drop')!.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, Array.from(bad.bytes));
      await page.waitForFunction(() => window.gelanDemo!.errors.length > 0, undefined, { timeout: 120_000 });
      expect((await state(page)).errors.join('\n')).toContain(`dataset: /labels/${labelName(7)}.txt:2: expected 5 values (class cx cy w h) or a polygon`);
      await page.evaluate(() => void (window.gelanDemo!.errors.length = 0));

      await page.setInputFiles('#data-zip', zipFile(ZIP, good.bytes));
      await page.waitForFunction(() => window.gelanDemo!.dataset !== null || window.gelanDemo!.errors.length > 0, undefined, { timeout: 120_000 });
      let s = await state(page);
      expect(s.errors).toEqual([]);
      const d = s.dataset!;
      expect(d.names).toEqual(good.names);
      expect([d.train.images, d.val.images]).toEqual([20, 4]);
      expect(d.train.perClass.reduce((a, b) => a + b, 0)).toBe(d.train.boxes);
      expect(d.thumbnails).toBe(6);
      expect(await page.locator('#data-thumbs canvas').count()).toBe(6);
      mkdirSync(join(ROOT, 'test', 'browser', 'artifacts'), { recursive: true });
      await page.locator('#data-section').screenshot({ path: join(ROOT, 'test', 'browser', 'artifacts', 'demo-dataset.png') });

      await page.setInputFiles('#weights-input', WEIGHTS);
      await page.waitForFunction(() => window.gelanDemo!.model !== null || window.gelanDemo!.errors.length > 0, undefined, { timeout: 60_000 });
      await page.check('#finetune');
      expect(await page.locator('#data').inputValue()).toBe('user');
      await page.click('#start');
      await waitProgressing(page, PAUSED_OR_DONE, { timeoutMs: 900_000, what: 'fine-tuning on the user dataset' });
      s = await state(page);
      expect(s.errors, 'page messages').toEqual([]);
      expect(s.state).toBe('paused');
      expect(s.notes.join('\n')).toMatch(/fine-tuning: transferred 692\/698 tensors from gelan-shapes\.safetensors; left out \(kept their initialisation\): model\.22\.cv3\.0\.2/);
      expect(s.epochs.map((e) => e.epoch)).toEqual([0, 1]);
      for (const e of s.epochs) expect(e.map50, `epoch ${e.epoch} validated`).not.toBeNull();
      const epochLoss = s.epochs.map((e) => e.train[0] + e.train[1] + e.train[2]);
      expect(epochLoss[1], `mean loss per epoch ${epochLoss.map((v) => v.toFixed(3))}`).toBeLessThan(epochLoss[0]);
      tabLosses = s.losses;
      tabIps = median(s.losses.slice(1).map((r) => r[4]));

      const download = page.waitForEvent('download', { timeout: 120_000 });
      await page.click('#save-checkpoint');
      const file = await download;
      await file.saveAs(join(cli.dir, 'tab.safetensors'));
      const ck = readCheckpoint(new Uint8Array(readFileSync(join(cli.dir, 'tab.safetensors'))), 'tab.safetensors');
      expect(ck.meta.state.epoch).toBe(TAB_EPOCHS);
      expect(ck.meta.options.data).toBe(ZIP);

      // the live loop on a video file recorded here from a canvas animation (MediaRecorder, WebM)
      const video = await page.evaluate(async () => {
        const c = document.createElement('canvas');
        c.width = 160;
        c.height = 120;
        const g = c.getContext('2d')!;
        const rec = new MediaRecorder(c.captureStream(15), { mimeType: 'video/webm' });
        const chunks: Blob[] = [];
        rec.ondataavailable = (e) => chunks.push(e.data);
        const stopped = new Promise((res) => (rec.onstop = res));
        rec.start(100);
        for (let f = 0; f < 45; f++) {
          g.fillStyle = '#555';
          g.fillRect(0, 0, 160, 120);
          g.fillStyle = ['#d33', '#3d3', '#33d'][f % 3];
          g.beginPath();
          g.arc(30 + f * 2, 60, 18, 0, 2 * Math.PI);
          g.fill();
          await new Promise((res) => setTimeout(res, 66));
        }
        rec.stop();
        await stopped;
        return Array.from(new Uint8Array(await new Blob(chunks).arrayBuffer()));
      });
      expect(video.length).toBeGreaterThan(100);
      await page.setInputFiles('#video-input', { name: 'circles.webm', mimeType: 'video/webm', buffer: Buffer.from(video) });
      await page.waitForFunction(() => (window.gelanDemo!.live?.frames ?? 0) >= 8 || window.gelanDemo!.errors.length > 0, undefined, { timeout: 180_000 });
      s = await state(page);
      expect(s.errors).toEqual([]);
      const live = s.live!;
      expect(live.source).toBe('circles.webm');
      expect(live.fps).toBeGreaterThan(0);
      await page.click('#live-stop');
      console.log(`live loop (video file, ${SETTINGS.cfg} EMA of the run at detect size ${await page.locator('#detect-imgsz').inputValue()}): ${live.frames} frames, ${live.fps.toFixed(2)} frames/s in headless Chromium (SwiftShader)`);
    } finally {
      await page.close();
    }

    // Node: the same run on Dawn (lavapipe): per-step losses and speed of the tab's epochs
    const dev = await createDevice();
    let nodeLosses: number[][] = [];
    let nodeIps = NaN;
    try {
      const zip = await openZip(bytesSource(good.bytes), ZIP);
      const data = await openUserDataset(zip.fs, '/', { label: ZIP });
      const run = createRun(dev, demoRecord(SETTINGS, ZIP, 'gelan-shapes.safetensors'), data, { hyp: demoHyp(), weights: readWeightFile(new Uint8Array(readFileSync(WEIGHTS)), WEIGHTS) });
      run.trainer.onStep((e) => {
        nodeLosses.push([e.iteration, ...e.items, e.imagesPerSecond]);
        if (nodeLosses.length >= TAB_EPOCHS * STEPS_PER_EPOCH) run.trainer.stop();
      });
      await run.trainer.run();
      nodeIps = median(nodeLosses.slice(1).map((r) => r[4]));
      // its checkpoint after the same two epochs (the format gelan train writes), for the tab to continue
      expect(run.trainer.state.epoch).toBe(TAB_EPOCHS);
      writeFileSync(join(cli.dir, 'node.safetensors'), await run.trainer.checkpoint(run.names));
      run.trainer.dispose();
      run.model.dispose();
    } finally {
      dev.dispose();
    }
    // SwiftShader and lavapipe run the same WGSL but may round differently (fused multiply-add, exp/log precision):
    // per-step losses agree to float32 rounding, not bit for bit (3.6e-7 relative seen over 6 steps)
    nodeLosses = nodeLosses.slice(0, tabLosses.length);
    const rel = tabLosses.map((r, i) => Math.max(...[1, 2, 3].map((k) => Math.abs(r[k] - nodeLosses[i][k]) / Math.max(Math.abs(nodeLosses[i][k]), 1e-3))));
    expect(tabLosses.map((r) => r[0])).toEqual(nodeLosses.map((r) => r[0]));
    expect(Math.max(...rel), `relative difference per step ${rel.map((v) => v.toExponential(1))}`).toBeLessThan(1e-4);

    // gelan train --resume continues the tab's checkpoint; an uninterrupted gelan train of the same options
    const r = cli.gelan('train', '--resume', 'tab.safetensors');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(new RegExp(`resuming tab\\.safetensors at epoch ${TAB_EPOCHS}, iteration ${TAB_EPOCHS * STEPS_PER_EPOCH}`));
    const full = cli.gelan('train', ...trainArgs(demoRecord(SETTINGS, ZIP, 'gelan-shapes.safetensors'), WEIGHTS), '--name', 'full');
    expect(full.code, full.err).toBe(0);
    const resumed = csvRows(join(cli.dir, 'runs/train/tab/results.csv'));
    const want = csvRows(join(cli.dir, 'runs/train/full/results.csv'));
    expect(resumed.map((row) => row[0])).toEqual([2, 3]);
    // from the tab's weights (SwiftShader) vs lavapipe throughout: results.csv keeps 5 significant digits, so equal
    // epochs may differ by one in the last digit when the devices' rounding differences straddle it
    const diff = resumed.map((row, k) => Math.max(...[1, 2, 3].map((c) => Math.abs(row[c] - want[k + 2][c]) / want[k + 2][c])));
    expect(Math.max(...diff), `resumed vs uninterrupted epoch losses ${JSON.stringify(resumed.map((x) => x.slice(1, 4)))} vs ${JSON.stringify(want.slice(2).map((x) => x.slice(1, 4)))}`).toBeLessThan(2e-4);

    // the tab continues the Node run's checkpoint for one epoch: its mean losses are the uninterrupted run's
    const page2 = await openPage(browser, server, `/web/demo/?steps=${STEPS_PER_EPOCH}`, 'window.gelanDemo !== undefined && (window.gelanDemo.ready || window.gelanDemo.fatal !== null)', { logs, timeoutMs: 120_000 });
    let tabResumed: number[] = [];
    try {
      // this time the dataset as a picked folder (the zip's files unpacked): the same images, labels and split
      const folder = join(cli.dir, 'shapes3');
      for (const [name, bytes] of Object.entries(good.files)) {
        mkdirSync(dirname(join(folder, name)), { recursive: true });
        writeFileSync(join(folder, name), bytes);
      }
      await page2.setInputFiles('#data-folder', folder);
      await page2.waitForFunction(() => window.gelanDemo!.dataset !== null || window.gelanDemo!.errors.length > 0, undefined, { timeout: 120_000 });
      await page2.setInputFiles('#checkpoint-input', join(cli.dir, 'node.safetensors'));
      await waitProgressing(page2, 'window.gelanDemo.errors.length > 0 || window.gelanDemo.epochs.length > 0', { timeoutMs: 900_000, what: 'the resumed run\'s first epoch' });
      await waitProgressing(page2, PAUSED_OR_DONE, { timeoutMs: 300_000, what: 'the resumed run' });
      const s2 = await state(page2);
      expect(s2.errors).toEqual([]);
      expect(s2.dataset!.source).toMatch(/^shapes3 \(20 train \/ 4 val images, 3 classes, names from data\.yaml/);
      expect(s2.notes.join('\n')).toContain(`resume: resuming node.safetensors at epoch ${TAB_EPOCHS}, iteration ${TAB_EPOCHS * STEPS_PER_EPOCH}`);
      expect(s2.notes.join('\n')).toContain(`node.safetensors was trained on '${ZIP}'; continuing on the loaded 'shapes3'`);
      expect(s2.losses.map((r) => r[0])).toEqual([6, 7, 8]);
      expect(s2.epochs.map((e) => e.epoch)).toEqual([TAB_EPOCHS]);
      tabResumed = [...s2.epochs[0].train];
    } finally {
      await page2.close();
    }
    const diff3 = tabResumed.map((v, c) => Math.abs(v - want[TAB_EPOCHS][c + 1]) / want[TAB_EPOCHS][c + 1]);
    expect(Math.max(...diff3), `tab-resumed epoch ${TAB_EPOCHS + 1} ${tabResumed} vs uninterrupted ${want[TAB_EPOCHS].slice(1, 4)}`).toBeLessThan(2e-4);

    console.log(
      `Node checkpoint continued in the tab: epoch ${TAB_EPOCHS + 1} losses within ${Math.max(...diff3).toExponential(1)} of the uninterrupted run; ` +
      `user dataset (${ZIP}, 20 train / 4 val at 64 px, fine-tuned ${SETTINGS.cfg} 6 → 3 classes): per-step losses tab vs Node within ${Math.max(...rel).toExponential(1)} relative; ` +
        `gelan train --resume of the tab's checkpoint vs uninterrupted: epoch losses within ${Math.max(...diff).toExponential(1)}; ` +
        `training images/s: tab (SwiftShader) ${tabIps.toFixed(2)}, Node (Dawn lavapipe) ${nodeIps.toFixed(2)}`,
    );
  }, 1_500_000);

  test('a batch too large for the device is refused with the largest batch that fits', async () => {
    // the first conv's output (16 channels at half the input side) of gelan-shapes at a large side outgrows the
    // adapter's binding limit: refused before any data is loaded, naming the largest batch that fits
    const probe = await openPage(browser, server, '/web/demo/', 'window.gelanDemo !== undefined && (window.gelanDemo.ready || window.gelanDemo.fatal !== null)', { logs, timeoutMs: 120_000 });
    const limit = (await state(probe)).device!.limits.maxStorageBufferBindingSize;
    await probe.close();
    const imgsz = 1920;
    const perImage = 16 * (imgsz / 2) ** 2 * 4;
    const fits = Math.floor(limit / perImage);
    const batch = fits + 2;
    if (batch > 64) {
      console.log(`too-large batch test not run: this adapter binds ${limit} bytes, more than batch 64 at ${imgsz} px needs`);
      return;
    }
    const page = await openPage(browser, server, `/web/demo/?cfg=gelan-shapes&imgsz=${imgsz}&batch=${batch}&epochs=1&train=8&val=4&autostart=1`, 'window.gelanDemo !== undefined && (window.gelanDemo.ready || window.gelanDemo.fatal !== null)', { logs, timeoutMs: 120_000 });
    try {
      await page.waitForFunction(() => window.gelanDemo!.errors.length > 0 || window.gelanDemo!.fatal !== null, undefined, { timeout: 120_000, polling: 250 });
      const s = await state(page);
      expect(s.fatal).toBeNull();
      expect(s.errors.join('\n')).toMatch(new RegExp(`^train: batch ${batch} at ${imgsz} px needs \\d+ MiB for layer 0's output in one buffer, more than this device binds \\(maxStorageBufferBindingSize \\d+ MiB\\) — try batch ${fits}$`, 'm'));
      expect(s.steps).toBe(0);
      console.log(`too-large batch on ${limit}-byte bindings: ${s.errors[0]}`);
    } finally {
      await page.close();
    }
  });
});

if (missing && CI) {
  test('Chromium is installed (required under CI)', () => {
    throw new Error(`user-data page tests cannot run: ${missing}`);
  });
}
