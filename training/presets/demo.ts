// The main job's recipe (`gelan demo`, `npm start`, and the demo page): yolov9-shapes trained from scratch on the
// embedded shapes data with AdamW, no gradient accumulation and the official 3-epoch warmup. One definition for every
// front end.
import { type Hyp, parseHyp } from '../hyp';
import demoHypText from './hyp.demo.yaml?raw';

/** The main job's training recipe: model, optimiser, epochs, batch, image size and the rest of its settings. */
export interface DemoRecipe {
  readonly cfg: string;
  readonly optimizer: 'AdamW';
  readonly epochs: number;
  readonly batch: number;
  readonly imgsz: number;
  /** Nominal batch = batch: no gradient accumulation. */
  readonly nbs: number;
  readonly minWarmup: number;
  readonly closeMosaic: number;
  readonly valEvery: number;
  readonly shapesTrain: number;
  readonly shapesVal: number;
}

/** The recipe `gelan demo` (npm start) trains with. */
export const DEMO_RECIPE: DemoRecipe = {
  cfg: 'yolov9-shapes',
  optimizer: 'AdamW',
  epochs: 40,
  batch: 16,
  imgsz: 128,
  nbs: 16,
  minWarmup: 20,
  closeMosaic: 3,
  valEvery: 2,
  shapesTrain: 512,
  shapesVal: 64,
};

/** The demo hyperparameters (training/presets/hyp.demo.yaml, official hyp format). */
export const demoHyp = (): Hyp => parseHyp(demoHypText, 'training/presets/hyp.demo.yaml');
