// --data: `shapes` (the embedded procedural dataset), a data YAML, or a folder of images with labels/ beside.
import { existsSync, statSync } from 'node:fs';
import type { DetectionDataset } from '../training/data/dataset';
import { readDataYaml, yoloDataset } from '../training/data/dataset';
import { nodeFileSystem } from '../training/data/fs-node';
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
