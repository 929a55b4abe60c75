// The page side of the Chromium training line (bench/train-browser.ts): the same measureTraining as in Node, on
// the page's own WebGPU device (navigator.gpu), exposed as window.gelanTrainBench.
import { createDevice } from '../engine';
import { type TrainConfig, type TrainMeasurement, type TrainSteps, measureTraining } from './train-step';

export interface TrainBenchPage {
  adapter(): Promise<string>;
  run(c: TrainConfig, o: TrainSteps): Promise<TrainMeasurement>;
}

declare global {
  interface Window {
    gelanTrainBench?: TrainBenchPage;
  }
}

const device = createDevice();
window.gelanTrainBench = {
  async adapter() {
    const a = (await device).adapter;
    return [a.vendor, a.architecture, a.device, a.description].filter((s) => s).join(' / ');
  },
  async run(c, o) {
    return measureTraining(await device, c, o);
  },
};
