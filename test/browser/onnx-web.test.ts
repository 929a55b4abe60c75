// An exported ONNX model (gelan-t with test/models/calibrated.ts weights, dynamic batch/height/width) in onnxruntime-web's WebGPU execution provider in
// headless Chromium (SwiftShader without a GPU: f32 only), against our own engine's output in Node. The page and
// files are served through Playwright routes (onnxruntime-web from node_modules, the model and input as bytes).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { noGrad, tensor, tidy } from '../../engine/tensor';
import { deployableModel, exportOnnx } from '../../models';
import { calibrated, images } from '../models/calibrated';
import { ROOT } from '../cli/built-cli';
import { testDevice } from '../helpers';
import { type Browser, launchChromium, chromiumMissing } from './chromium';

const CI = process.env.CI === 'true' || process.env.CI === '1';
const missing = chromiumMissing();
if (missing && !CI) console.log(`onnx-web.test.ts skipped: ${missing}`);

const ORIGIN = 'http://127.0.0.1:9/'; // never contacted: every request is answered by a route (a secure context)
const ORT_DIR = join(ROOT, 'node_modules/onnxruntime-web/dist');
const PAGE = `<!doctype html><script type="module">
import * as ort from '/ort/ort.webgpu.min.mjs';
ort.env.wasm.wasmPaths = '/ort/';
ort.env.wasm.numThreads = 1;
try {
  const model = new Uint8Array(await (await fetch('/model.onnx')).arrayBuffer());
  const x = new Float32Array(await (await fetch('/input.bin')).arrayBuffer());
  const s = await ort.InferenceSession.create(model, { executionProviders: ['webgpu'] });
  const out = await s.run({ images: new ort.Tensor('float32', x, [2, 3, 96, 128]) });
  window.result = { dims: out.output0.dims, data: Array.from(out.output0.data), webgpu: !!(await ort.env.webgpu.device) };
} catch (e) {
  window.result = { error: String(e && e.stack || e) };
}
</script>`;

describe.skipIf(missing !== null && !CI)('ONNX export in onnxruntime-web (WebGPU) in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  test('gelan-t at 96×128, batch 2: max |web − ours| / max |ours| below 1e-4', async () => {
    const dev = await testDevice();
    const m = await calibrated(dev, 'gelan-t', 8);
    const model = await exportOnnx(m, { dynamic: true });
    const x = images(2, 96, 128, 9);
    const fused = deployableModel(m);
    const xt = tensor(dev, x, [2, 3, 96, 128]);
    const y = noGrad(dev, () => tidy(dev, () => fused.forward(xt).main.y!));
    const want = await y.data();
    [y, xt].forEach((t) => t.dispose());
    fused.dispose();
    m.dispose();

    const page = await browser.context.newPage();
    await page.route(`${ORIGIN}**`, async (route) => {
      const path = new URL(route.request().url()).pathname;
      if (path === '/') return route.fulfill({ contentType: 'text/html', body: PAGE });
      if (path === '/model.onnx') return route.fulfill({ contentType: 'application/octet-stream', body: Buffer.from(model) });
      if (path === '/input.bin') return route.fulfill({ contentType: 'application/octet-stream', body: Buffer.from(x.buffer) });
      if (path.startsWith('/ort/')) {
        const file = join(ORT_DIR, path.slice(5));
        const type = file.endsWith('.wasm') ? 'application/wasm' : 'text/javascript';
        return route.fulfill({ contentType: type, body: readFileSync(file) });
      }
      return route.fulfill({ status: 404, body: 'not found' });
    });
    await page.goto(ORIGIN);
    await page.waitForFunction('window.result !== undefined', undefined, { timeout: 180_000 });
    const r = (await page.evaluate('window.result')) as { dims?: number[]; data?: number[]; error?: string; webgpu?: boolean };
    await page.close();
    expect(r.error).toBeUndefined();
    expect(r.webgpu).toBe(true); // the session ran on a WebGPU device, not the wasm CPU backend
    expect(r.dims).toEqual([2, 84, 12 * 16 + 6 * 8 + 3 * 4]);
    let d = 0;
    let mx = 0;
    for (let i = 0; i < want.length; i++) {
      d = Math.max(d, Math.abs(r.data![i] - want[i]));
      mx = Math.max(mx, Math.abs(want[i]));
    }
    console.log(`onnxruntime-web WebGPU (Chromium) vs ours: max |a − b| / max |b| = ${(d / mx).toExponential(2)}`);
    expect(d / mx).toBeLessThan(1e-4);
  });
});
