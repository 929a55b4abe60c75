// Soak test (outside the default suite): 2,000 training steps of the small PGI model on the embedded shapes data,
// reporting GPU memory every 100 steps; fails on any growth of live bytes or on a non-finite loss.
// Usage: npm run soak [-- --steps 2000 --imgsz 64 --batch 8]
import { createDevice, createModel, shapesDataset, DataLoader, Trainer, parseHyp, HYP_SCRATCH_HIGH } from '../dist/index.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const steps = arg('steps', 2000);
const imgsz = arg('imgsz', 64);
const batch = arg('batch', 8);
const dev = await createDevice();
const ds = shapesDataset({ seed: 1, train: 64, val: 8, imgsz });
const model = createModel(dev, 'yolov9-shapes', { nc: ds.names.length });
const loader = new DataLoader(ds.train, { imgsz, batchSize: batch, augment: true, seed: 1 });
const epochs = Math.ceil(steps / loader.length);
const hyp = parseHyp('lr0: 0.002\nwarmup_bias_lr: 0.01\n', 'soak', HYP_SCRATCH_HIGH);
const trainer = new Trainer(model, loader, null, { epochs, hyp, optimizer: 'AdamW', nominalBatch: batch, minWarmupIters: 10 });
const samples = [];
let n = 0;
let lastItems = [];
const t0 = performance.now();
trainer.onStep((e) => {
  n++;
  lastItems = e.items;
  if (e.items.some((v) => !Number.isFinite(v))) throw new Error(`non-finite loss at step ${n}: ${e.items}`);
  if (n >= steps) trainer.stop();
});
// sample at epoch ends, when no step is in flight (mid-epoch the next step's loss tensor may still be alive)
let next = 0;
trainer.onEpoch(() => {
  if (n < next) return;
  next = n + 100;
  const m = dev.memory();
  samples.push({ step: n, live: m.liveBytes, pooled: m.pooledBytes, tensors: m.liveTensors });
  console.log(`step ${n}: live ${m.liveBytes} B in ${m.liveTensors} tensors, pooled ${m.pooledBytes} B, loss ${lastItems.map((v) => v.toFixed(3)).join(' ')}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
});
await trainer.run();
const later = samples.slice(1);
const grew = later.some((s) => s.live !== later[0].live || s.tensors !== later[0].tensors);
const maxPooled = Math.max(...later.map((s) => s.pooled));
console.log(`soak: ${n} steps in ${((performance.now() - t0) / 1000).toFixed(0)} s; live bytes ${grew ? 'GREW' : 'flat'} at ${later[0]?.live} B (${later[0]?.tensors} tensors), pooled bytes ${later[0]?.pooled} -> max ${maxPooled}`);
trainer.dispose();
model.dispose();
dev.dispose();
process.exit(grew ? 1 : 0);
