// GPU time per kernel of one training step (forward, loss, backward, SGD step, EMA) of a built-in model: where a
// step's time goes. Every dispatch gets its own timed compute pass (Device.profileStart), so the total is above an
// unprofiled step; the shares are what this is for. Run (bundled: the model configs are `?raw` imports):
//   npx esbuild bench/step-profile.ts --bundle --platform=node --format=esm --packages=external \
//     --loader:.yaml=text --outfile=bench/.out/step-profile.mjs
//   node bench/.out/step-profile.mjs [--cfg gelan-t] [--imgsz 320] [--batch 8] [--top 25] [--tile-search] [--mixed-precision]
import { createDevice, tensor, tidy } from '../engine';
import { createModel } from '../models';
import { DataLoader } from '../training/data/loader';
import { shapesDataset } from '../training/data/shapes';
import { detectionLoss } from '../training/loss/detection-loss';
import { Optimizer } from '../training/optim/optimizer';
import { ModelEMA } from '../training/optim/ema';
import { GradScaler } from '../training/optim/grad-scaler';

const arg = (k: string, d: string): string => {
  const i = process.argv.indexOf(k);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : d;
};
const cfg = arg('--cfg', 'gelan-t');
const imgsz = Number(arg('--imgsz', '320'));
const batch = Number(arg('--batch', '8'));
const top = Number(arg('--top', '25'));

const dev = await createDevice({ tileSearch: process.argv.includes('--tile-search') });
const mixed = process.argv.includes('--mixed-precision');
const model = createModel(dev, cfg, { nc: 6, seed: 0 }).train().setMixedPrecision(mixed);
// --augment: training batches as the trainer gets them (mosaic, affine, HSV; a different batch every step), so
// target counts vary between steps; otherwise two fixed batches alternate
const augment = process.argv.includes('--augment');
const data = shapesDataset({ seed: 0, train: batch * (augment ? 8 : 2), val: 1, imgsz });
const loader = new DataLoader(data.train, { imgsz, batchSize: batch, augment, seed: 0 });
const opt = new Optimizer(model, { name: 'SGD', lr: 0.01, momentum: 0.937, weightDecay: 0.0005 });
const ema = new ModelEMA(model);
const scaler = mixed ? new GradScaler(dev, { initScale: 256 }) : null;

/** Host time of the last step: recording every dispatch (the GPU works on submitted batches meanwhile). */
let hostMs = 0;
const step = async (i: number): Promise<void> => {
  const b = await loader.batch(0, i % loader.length);
  const h0 = performance.now();
  const items = tidy(dev, () => {
    const res = detectionLoss(model.forward(tensor(dev, b.images, b.shape)), b.targets, model.head.strides, model.nc);
    (scaler ? scaler.scale(res.loss) : res.loss).backward();
    opt.step(scaler);
    opt.zeroGrad();
    ema.update(model);
    return res.items;
  });
  hostMs = performance.now() - h0;
  await items.data();
  items.dispose();
};

await step(0); // compiles the pipelines
if (dev.tiles.pendingCount > 0) {
  const n = dev.tiles.pendingCount;
  const t0 = performance.now();
  await dev.tiles.run();
  console.log(`tile search: ${n} shapes in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await step(1);
}
// count bind groups made per step (a repeated step should make none: the pool hands the same buffers back)
let bindGroupsMade = 0;
const createBindGroup = dev.gpu.createBindGroup.bind(dev.gpu);
dev.gpu.createBindGroup = (d: GPUBindGroupDescriptor): GPUBindGroup => {
  bindGroupsMade++;
  return createBindGroup(d);
};
const walls: number[] = [];
const hosts: number[] = [];
const made: number[] = [];
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  const b0 = bindGroupsMade;
  await step(i);
  walls.push(performance.now() - t0);
  made.push(bindGroupsMade - b0);
  hosts.push(hostMs);
}
const median = (v: number[]): number => [...v].sort((a, b) => a - b)[v.length >> 1];
const wall = median(walls);
const host = median(hosts);
dev.profileStart();
await step(1);
const prof = await dev.profileEnd();
const total = prof.reduce((s, p) => s + p.ms, 0);
console.log(`${cfg} ${imgsz}px batch ${batch}${mixed ? ' mixed precision' : ''}: unprofiled step ${wall.toFixed(0)} ms wall (median of 3), host recording ${host.toFixed(0)} ms (${((100 * host) / wall).toFixed(0)} %), bind groups made per step ${made.join(', ')}; profiled GPU total ${total.toFixed(0)} ms in ${prof.reduce((s, p) => s + p.calls, 0)} dispatches`);
console.log('kernel'.padEnd(40), 'calls'.padStart(6), 'ms'.padStart(9), 'share'.padStart(7));
for (const p of prof.slice(0, top)) console.log(p.name.padEnd(40), String(p.calls).padStart(6), p.ms.toFixed(1).padStart(9), `${((100 * p.ms) / total).toFixed(1)}%`.padStart(7));
model.dispose();
opt.dispose();
ema.dispose();
scaler?.dispose();
dev.dispose();
process.exit(0);
