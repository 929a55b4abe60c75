// gelan-webgpu in a Vite app (no Vite configuration: the package's `browser` export condition keeps Dawn and every
// Node built-in out). Trains the small PGI detector for a few steps on the embedded shapes data in this tab, then
// detects on a validation image and draws the boxes. `?steps=N&imgsz=N` change the run.
import { DEMO_RECIPE, DataLoader, type Detection, Trainer, createDevice, createModel, demoHyp, detectImage, shapesDataset } from 'gelan-webgpu';

export interface ExampleResult {
  readonly steps: number;
  readonly losses: readonly number[];
  readonly detections: number;
  readonly error?: string;
}

declare global {
  interface Window {
    exampleResult?: ExampleResult;
  }
}

const params = new URLSearchParams(location.search);
const steps = Number(params.get('steps') ?? 4);
const imgsz = Number(params.get('imgsz') ?? 128);
const batch = 2;
const log = (line: string): void => void (document.querySelector('#log')!.textContent += `${line}\n`);

async function run(): Promise<ExampleResult> {
  const dev = await createDevice(); // navigator.gpu
  log(`device: ${dev.adapter.description || dev.adapter.vendor || 'WebGPU'}`);
  const data = shapesDataset({ seed: 0, train: steps * batch, val: 1, imgsz });
  const model = createModel(dev, 'yolov9-shapes', { nc: data.names.length, seed: 0 });
  const loader = new DataLoader(data.train, { imgsz, batchSize: batch, augment: true, seed: 0 });
  const trainer = new Trainer(model, loader, null, { epochs: 1, hyp: demoHyp(), optimizer: DEMO_RECIPE.optimizer, nominalBatch: batch });
  const losses: number[] = [];
  trainer.onStep((e) => {
    losses.push(e.items.reduce((a, b) => a + b, 0));
    log(`step ${e.batch + 1}/${e.batches}: loss ${losses.at(-1)!.toFixed(3)}`);
  });
  await trainer.run();

  model.eval();
  const { image } = await data.val.load(0);
  const detections: Detection[] = await detectImage(model, image, { imgsz, conf: 0.001 });
  draw(image, detections.slice(0, 5));
  log(`${detections.length} detections; best: ${detections.slice(0, 3).map((d) => `${data.names[d[5]]} ${d[4].toFixed(3)}`).join(', ')}`);
  trainer.dispose();
  model.dispose();
  dev.dispose();
  return { steps: losses.length, losses, detections: detections.length };
}

function draw(image: { width: number; height: number; data: Uint8Array }, boxes: readonly Detection[]): void {
  const canvas = document.querySelector<HTMLCanvasElement>('#view')!;
  canvas.width = image.width;
  canvas.height = image.height;
  const ctx = canvas.getContext('2d')!;
  const rgba = new ImageData(image.width, image.height);
  for (let i = 0; i < image.width * image.height; i++) {
    rgba.data.set(image.data.subarray(3 * i, 3 * i + 3), 4 * i);
    rgba.data[4 * i + 3] = 255;
  }
  ctx.putImageData(rgba, 0, 0);
  ctx.strokeStyle = '#f0f';
  for (const [x1, y1, x2, y2] of boxes) ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
}

run().then(
  (r) => (window.exampleResult = r),
  (e: unknown) => {
    log(`failed: ${String(e)}`);
    window.exampleResult = { steps: 0, losses: [], detections: 0, error: String(e) };
  },
);
