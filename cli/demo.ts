// `gelan demo`, the main job (`npm start`): train yolov9-shapes with the PGI branch on the embedded shapes data,
// remove the auxiliary branch, fold, validate, and detect on a validation image.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { builtinConfig, fuseModel, removeAuxBranch, saveSafetensors } from '../models';
import { encodePng } from '../training/data/image';
import { annotate } from '../training/data/draw';
import { validate } from '../training/validate';
import { writeAtomic } from './common';
import { DEMO_RECIPE } from '../training/presets/demo';
import { checked, positiveNumber } from './options';
import { detectFile } from './detect';
import { printVal } from './report';
import { train, trainDevice, trainInputs, trainOptions, type TrainArgs } from './train';

/** `gelan demo`. */
export function registerDemoCommand(program: Command): void {
  trainOptions(program.command('demo').description('the main job: train yolov9-shapes (PGI) on the embedded shapes data, remove the auxiliary branch, validate, detect'))
    .addOption(checked('--minutes <m>', 'training time budget in minutes: the epoch count is fitted after the first epoch and refitted after every validation cycle (only lowered after half of the run)', positiveNumber, 9))
    .action(async (o: TrainArgs & { minutes: number }, cmd: Command) => {
      // the main job's recipe unless overridden on the command line
      const given = (k: string): boolean => cmd.getOptionValueSource(k) === 'cli';
      const { cfg, ...recipe } = DEMO_RECIPE;
      const preset: Partial<TrainArgs> = { hyp: 'demo', cfg, ...recipe };
      for (const [k, v] of Object.entries(preset)) if (!given(k)) (o as unknown as Record<string, unknown>)[k] = v;
      const t0 = performance.now();
      const a = { ...o, name: o.name === 'exp' ? 'demo' : o.name };
      const inputs = await trainInputs(a);
      const dev = await trainDevice(o);
      console.log(`device: ${dev.adapter.description || dev.adapter.device} (shader-f16 ${dev.features.f16}, subgroups ${dev.features.subgroups})`);
      const r = await train(dev, a, inputs);
      const gelan = removeAuxBranch(r.model, builtinConfig('gelan-shapes', { nc: r.model.nc }));
      const st = join(r.dir, 'weights', 'gelan-shapes.safetensors');
      writeAtomic(st, await saveSafetensors(gelan, { names: JSON.stringify(r.data.names) }));
      fuseModel(gelan);
      const { result } = await validate(gelan, r.valLoader);
      console.log(`\nauxiliary branch removed: ${r.model.numParameters().toLocaleString('en-US')} -> ${gelan.numParameters().toLocaleString('en-US')} parameters (fused) in ${st}`);
      printVal(result, r.data.names);
      const sample = await r.valLoader.item(0, () => 0.5);
      const samplePath = join(r.dir, 'val_image0.png');
      writeFileSync(samplePath, encodePng(sample.image));
      const d = await detectFile(gelan, samplePath, o.imgsz, 0.25, 0.45);
      const detPath = join(r.dir, 'detect_val_image0.png');
      writeFileSync(detPath, encodePng(annotate(d.image, d.dets, r.data.names)));
      console.log(`detection on a validation image (${d.image.width}x${d.image.height}, ${sample.rows.length} labelled objects): ${d.dets.length} detections -> ${detPath}`);
      console.log(describeDetections(d.dets, sample.rows, d.image.width, d.image.height, r.data.names).join('\n'));
      console.log(`\nmain job: mAP@0.5 ${result.map50.toFixed(4)}, mAP@0.5:0.95 ${result.map.toFixed(4)} (gelan-shapes, aux branch removed); training ${r.trainSeconds.toFixed(0)} s at ${r.imagesPerSecond.toFixed(1)} img/s; total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
      gelan.dispose();
      r.model.dispose();
      dev.dispose();
    });
}

const iou = (a: readonly number[], b: readonly number[]): number => {
  const w = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const h = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = w * h;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter);
};

/**
 * One line per detection (class, confidence, box, and the labelled object it finds: same class, IoU ≥ 0.5), then
 * how many labelled objects were found. `dets` are [x1, y1, x2, y2, conf, class] in pixels, `labels` the image's
 * rows [class, cx, cy, w, h] normalised.
 */
export function describeDetections(dets: readonly number[][], labels: readonly number[][], width: number, height: number, names: readonly string[]): string[] {
  const boxes = labels.map(([c, cx, cy, w, h]) => [c, (cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height]);
  const found = new Set<number>();
  const lines = dets.map(([x1, y1, x2, y2, conf, cls]) => {
    let best = -1;
    let bestIou = 0.5;
    boxes.forEach((b, i) => {
      const v = b[0] === cls ? iou([x1, y1, x2, y2], b.slice(1)) : 0;
      if (v >= bestIou && !found.has(i)) [best, bestIou] = [i, v];
    });
    if (best >= 0) found.add(best);
    const box = [x1, y1, x2, y2].map((v) => v.toFixed(0)).join(', ');
    return `  ${String(names[cls] ?? cls).padEnd(10)} ${conf.toFixed(2)}  [${box}]  ${best >= 0 ? `matches a labelled ${names[cls] ?? cls} (IoU ${bestIou.toFixed(2)})` : 'no labelled object'}`;
  });
  return [...lines, `  found ${found.size} of ${boxes.length} labelled objects`];
}
