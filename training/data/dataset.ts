// YOLO detection datasets read through a FileSystem: from a data YAML (as the official `check_dataset` +
// `LoadImagesAndLabels` resolve it) or from a folder of images with YOLO label files beside them.
import { parse as parseYaml } from 'yaml';
import { type FileSystem, basename, dirname, extname, isAbsolutePath, joinPaths, normalizePath } from './fs';
import { type RgbImage, decodeImage, imageSize } from './image';
import { type Labels, emptyLabels, parseLabels } from './labels';

/** What every dataset gives the loader: images decoded on demand, labels normalised. */
export interface DetectionDataset {
  /** Class names; `names.length` is nc. */
  readonly names: readonly string[];
  /** Number of images. */
  readonly length: number;
  /** A stable identifier of image i (a file path for file datasets). */
  path(i: number): string;
  /** The labels of image i (normalised cx, cy, w, h). */
  labels(i: number): Promise<Labels>;
  /** The decoded RGB image and its labels. */
  load(i: number): Promise<{ image: RgbImage; labels: Labels }>;
  /** The image's size without fully decoding it where possible (for rectangular eval batches). */
  imageSize(i: number): Promise<{ width: number; height: number }>;
}

/** Suffixes the official loader lists as images (`IMG_FORMATS`). */
export const IMG_FORMATS = ['bmp', 'dng', 'jpeg', 'jpg', 'mpo', 'png', 'tif', 'tiff', 'webp', 'pfm'] as const;
/** The ones we decode (MPO is a JPEG container). */
export const DECODABLE_FORMATS = ['jpeg', 'jpg', 'mpo', 'png'] as const;

/**
 * Label path for an image path, as the official `img2label_paths`: the last '/images/' becomes '/labels/' and the
 * extension becomes '.txt'.
 */
export function imageToLabelPath(imagePath: string): string {
  const p = imagePath.replace(/\\/g, '/');
  const i = p.lastIndexOf('/images/');
  const swapped = i < 0 ? p : `${p.slice(0, i)}/labels/${p.slice(i + '/images/'.length)}`;
  const dot = swapped.lastIndexOf('.');
  return `${dot < 0 ? swapped : swapped.slice(0, dot)}.txt`;
}

/** A dataset over image files; labels are parsed up front (like the official label cache). */
export class FileDataset implements DetectionDataset {
  readonly names: readonly string[];
  readonly images: readonly string[];
  readonly labelFiles: readonly string[];
  /** Non-fatal notes (duplicate rows dropped, ...), one line each. */
  readonly warnings: readonly string[];
  private readonly fs: FileSystem;
  private readonly labelSets: readonly Labels[];

  constructor(fs: FileSystem, names: readonly string[], images: string[], labelFiles: string[], labels: Labels[], warnings: string[]) {
    this.fs = fs;
    this.names = names;
    this.images = images;
    this.labelFiles = labelFiles;
    this.labelSets = labels;
    this.warnings = warnings;
  }
  get length(): number {
    return this.images.length;
  }
  path(i: number): string {
    return this.images[this.check(i)];
  }
  async labels(i: number): Promise<Labels> {
    return this.labelSets[this.check(i)];
  }
  async load(i: number): Promise<{ image: RgbImage; labels: Labels }> {
    const path = this.images[this.check(i)];
    const image = decodeImage(await this.fs.readFile(path), path);
    if (image.width < 10 || image.height < 10) throw new Error(`${path}: image size ${image.width}x${image.height} is below 10 pixels`);
    return { image, labels: this.labelSets[i] };
  }
  async imageSize(i: number): Promise<{ width: number; height: number }> {
    const path = this.images[this.check(i)];
    if (this.fs.readFileHead) {
      const head = imageSize(await this.fs.readFileHead(path, 1 << 16));
      if (head) return head;
    }
    const bytes = await this.fs.readFile(path);
    const size = imageSize(bytes);
    if (size) return size;
    const im = decodeImage(bytes, path);
    return { width: im.width, height: im.height };
  }
  private check(i: number): number {
    if (!(Number.isInteger(i) && i >= 0 && i < this.images.length)) throw new Error(`dataset index ${i} is outside [0, ${this.images.length})`);
    return i;
  }
}

async function listImagesRecursive(fs: FileSystem, dir: string, skip: (path: string) => boolean): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.listDir(dir)) {
    if (e.name.startsWith('.')) continue; // glob('**/*.*') skips hidden files and folders
    const p = joinPaths(dir, e.name);
    if (e.isDirectory) {
      if (!skip(p)) out.push(...(await listImagesRecursive(fs, p, skip)));
    } else if (e.name.includes('.')) out.push(p);
  }
  return out;
}

/**
 * Image paths from sources that are directories (searched recursively) or text files listing one image per line
 * ('./x' is relative to the list's folder, other relative lines to the working directory, as the official
 * loader). Sorted, filtered to image suffixes. Errors name missing sources.
 */
export async function listImages(fs: FileSystem, sources: readonly string[], skipDir: (path: string) => boolean = () => false): Promise<string[]> {
  const files: string[] = [];
  for (const src of sources) {
    if (await fs.isDirectory(src)) {
      files.push(...(await listImagesRecursive(fs, src, skipDir)));
    } else if (await fs.exists(src)) {
      const text = new TextDecoder().decode(await fs.readFile(src));
      const parent = dirname(src);
      for (const raw of text.trim().split(/\r\n|\r|\n/)) {
        const line = raw.trim();
        if (!line) continue;
        files.push(normalizePath(line.startsWith('./') ? joinPaths(parent, line.slice(2)) : line));
      }
    } else {
      throw new Error(`image source ${src} does not exist`);
    }
  }
  const images = files.filter((f) => (IMG_FORMATS as readonly string[]).includes(extname(f))).sort();
  if (images.length === 0) throw new Error(`no images found in ${sources.join(', ')} (looked for ${IMG_FORMATS.join(', ')})`);
  const undecodable = images.filter((f) => !(DECODABLE_FORMATS as readonly string[]).includes(extname(f)));
  if (undecodable.length > 0) {
    throw new Error(
      `${undecodable.length} image(s) in formats that cannot be decoded here (only JPEG and PNG), e.g. ${undecodable[0]}; convert them to JPEG or PNG`,
    );
  }
  return images;
}

/** Options of the file datasets. */
export interface DatasetOptions {
  /** Label path for an image path (default: the official /images/ → /labels/ rule). */
  labelPath?: (image: string) => string;
  /** Coordinate tolerance for label files (see parseLabels). */
  tolerance?: number;
  /** Label files read at once. Default 64. */
  concurrency?: number;
  /** Directories to leave out of the recursive image search. */
  skipDir?: (path: string) => boolean;
}

/**
 * A dataset from image sources (directories or list files) and class names; label files are read now. With names
 * null the classes are numbered from the labels.
 */
export async function yoloDataset(fs: FileSystem, sources: readonly string[], names: readonly string[] | null, options: DatasetOptions = {}): Promise<FileDataset> {
  return buildDataset(fs, sources, names, options);
}

/** With `names` null any non-negative integer class is accepted and the classes are named '0', '1', .... */
async function buildDataset(fs: FileSystem, sources: readonly string[], names: readonly string[] | null, options: DatasetOptions): Promise<FileDataset> {
  const nc = names ? names.length : Number.MAX_SAFE_INTEGER;
  const images = await listImages(fs, sources, options.skipDir);
  const labelPath = options.labelPath ?? imageToLabelPath;
  const labelFiles = images.map(labelPath);
  const labels: Labels[] = new Array(images.length);
  const warnings: string[] = [];
  const conc = options.concurrency ?? 64;
  for (let s = 0; s < images.length; s += conc) {
    await Promise.all(
      labelFiles.slice(s, s + conc).map(async (lf, k) => {
        const i = s + k;
        if (!(await fs.exists(lf))) {
          labels[i] = emptyLabels();
          return;
        }
        const parsed = parseLabels(new TextDecoder().decode(await fs.readFile(lf)), { file: lf, nc, tolerance: options.tolerance });
        if (parsed.duplicates > 0) warnings.push(`${images[i]}: ${parsed.duplicates} duplicate labels removed`);
        labels[i] = { cls: parsed.cls, boxes: parsed.boxes, segments: parsed.segments };
      }),
    );
  }
  let finalNames = names;
  if (!finalNames) {
    let seen = 0;
    for (const l of labels) for (const c of l.cls) seen = Math.max(seen, c + 1);
    finalNames = Array.from({ length: Math.max(seen, 1) }, (_, i) => String(i));
  }
  return new FileDataset(fs, finalNames, images, labelFiles, labels, warnings);
}

/** A dataset YAML (official format) resolved: root, split sources and class names. */
export interface DataConfig {
  /** The YAML file. */
  file: string;
  /** Dataset root (`path:`), resolved against the YAML's folder when relative. */
  root: string;
  train: string[];
  val: string[];
  test: string[];
  names: string[];
  nc: number;
}

/** Class names from a YAML `names:` value (a list, or a mapping with keys 0..n-1). */
function parseNames(v: unknown, file: string): string[] {
  if (Array.isArray(v)) return v.map((x) => String(x));
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>);
    const names: string[] = new Array(entries.length);
    for (const [k, name] of entries) {
      const i = Number(k);
      if (!Number.isInteger(i) || i < 0 || i >= entries.length) {
        throw new Error(`${file}: 'names' keys must be the integers 0..${entries.length - 1} (e.g. '2: car'), found '${k}'`);
      }
      names[i] = String(name);
    }
    return names;
  }
  throw new Error(`${file}: 'names' must be a list or a mapping of class index to name`);
}

/**
 * Parses a data YAML (text) as the official `check_dataset` does: `names` as a list or {index: name}; `nc` (if
 * present) must equal the number of names; `path` is the root (relative roots are taken from the YAML's folder,
 * where the official code uses its repository root); `train`/`val`/`test` are one path or a list, each relative to
 * the root.
 */
export function parseDataYaml(text: string, file: string): DataConfig & { fallbacks: Record<'train' | 'val' | 'test', (string | null)[]> } {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new Error(`${file}: invalid YAML: ${(e as Error).message}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${file}: expected a mapping with train, val and names`);
  const d = doc as Record<string, unknown>;
  for (const k of ['train', 'val', 'names']) if (!(k in d)) throw new Error(`${file}: the '${k}:' field is missing`);
  const names = parseNames(d.names, file);
  if (d.nc !== undefined && Number(d.nc) !== names.length) {
    throw new Error(`${file}: nc is ${String(d.nc)} but 'names' lists ${names.length} classes`);
  }
  const base = dirname(file);
  const rootField = typeof d.path === 'string' && d.path !== '' ? d.path : '.';
  const root = isAbsolutePath(rootField) ? normalizePath(rootField) : joinPaths(base, rootField);
  const items = (k: string): string[] => {
    const v = d[k];
    if (v === undefined || v === null || v === '') return [];
    return (Array.isArray(v) ? v : [v]).map((x) => {
      if (typeof x !== 'string') throw new Error(`${file}: '${k}' entries must be paths, got ${JSON.stringify(x)}`);
      return x;
    });
  };
  const split = (k: string): string[] => items(k).map((x) => joinPaths(root, x));
  // Official fallback: a single path starting with '../' that does not exist is retried without that prefix.
  const fallback = (k: string): (string | null)[] =>
    items(k).map((x) => (!Array.isArray(d[k]) && x.startsWith('../') ? joinPaths(root, x.slice(3)) : null));
  return {
    file,
    root,
    train: split('train'),
    val: split('val'),
    test: split('test'),
    names,
    nc: names.length,
    fallbacks: { train: fallback('train'), val: fallback('val'), test: fallback('test') },
  };
}

/** Reads and resolves a data YAML; every listed train/val/test path must exist (else an error names them). */
export async function readDataYaml(fs: FileSystem, file: string): Promise<DataConfig> {
  if (!(await fs.exists(file))) throw new Error(`data YAML ${file} does not exist`);
  const { fallbacks, ...cfg } = parseDataYaml(new TextDecoder().decode(await fs.readFile(file)), file);
  for (const k of ['train', 'val', 'test'] as const) {
    for (let i = 0; i < cfg[k].length; i++) {
      const alt = fallbacks[k][i];
      if (alt !== null && !(await fs.exists(cfg[k][i])) && (await fs.exists(alt))) cfg[k][i] = alt;
    }
    const missing: string[] = [];
    for (const p of cfg[k]) if (!(await fs.exists(p))) missing.push(p);
    if (missing.length) throw new Error(`${file}: dataset not found, missing ${k} path(s): ${missing.join(', ')}`);
  }
  if (cfg.val.length === 0) throw new Error(`${file}: 'val' is empty`);
  return cfg;
}

/** The train/val/test split of a data YAML as a dataset. */
export async function openDataYaml(fs: FileSystem, file: string, split: 'train' | 'val' | 'test', options: DatasetOptions = {}): Promise<FileDataset> {
  const cfg = await readDataYaml(fs, file);
  if (cfg[split].length === 0) throw new Error(`${file}: no '${split}' split`);
  return yoloDataset(fs, cfg[split], cfg.names, options);
}

/**
 * A folder of images with YOLO labels beside them: `dir/images/**` with `dir/labels/**` (the official layout), or
 * images directly in `dir` with `dir/labels/<name>.txt` (or `<name>.txt` next to the image). Names come from the
 * option, else `dir/classes.txt` (one per line), else '0', '1', ... up to the largest class seen.
 */
export async function yoloFolderDataset(fs: FileSystem, dir: string, options: DatasetOptions & { names?: readonly string[] } = {}): Promise<FileDataset> {
  if (!(await fs.isDirectory(dir))) throw new Error(`dataset folder ${dir} does not exist or is not a folder`);
  const imagesDir = joinPaths(dir, 'images');
  const official = await fs.isDirectory(imagesDir);
  const labelsDir = joinPaths(dir, 'labels');
  const labelPath =
    options.labelPath ??
    (official
      ? imageToLabelPath
      : (img: string): string => {
          const b = basename(img);
          const dot = b.lastIndexOf('.');
          return joinPaths(dirname(img), 'labels', `${dot < 0 ? b : b.slice(0, dot)}.txt`);
        });
  let names = options.names;
  const classesFile = joinPaths(dir, 'classes.txt');
  if (!names && (await fs.exists(classesFile))) {
    names = new TextDecoder().decode(await fs.readFile(classesFile)).split(/\r\n|\r|\n/).map((s) => s.trim()).filter((s) => s.length > 0);
  }
  const skipDir = (p: string): boolean => normalizePath(p) === labelsDir;
  return buildDataset(fs, [official ? imagesDir : dir], names ?? null, { ...options, labelPath, skipDir });
}
