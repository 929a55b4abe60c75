// Batches for training and evaluation, following the official `LoadImagesAndLabels.__getitem__` and `collate_fn`.
// Each sample draws from its own random stream derived from (seed, epoch, position in the epoch), so a batch is
// the same whatever order samples finish loading in.
import {
  type PixelLabels,
  augmentHsv,
  copyPaste,
  flipLR,
  flipUD,
  letterbox,
  mixup,
  mosaic4,
  mosaicCentre,
  randomPerspective,
  resizeLongSide,
  toNormalizedRows,
  toPixelLabels,
} from './augment';
import type { DetectionDataset } from './dataset';
import { type AugmentHyp, augmentHyp } from './hyp';
import type { RgbImage } from './image';
import type { Labels } from './labels';
import { type Rng, deriveSeed, mulberry32, permutation, randint, shuffle } from './rng';

/** Options of DataLoader. */
export interface LoaderOptions {
  /** Network input size (long side). */
  imgsz: number;
  batchSize: number;
  /** Training augmentation (mosaic, mixup, random affine, HSV, flips). False: evaluation letterbox only. */
  augment: boolean;
  /** Augmentation settings; missing keys take the scratch-high defaults. */
  hyp?: Partial<AugmentHyp>;
  seed?: number;
  /** Reshuffle every epoch (default: same as `augment`). */
  shuffle?: boolean;
  /** Evaluation only: rectangular batches sorted by aspect ratio, as val.py (ignored when augmenting). */
  rect?: boolean;
  /** Stride the rectangular batch shapes are rounded to (32). */
  stride?: number;
  /** Extra stride fraction for rectangular shapes (val.py uses 0.5). */
  pad?: number;
  /** Byte budget of the decoded-image cache (default 512 MiB; 0 disables). */
  cacheBytes?: number;
  /** Drop a last incomplete batch (default false). */
  dropLast?: boolean;
}

/** Per-image geometry for mapping predictions back to the original image (official `shapes`). */
export interface ImageMeta {
  /** Original height, width. */
  orig: [number, number];
  /** load_image scale factors (h/h0, w/w0). */
  ratio: [number, number];
  /** Letterbox half-padding (dw, dh). */
  pad: [number, number];
}

/** One batch: images (B, 3, H, W) in [0, 1], normalised targets, paths and per-image geometry. */
export interface Batch {
  /** (B, 3, H, W) RGB in [0, 1]. */
  images: Float32Array;
  shape: [number, number, number, number];
  /** Rows of [image index in batch, class, cx, cy, w, h], normalised. */
  targets: Float32Array;
  /** targets.length / 6. */
  nTargets: number;
  paths: string[];
  /** Dataset indices of the batch's images. */
  indices: number[];
  /** Geometry for evaluation; null for mosaic samples. */
  meta: (ImageMeta | null)[];
}

/** Decoded-image cache statistics of a DataLoader. */
export interface CacheStats {
  hits: number;
  misses: number;
  evictions: number;
  entries: number;
  bytes: number;
  limitBytes: number;
}

interface Loaded {
  image: RgbImage;
  orig: [number, number];
  resized: [number, number];
  labels: Labels;
}

/** Exact float32 values of v / 255 (what `uint8_tensor.float() / 255` gives). */
const INV255 = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** Batches of letterboxed, augmented images and labels (mosaic, mixup, HSV, perspective, flips as the official loader), the next batch prepared while the current one trains. */
export class DataLoader {
  readonly dataset: DetectionDataset;
  readonly imgsz: number;
  readonly batchSize: number;
  readonly augment: boolean;
  readonly hyp: AugmentHyp;
  readonly seed: number;
  readonly rect: boolean;
  private mosaicOn: boolean;
  private readonly shuffleEach: boolean;
  private readonly dropLast: boolean;
  private readonly stride: number;
  private readonly pad: number;
  // Cache of resized images: owner this loader, key dataset index, bounded by bytes (LRU by Map order).
  private readonly cache = new Map<number, Loaded>();
  private readonly cacheLimit: number;
  private readonly stats = { hits: 0, misses: 0, evictions: 0, bytes: 0 };
  // Loads in flight, so samples of one batch asking for the same image share one decode (bound: one per image).
  private readonly inflight = new Map<number, Promise<Loaded>>();
  private rectPlan: Promise<{ order: number[]; shapes: [number, number][] }> | null = null;

  constructor(dataset: DetectionDataset, options: LoaderOptions) {
    if (!(Number.isInteger(options.imgsz) && options.imgsz > 0)) throw new Error(`DataLoader: imgsz must be a positive integer, got ${options.imgsz}`);
    if (!(Number.isInteger(options.batchSize) && options.batchSize > 0)) throw new Error(`DataLoader: batchSize must be a positive integer, got ${options.batchSize}`);
    if (dataset.length === 0) throw new Error('DataLoader: the dataset is empty');
    this.dataset = dataset;
    this.imgsz = options.imgsz;
    this.batchSize = options.batchSize;
    this.augment = options.augment;
    this.hyp = augmentHyp(options.hyp);
    this.seed = options.seed ?? 0;
    this.rect = !options.augment && (options.rect ?? false);
    this.mosaicOn = options.augment && !this.rect;
    this.shuffleEach = options.shuffle ?? options.augment;
    this.dropLast = options.dropLast ?? false;
    this.stride = options.stride ?? 32;
    this.pad = options.pad ?? 0.5;
    this.cacheLimit = options.cacheBytes ?? 512 * 2 ** 20;
  }

  /** Batches per epoch. */
  get length(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Whether mosaic is currently used (train mode until `closeMosaic`). */
  get mosaic(): boolean {
    return this.mosaicOn;
  }

  /** Turns mosaic (and with it mixup) off for the rest of training, as `--close-mosaic` does. */
  closeMosaic(): void {
    this.mosaicOn = false;
  }

  /** Hits, misses and size of the decoded-image cache. */
  cacheStats(): CacheStats {
    return { ...this.stats, entries: this.cache.size, limitBytes: this.cacheLimit };
  }

  /** Dataset indices in the order of epoch `epoch`. */
  async order(epoch: number): Promise<number[]> {
    if (this.rect) return (await this.plan()).order;
    const n = this.dataset.length;
    return this.shuffleEach ? permutation(mulberry32(deriveSeed(this.seed, epoch, 0x5eed)), n) : Array.from({ length: n }, (_, i) => i);
  }

  /** Batch `b` of epoch `epoch`. */
  async batch(epoch: number, b: number): Promise<Batch> {
    if (!(Number.isInteger(b) && b >= 0 && b < this.length)) throw new Error(`batch index ${b} is outside [0, ${this.length})`);
    const order = await this.order(epoch);
    const positions = order.slice(b * this.batchSize, (b + 1) * this.batchSize).map((_, k) => b * this.batchSize + k);
    const shape = this.rect ? (await this.plan()).shapes[b] : ([this.imgsz, this.imgsz] as [number, number]);
    const items = await Promise.all(positions.map((p) => this.item(order[p], mulberry32(deriveSeed(this.seed, epoch, p)), shape)));
    return collate(items.map((it, k) => ({ ...it, index: order[positions[k]], path: this.dataset.path(order[positions[k]]) })));
  }

  /** All batches of an epoch; the next batch is loaded while the current one is being used. */
  async *epoch(epoch: number): AsyncGenerator<Batch> {
    let next: Promise<Batch> | null = this.length > 0 ? this.batch(epoch, 0) : null;
    for (let b = 0; b < this.length; b++) {
      const cur = next as Promise<Batch>;
      next = b + 1 < this.length ? this.batch(epoch, b + 1) : null;
      next?.catch(() => undefined); // surfaced when awaited
      yield await cur;
    }
  }

  /** One sample: the official __getitem__ (before collation). */
  async item(index: number, rng: Rng, shape: [number, number] = [this.imgsz, this.imgsz]): Promise<{ image: RgbImage; rows: number[][]; meta: ImageMeta | null }> {
    const hyp = this.hyp;
    let image: RgbImage;
    let labels: PixelLabels;
    let meta: ImageMeta | null = null;
    if (this.mosaicOn && rng() < hyp.mosaic) {
      ({ image, labels } = await this.loadMosaic(index, rng));
      if (rng() < hyp.mixup) {
        const other = await this.loadMosaic(randint(rng, 0, this.dataset.length - 1), rng);
        ({ image, labels } = mixup(rng, image, labels, other.image, other.labels));
      }
    } else {
      const ld = await this.loadResized(index);
      const [h, w] = ld.resized;
      const lb = letterbox(ld.image, shape, { auto: false, scaleup: this.augment });
      image = lb.image;
      labels = { ...toPixelLabels(ld.labels, lb.ratio[0] * w, lb.ratio[1] * h, lb.pad[0], lb.pad[1]), segments: [] };
      meta = { orig: ld.orig, ratio: [h / ld.orig[0], w / ld.orig[1]], pad: lb.pad };
      if (this.augment) ({ image, labels } = randomPerspective(rng, image, labels, hyp));
    }
    const rows = toNormalizedRows(labels, image.width, image.height);
    if (this.augment) {
      image = augmentHsv(rng, image, hyp.hsv_h, hyp.hsv_s, hyp.hsv_v);
      if (rng() < hyp.flipud) {
        image = flipUD(image);
        for (const r of rows) r[2] = 1 - r[2];
      }
      if (rng() < hyp.fliplr) {
        image = flipLR(image);
        for (const r of rows) r[1] = 1 - r[1];
      }
    }
    return { image, rows, meta };
  }

  /** The official load_mosaic: this image and 3 random ones (with replacement), shuffled, then a random affine. */
  private async loadMosaic(index: number, rng: Rng): Promise<{ image: RgbImage; labels: PixelLabels }> {
    const s = this.imgsz;
    const [xc, yc] = mosaicCentre(rng, s);
    const n = this.dataset.length;
    const indices = shuffle(rng, [index, randint(rng, 0, n - 1), randint(rng, 0, n - 1), randint(rng, 0, n - 1)]);
    const tiles = await Promise.all(indices.map((i) => this.loadResized(i)));
    const m = mosaic4(tiles, s, xc, yc);
    const cp = copyPaste(rng, m.image, m.labels, this.hyp.copy_paste); // polygon datasets only
    const border = Math.floor(-s / 2);
    return randomPerspective(rng, cp.image, cp.labels, this.hyp, [border, border]);
  }

  /** Decoded image resized so its long side is imgsz, from the cache when possible. */
  private async loadResized(index: number): Promise<Loaded> {
    const hit = this.cache.get(index);
    if (hit) {
      this.stats.hits++;
      this.cache.delete(index); // move to the most-recently-used end
      this.cache.set(index, hit);
      return hit;
    }
    const pending = this.inflight.get(index);
    if (pending) {
      this.stats.hits++;
      return pending;
    }
    this.stats.misses++;
    const promise = this.dataset.load(index).then(({ image, labels }): Loaded => ({ ...resizeLongSide(image, this.imgsz, this.augment), labels }));
    this.inflight.set(index, promise);
    let loaded: Loaded;
    try {
      loaded = await promise;
    } finally {
      this.inflight.delete(index);
    }
    const bytes = loaded.image.data.byteLength;
    if (bytes <= this.cacheLimit && !this.cache.has(index)) {
      this.cache.set(index, loaded);
      this.stats.bytes += bytes;
      for (const [k, v] of this.cache) {
        if (this.stats.bytes <= this.cacheLimit) break;
        this.cache.delete(k);
        this.stats.bytes -= v.image.data.byteLength;
        this.stats.evictions++;
      }
    }
    return loaded;
  }

  /** Rectangular evaluation: images sorted by aspect ratio, one letterbox shape per batch (official rect). */
  private plan(): Promise<{ order: number[]; shapes: [number, number][] }> {
    this.rectPlan ??= (async () => {
      const n = this.dataset.length;
      const sizes: { width: number; height: number }[] = [];
      for (let s = 0; s < n; s += 64) {
        sizes.push(...(await Promise.all(Array.from({ length: Math.min(64, n - s) }, (_, k) => this.dataset.imageSize(s + k)))));
      }
      const ar = sizes.map((s) => s.height / s.width);
      const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => ar[a] - ar[b] || a - b);
      const shapes: [number, number][] = [];
      for (let b = 0; b * this.batchSize < n; b++) {
        const ari = order.slice(b * this.batchSize, (b + 1) * this.batchSize).map((i) => ar[i]);
        const mini = Math.min(...ari);
        const maxi = Math.max(...ari);
        const rel: [number, number] = maxi < 1 ? [maxi, 1] : mini > 1 ? [1, 1 / mini] : [1, 1];
        shapes.push(rel.map((v) => Math.ceil((v * this.imgsz) / this.stride + this.pad) * this.stride) as [number, number]);
      }
      return { order, shapes };
    })();
    return this.rectPlan;
  }
}

/** RGB bytes (HWC) → the model's input planes (CHW, 0..1) at `out[offset..]`. */
export function writePlanes(img: RgbImage, out: Float32Array, offset = 0): Float32Array {
  const d = img.data;
  const plane = img.width * img.height;
  for (let p = 0; p < plane; p++) {
    out[offset + p] = INV255[d[p * 3]];
    out[offset + plane + p] = INV255[d[p * 3 + 1]];
    out[offset + 2 * plane + p] = INV255[d[p * 3 + 2]];
  }
  return out;
}

/** Stacks samples into a batch (official collate_fn: image index written into each target row). */
export function collate(items: { image: RgbImage; rows: number[][]; meta: ImageMeta | null; index: number; path: string }[]): Batch {
  const B = items.length;
  const H = items[0].image.height;
  const W = items[0].image.width;
  const plane = H * W;
  const images = new Float32Array(B * 3 * plane);
  let nTargets = 0;
  items.forEach((it, b) => {
    if (it.image.width !== W || it.image.height !== H) {
      throw new Error(`collate: ${it.path} is ${it.image.width}x${it.image.height}, the batch is ${W}x${H}`);
    }
    writePlanes(it.image, images, b * 3 * plane);
    nTargets += it.rows.length;
  });
  const targets = new Float32Array(nTargets * 6);
  let t = 0;
  items.forEach((it, b) => {
    for (const r of it.rows) {
      targets.set([b, ...r], t * 6);
      t++;
    }
  });
  return {
    images,
    shape: [B, 3, H, W],
    targets,
    nTargets,
    paths: items.map((it) => it.path),
    indices: items.map((it) => it.index),
    meta: items.map((it) => it.meta),
  };
}
