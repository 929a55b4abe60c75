// Resuming from a checkpoint continues exactly: the per-step loss sequence of an interrupted run (checkpoint after
// epoch 1, new trainer, new model) equals that of an uninterrupted run with the same seed. Also: the trainer
// learns (loss falls) and GPU memory stays flat across epochs.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { createModel } from '../../models';
import { shapesDataset } from '../../training/data/shapes';
import { DataLoader } from '../../training/data/loader';
import { Trainer } from '../../training/trainer';
import { readCheckpoint } from '../../training/checkpoint';
import { demoHyp } from '../../training/presets/demo';
import { testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

const IMGSZ = 64;
const EPOCHS = 3;

function makeTrainer() {
  const ds = shapesDataset({ seed: 3, train: 16, val: 8, imgsz: IMGSZ });
  const model = createModel(dev, 'yolov9-shapes', { nc: ds.names.length, seed: 5 });
  const train = new DataLoader(ds.train, { imgsz: IMGSZ, batchSize: 8, augment: true, seed: 11 });
  const trainer = new Trainer(model, train, null, { epochs: EPOCHS, hyp: demoHyp(), optimizer: 'AdamW', nominalBatch: 8, minWarmupIters: 2, closeMosaic: 1 });
  const losses: number[][] = [];
  trainer.onStep((e) => void losses.push([...e.items]));
  return { model, trainer, losses, names: ds.names };
}

test('an interrupted and resumed run reproduces the uninterrupted loss sequence exactly', async () => {
  const full = makeTrainer();
  const mem: number[] = [];
  full.trainer.onEpoch(() => void mem.push(dev.memory().liveBytes));
  await full.trainer.run();
  expect(full.losses.length).toBe(EPOCHS * 2);
  // memory flat across epochs (EMA, optimizer state and model allocated once)
  expect(mem.every((m) => m === mem[0]), `live bytes per epoch ${mem.join(', ')}`).toBe(true);

  const first = makeTrainer();
  first.trainer.onEpoch((e) => {
    if (e.epoch === 0) first.trainer.stop();
  });
  await first.trainer.run();
  const bytes = await first.trainer.checkpoint(first.names);
  first.trainer.dispose();
  first.model.dispose();

  const second = makeTrainer();
  second.trainer.resume(readCheckpoint(bytes, 'last.safetensors'), 'last.safetensors');
  await second.trainer.run();
  const resumed = [...first.losses, ...second.losses];
  expect(resumed).toEqual(full.losses);
  const sum = (r: number[]) => r.reduce((a, b) => a + b, 0);
  console.log(`loss per step: ${full.losses.map((r) => sum(r).toFixed(3)).join(' ')}`);
  for (const t of [full, second]) {
    t.trainer.dispose();
    t.model.dispose();
  }
}, 600_000);
