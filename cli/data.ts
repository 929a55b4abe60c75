// --data: `shapes` (the embedded procedural dataset), a data YAML, a folder of images with labels/ beside, or a
// zip of a YOLO dataset (images/ + labels/ + optional data.yaml).
import { existsSync, statSync } from 'node:fs';
import type { DetectionDataset } from '../training/data/dataset';
import { readDataYaml, yoloDataset } from '../training/data/dataset';
import { nodeByteSource, nodeFileSystem } from '../training/data/fs-node';
import { openZip } from '../training/data/archive';
import { openUserDataset } from '../training/data/user-dataset';
import { shapesDataset } from '../training/data/shapes';

export interface DataSplits {
  readonly train: DetectionDataset;
  readonly val: DetectionDataset;
  readonly names: readonly string[];
  readonly source: string;
}

export interface ShapesOptions {
  readonly trainImages: number;
  readonly valImages: number;
  readonly imgsz: number;
  readonly seed: number;
}

export async function loadData(arg: string, shapes: ShapesOptions, names?: readonly string[]): Promise<DataSplits> {
  if (arg === 'shapes') {
    const d = shapesDataset({ seed: shapes.seed, train: shapes.trainImages, val: shapes.valImages, imgsz: shapes.imgsz });
    return { train: d.train, val: d.val, names: d.names, source: `shapes (embedded, seed ${shapes.seed}: ${shapes.trainImages} train / ${shapes.valImages} val images)` };
  }
  if (!existsSync(arg)) throw new Error(`--data ${arg}: no such file or folder (use 'shapes', a data YAML or an image folder)`);
  if (/\.zip$/i.test(arg)) {
    // a YOLO dataset archive, read as the demo page reads it (same split when it has no val folder)
    const zip = await openZip(await nodeByteSource(arg), arg);
    const ds = await openUserDataset(zip.fs, '/', { label: arg, names });
    for (const w of [...zip.skipped, ...ds.warnings]) console.warn(w);
    return ds;
  }
  const fs = nodeFileSystem();
  if (statSync(arg).isDirectory()) {
    if (!names || names.length === 0) throw new Error(`--data ${arg} is a folder: give the class names with --names a,b,c (or use a data YAML)`);
    const ds = await yoloDataset(fs, [arg], names);
    return { train: ds, val: ds, names, source: `${arg} (${ds.length} images; validating on the training images)` };
  }
  const cfg = await readDataYaml(fs, arg);
  const train = await yoloDataset(fs, cfg.train, cfg.names);
  const val = cfg.val.length ? await yoloDataset(fs, cfg.val, cfg.names) : train;
  return { train, val, names: cfg.names, source: `${arg} (${train.length} train / ${val.length} val images, ${cfg.names.length} classes)` };
}
