// A demo training run from the page's settings: the main job's recipe (DEMO_RECIPE, hyp.demo.yaml, AdamW, no
// gradient accumulation) on the embedded shapes data. Shared by the demo's worker and by the browser test that
// trains the same run in Node to compare speeds.
import { DEMO_RECIPE, DataLoader, DetectionModel, type Device, type ModelConfig, Trainer, builtinConfig, demoHyp, seededRandom, shapesDataset } from 'gelan-webgpu';
import type { RunSettings } from './protocol';

/** Validation images whose predictions the page draws after every epoch. */
export const PREVIEW_IMAGES = 4;

export interface DemoRun {
  readonly config: ModelConfig;
  readonly model: DetectionModel;
  readonly trainer: Trainer;
  /** The first validation images, one batch. */
  readonly preview: DataLoader;
  readonly names: readonly string[];
}

export function createDemoRun(dev: Device, s: RunSettings): DemoRun {
  const data = shapesDataset({ seed: s.seed, train: s.trainImages, val: s.valImages, imgsz: s.imgsz });
  const config = builtinConfig(s.cfg, { nc: data.names.length });
  const model = new DetectionModel(dev, config, seededRandom(s.seed));
  const train = new DataLoader(data.train, { imgsz: s.imgsz, batchSize: s.batch, augment: true, seed: s.seed });
  const val = new DataLoader(data.val, { imgsz: s.imgsz, batchSize: Math.max(1, s.batch * 2), augment: false });
  const trainer = new Trainer(model, train, val, {
    epochs: s.epochs,
    hyp: demoHyp(),
    optimizer: DEMO_RECIPE.optimizer,
    nominalBatch: s.batch,
    minWarmupIters: DEMO_RECIPE.minWarmup,
    closeMosaic: Math.min(DEMO_RECIPE.closeMosaic, Math.floor(s.epochs / 3)),
    valEvery: 1,
  });
  const preview = new DataLoader(data.val, { imgsz: s.imgsz, batchSize: Math.min(PREVIEW_IMAGES, s.valImages), augment: false });
  return { config, model, trainer, preview, names: data.names };
}
