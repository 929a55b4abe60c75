// gelan-webgpu in Node: train the small PGI detector (yolov9-shapes) for a few steps on the embedded shapes data
// (generated, nothing to download), then detect on a validation image. Dawn (npm `webgpu`) provides the GPU.
//
//   npm install gelan-webgpu
//   node train-and-detect.mjs [--steps 8] [--imgsz 128] [--batch 4]
import { DataLoader, DEMO_RECIPE, Trainer, createDevice, createModel, demoHyp, detectImage, shapesDataset } from 'gelan-webgpu';

const option = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const steps = option('steps', 8);
const imgsz = option('imgsz', 128);
const batch = option('batch', 4);

const dev = await createDevice();
console.log(`device: ${dev.adapter.description || dev.adapter.vendor}`);
const data = shapesDataset({ seed: 0, train: steps * batch, val: 1, imgsz });
const model = createModel(dev, 'yolov9-shapes', { nc: data.names.length, seed: 0 });
const loader = new DataLoader(data.train, { imgsz, batchSize: batch, augment: true, seed: 0 });
const trainer = new Trainer(model, loader, null, { epochs: 1, hyp: demoHyp(), optimizer: DEMO_RECIPE.optimizer, nominalBatch: batch });
trainer.onStep((e) => console.log(`step ${e.batch + 1}/${e.batches}: loss box ${e.items[0].toFixed(3)} cls ${e.items[1].toFixed(3)} dfl ${e.items[2].toFixed(3)}`));
await trainer.run();

model.eval();
const { image } = await data.val.load(0);
const detections = await detectImage(model, image, { imgsz, conf: 0.001 });
console.log(`${detections.length} detections on a ${image.width}×${image.height} validation image; the best:`);
for (const [x1, y1, x2, y2, conf, cls] of detections.slice(0, 3)) {
  console.log(`  ${data.names[cls]} ${conf.toFixed(3)} at [${[x1, y1, x2, y2].map((v) => v.toFixed(0)).join(', ')}]`);
}
trainer.dispose();
model.dispose();
dev.dispose();
