// A user's YOLO-format dataset as it arrives in a zip or a dropped folder: find its root (a single top folder is
// stepped into), its class names (data.yaml, classes.txt, or the labels), its splits (images/train + images/val,
// train/images + valid/images, or one images/ folder split here into train and val), check every label file
// (file:line errors, as the CLI) and leave out files named as images that are not JPEG or PNG. Images are decoded
// only when a batch needs them. The demo page and `gelan train --data set.zip` both use it.
import { type DetectionDataset, type FileDataset, imageToLabelPath, parseDataYaml, yoloDataset } from './dataset';
import { type FileSystem, basename, extname, joinPaths } from './fs';
import { sniffFormat } from './image';
import type { Labels } from './labels';

/** A YOLO-format dataset found in a file system: its splits, class names, where it came from, what was left out. */
export interface UserDataset {
  readonly train: DetectionDataset;
  readonly val: DetectionDataset;
  readonly names: readonly string[];
  /** One line: where it came from, image counts, how it was split. */
  readonly source: string;
  /** Files left out and other notes, one line each. */
  readonly warnings: readonly string[];
}

/** How to read a user dataset: its name in messages, class names, the share held out for validation. */
export interface UserDatasetOptions {
  /** Names the archive or folder in messages. */
  readonly label: string;
  /** Class names when the dataset carries none. */
  readonly names?: readonly string[];
  /** Share of the images held out for validation when there is no val split. Default 0.2. */
  readonly valFraction?: number;
}

/** Images `indices` of `ds` as a dataset of their own. */
export function subsetDataset(ds: DetectionDataset, indices: readonly number[]): DetectionDataset {
  const at = (i: number): number => {
    if (!(Number.isInteger(i) && i >= 0 && i < indices.length)) throw new Error(`dataset index ${i} is outside [0, ${indices.length})`);
    return indices[i];
  };
  return {
    names: ds.names,
    length: indices.length,
    path: (i) => ds.path(at(i)),
    labels: (i) => ds.labels(at(i)),
    load: (i) => ds.load(at(i)),
    imageSize: (i) => ds.imageSize(at(i)),
  };
}

/**
 * Every k-th image (k = round(1 / fraction), the last of each k) goes to validation: deterministic, spread over
 * the sorted file list, and at least one image on each side when there are two or more.
 */
export function splitIndices(n: number, fraction: number): { train: number[]; val: number[] } {
  const k = Math.max(2, Math.round(1 / fraction));
  const train: number[] = [];
  const val: number[] = [];
  for (let i = 0; i < n; i++) (i % k === k - 1 ? val : train).push(i);
  if (val.length === 0 && n >= 2) val.push(train.pop()!);
  return { train, val };
}

const HIDDEN = (name: string): boolean => name.startsWith('.') || name === '__MACOSX';

async function findRoot(fs: FileSystem, dir: string): Promise<string> {
  for (let depth = 0; depth < 4; depth++) {
    const ents = (await fs.listDir(dir)).filter((e) => !HIDDEN(e.name));
    if (ents.some((e) => e.isDirectory && e.name === 'images') || ents.some((e) => !e.isDirectory)) return dir;
    const dirs = ents.filter((e) => e.isDirectory);
    if (dirs.length !== 1) return dir;
    dir = joinPaths(dir, dirs[0].name);
  }
  return dir;
}

async function firstDir(fs: FileSystem, root: string, candidates: readonly string[]): Promise<string | null> {
  for (const c of candidates) if (await fs.isDirectory(joinPaths(root, c))) return joinPaths(root, c);
  return null;
}

/** Class names from data.yaml (or another .yaml at the root) or classes.txt; null when there are none. */
async function readNames(fs: FileSystem, root: string): Promise<{ names: string[]; from: string } | null> {
  const ents = await fs.listDir(root);
  const yamls = ents.filter((e) => !e.isDirectory && ['yaml', 'yml'].includes(extname(e.name))).map((e) => e.name);
  yamls.sort((a, b) => Number(b.startsWith('data.')) - Number(a.startsWith('data.')));
  for (const y of yamls) {
    const file = joinPaths(root, y);
    const text = new TextDecoder().decode(await fs.readFile(file));
    if (!/^names\s*:/m.test(text)) continue;
    // the names only: its train/val paths point into the machine it was made on
    const doc = parseDataYaml(/^(train|val)\s*:/m.test(text) ? text : `train: .\nval: .\n${text}`, file);
    return { names: doc.names, from: file };
  }
  const classes = joinPaths(root, 'classes.txt');
  if (await fs.exists(classes)) {
    const names = new TextDecoder().decode(await fs.readFile(classes)).split(/\r\n|\r|\n/).map((s) => s.trim()).filter(Boolean);
    return { names, from: classes };
  }
  return null;
}

/** Indices of images whose first bytes are a JPEG or PNG signature; the others named in `warnings`. */
async function decodableImages(fs: FileSystem, ds: FileDataset, warnings: string[]): Promise<number[]> {
  const keep: number[] = [];
  for (let i = 0; i < ds.length; i++) {
    const p = ds.path(i);
    const head = fs.readFileHead ? await fs.readFileHead(p, 16) : (await fs.readFile(p)).subarray(0, 16);
    if (sniffFormat(head)) keep.push(i);
    else warnings.push(`${p}: not a JPEG or PNG image although named .${extname(p)} (skipped)`);
  }
  return keep;
}

/** Open a YOLO-format dataset under `dir` of `fs` (a zip's root '/', or a dropped folder). */
export async function openUserDataset(fs: FileSystem, dir: string, o: UserDatasetOptions): Promise<UserDataset> {
  const root = await findRoot(fs, dir);
  const warnings: string[] = [];
  const named = await readNames(fs, root);
  const names = named?.names ?? o.names ?? null;
  const trainDir = await firstDir(fs, root, ['images/train', 'train/images', 'images/training']);
  const valDir = trainDir ? await firstDir(fs, root, ['images/val', 'images/valid', 'images/validation', 'valid/images', 'val/images']) : null;
  const allDir = trainDir ?? (await firstDir(fs, root, ['images']));
  if (!allDir) throw new Error(`${o.label}: no images/ folder (expected images/ and labels/, or images/train and images/val, optionally with data.yaml)`);
  const open = async (d: string, nm: readonly string[] | null): Promise<DetectionDataset> => {
    const ds = await yoloDataset(fs, [d], nm, { labelPath: imageToLabelPath });
    warnings.push(...ds.warnings);
    const keep = await decodableImages(fs, ds, warnings);
    if (keep.length === 0) throw new Error(`${o.label}: no JPEG or PNG images in ${d}`);
    return keep.length === ds.length ? ds : subsetDataset(ds, keep);
  };
  let train = await open(allDir, names);
  const finalNames = names ?? train.names;
  let val: DetectionDataset;
  let how: string;
  if (valDir) {
    val = await open(valDir, finalNames);
    how = `${valDir.slice(root.length).replace(/^\//, '')} as validation`;
  } else {
    const frac = o.valFraction ?? 0.2;
    const s = splitIndices(train.length, frac);
    if (s.val.length === 0) {
      val = train;
      how = 'one image: validating on it';
    } else {
      val = subsetDataset(train, s.val);
      train = subsetDataset(train, s.train);
      how = `no val split: every ${Math.max(2, Math.round(1 / frac))}th image held out for validation`;
    }
  }
  const nameSrc = named ? `names from ${basename(named.from)}` : o.names ? 'names given' : 'classes numbered from the labels';
  return { train, val, names: finalNames, warnings, source: `${o.label} (${train.length} train / ${val.length} val images, ${finalNames.length} classes, ${nameSrc}; ${how})` };
}

/** Images and boxes per class of one split. */
export interface DatasetStats {
  readonly images: number;
  readonly boxes: number;
  /** Boxes per class (index = class). */
  readonly perClass: readonly number[];
  /** Images without any label. */
  readonly background: number;
}

/** Images, boxes per class and unlabelled images of a dataset (labels only, no image decoding). */
export async function datasetStats(ds: DetectionDataset): Promise<DatasetStats> {
  const perClass = new Array<number>(ds.names.length).fill(0);
  let boxes = 0;
  let background = 0;
  for (let i = 0; i < ds.length; i++) {
    const l: Labels = await ds.labels(i);
    if (l.cls.length === 0) background++;
    for (const c of l.cls) perClass[c] = (perClass[c] ?? 0) + 1;
    boxes += l.cls.length;
  }
  return { images: ds.length, boxes, perClass, background };
}
