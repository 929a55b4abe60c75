// Dispatches and wall time of one training step of the main job's model (yolov9-shapes, imgsz 128, batch 16,
// AdamW, an optimiser step every batch as in `gelan demo`), split into forward+loss, backward, optimiser step
// and EMA; plus the optimiser step + EMA alone. Medians of repeated steps (the machine is shared: noisy).
// Run (bundled, because the model configs are `?raw` imports that tsx cannot load):
//   npx esbuild bench/optim-step-measure.ts --bundle --platform=node --format=esm --packages=external \
//     --loader:.yaml=text --outfile=bench/.out/optim-step-measure.mjs
//   node bench/.out/optim-step-measure.mjs [--opt AdamW|SGD] [--steps 9] [--batch 16] [--imgsz 128]
import { createDevice, tensor, tidy } from '../engine';
import { createModel } from '../models';
import { DataLoader } from '../training/data/loader';
import { shapesDataset } from '../training/data/shapes';
import { detectionLoss } from '../training/loss/detection-loss';
import { type OptimizerName, Optimizer } from '../training/optim/optimizer';
import { ModelEMA } from '../training/optim/ema';

const arg = (k: string, d: string): string => {
  const i = process.argv.indexOf(k);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : d;
};
const optName = arg('--opt', 'AdamW') as OptimizerName;
const steps = Number(arg('--steps', '9'));
const batch = Number(arg('--batch', '16'));
const imgsz = Number(arg('--imgsz', '128'));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dev = await createDevice();
const model = createModel(dev, 'yolov9-shapes', { nc: 6, seed: 0 }).train();
const data = shapesDataset({ seed: 0, train: batch * 4, val: 1, imgsz });
const loader = new DataLoader(data.train, { imgsz, batchSize: batch, augment: true, seed: 0 });
const opt = new Optimizer(model, { name: optName, lr: 0.003, momentum: 0.9, weightDecay: 0.0005 });
const ema = new ModelEMA(model);

// count dev.dispatch calls per phase
let count = 0;
const dispatch = dev.dispatch.bind(dev);
dev.dispatch = (...a: Parameters<typeof dispatch>): void => {
  count++;
  dispatch(...a);
};
const phase = (f: () => void): number => {
  const c0 = count;
  f();
  return count - c0;
};

const rows: { fwd: number; bwd: number; opt: number; ema: number; ms: number }[] = [];
for (let s = 0; s < steps + 2; s++) {
  const b = await loader.batch(0, s % loader.length);
  const t0 = performance.now();
  const r = { fwd: 0, bwd: 0, opt: 0, ema: 0, ms: 0 };
  const items = tidy(dev, () => {
    let res!: ReturnType<typeof detectionLoss>;
    r.fwd = phase(() => {
      res = detectionLoss(model.forward(tensor(dev, b.images, b.shape)), b.targets, model.head.strides, model.nc);
    });
    r.bwd = phase(() => res.loss.backward());
    r.opt = phase(() => {
      opt.step();
      opt.zeroGrad();
    });
    r.ema = phase(() => ema.update(model));
    return res.items;
  });
  await items.data();
  items.dispose();
  r.ms = performance.now() - t0;
  if (s >= 2) rows.push(r); // the first two compile pipelines
}

// the optimiser step + EMA alone, on gradients of one more backward
tidy(dev, () => {
  const b = { images: new Float32Array(batch * 3 * imgsz * imgsz).fill(0.5) };
  const out = model.forward(tensor(dev, b.images, [batch, 3, imgsz, imgsz]));
  detectionLoss(out, new Float32Array(0), model.head.strides, model.nc).loss.backward();
});
await dev.sync();
const optMs: number[] = [];
for (let s = 0; s < steps; s++) {
  const t0 = performance.now();
  opt.step();
  ema.update(model);
  await dev.sync();
  optMs.push(performance.now() - t0);
}

const m = (k: keyof (typeof rows)[number]): number => median(rows.map((r) => r[k]));
const params = [...model.namedParameters()].length;
const state = [...model.stateEntries()].length;
console.log(`${optName}, yolov9-shapes ${imgsz}px batch ${batch}: ${params} parameter tensors, ${state} state tensors; medians of ${steps} steps`);
console.log(`dispatches per step: forward+loss ${m('fwd')}, backward ${m('bwd')}, optimiser ${m('opt')}, EMA ${m('ema')}, total ${m('fwd') + m('bwd') + m('opt') + m('ema')}`);
console.log(`step wall ms: median ${m('ms').toFixed(0)} (all: ${rows.map((r) => r.ms.toFixed(0)).join(' ')})`);
console.log(`optimiser step + EMA alone, wall ms: median ${median(optMs).toFixed(1)} (all: ${optMs.map((x) => x.toFixed(1)).join(' ')})`);
opt.dispose();
ema.dispose();
model.dispose();
dev.dispose();
process.exit(0);
