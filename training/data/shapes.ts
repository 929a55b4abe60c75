// An embedded, procedural detection dataset: coloured shapes on textured backgrounds, generated on demand from a
// seed (no files, so it runs in browsers too). Boxes are exact: the tight box of the pixels each object owns in the
// final image (anti-aliased coverage >= 0.5, not hidden by later objects); objects more than 60% hidden are left
// out of the scene altogether, so no unlabelled fragments remain (as are objects whose visible box is under 12 px
// at 256 px, scaled with the image size).
import type { DetectionDataset } from './dataset';
import type { RgbImage } from './image';
import type { Labels } from './labels';
import { type Rng, deriveSeed, mulberry32, randint, uniform } from './rng';
import { type RenderedScene, SHAPE_NAMES, type Scene, type ShapeObject, type Vec3, backgroundAt, renderVisible } from './shapes-render';

export { type RenderedScene, SHAPE_NAMES, type Scene, type ShapeName, type ShapeObject, minBoxSide, renderScene, renderVisible } from './shapes-render';

const luma = (c: Vec3): number => 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2];
const randomColor = (rng: Rng): Vec3 => [randint(rng, 0, 255), randint(rng, 0, 255), randint(rng, 0, 255)];

/** How scenes of the shapes dataset are generated. */
export interface SceneOptions {
  minObjects?: number;
  maxObjects?: number;
}

/** A random scene for an image of `size`×`size`. */
export function randomScene(rng: Rng, size: number, options: SceneOptions = {}): Scene {
  const kinds = ['solid', 'linear', 'radial', 'noise', 'stripes'] as const;
  const a = randomColor(rng);
  // The second background colour stays near the first so objects, not the backdrop, carry the contrast.
  const b: Vec3 = a.map((c) => Math.min(255, Math.max(0, c + uniform(rng, -70, 70)))) as Vec3;
  const background: Scene['background'] = {
    kind: kinds[randint(rng, 0, kinds.length - 1)],
    a,
    b,
    angle: uniform(rng, 0, 2 * Math.PI),
    period: uniform(rng, size / 24, size / 6),
    noise: uniform(rng, 0, 12),
    seed: randint(rng, 0, 2 ** 31),
  };
  const n = randint(rng, options.minObjects ?? 1, options.maxObjects ?? 6);
  const rMin = Math.max(5, size * 0.04);
  const rMax = Math.max(rMin * 1.5, size * 0.24);
  const objects: ShapeObject[] = [];
  for (let k = 0; k < n; k++) {
    const cls = randint(rng, 0, SHAPE_NAMES.length - 1);
    const r = Math.exp(uniform(rng, Math.log(rMin), Math.log(rMax)));
    let cx = 0;
    let cy = 0;
    for (let tries = 0; tries < 30; tries++) {
      cx = uniform(rng, r + 1, size - r - 1);
      cy = uniform(rng, r + 1, size - r - 1);
      // Prefer spots where earlier objects would be at most partly covered.
      if (objects.every((o) => Math.hypot(o.cx - cx, o.cy - cy) > 0.75 * (o.r + r))) break;
    }
    const under = backgroundAt(background, size, cx, cy);
    let color = randomColor(rng);
    for (let tries = 0; tries < 20 && Math.abs(luma(color) - luma(under)) < 70; tries++) color = randomColor(rng);
    if (Math.abs(luma(color) - luma(under)) < 70) color = luma(under) > 128 ? [randint(rng, 0, 40), randint(rng, 0, 40), randint(rng, 0, 40)] : [randint(rng, 215, 255), randint(rng, 215, 255), randint(rng, 215, 255)];
    const shadeAngle = uniform(rng, 0, 2 * Math.PI);
    objects.push({ cls, cx, cy, r, angle: uniform(rng, 0, 2 * Math.PI), color, shade: [Math.cos(shadeAngle), Math.sin(shadeAngle), uniform(rng, 0, 25)] });
  }
  return { size, background, objects };
}

/** Normalised YOLO labels from a rendered scene. */
export function sceneLabels(scene: Scene, r: RenderedScene): Labels {
  const n = scene.objects.length;
  const cls = new Int32Array(n);
  const boxes = new Float32Array(n * 4);
  scene.objects.forEach((o, i) => {
    const b = r.boxes[i] as [number, number, number, number];
    cls[i] = o.cls;
    boxes.set([(b[0] + b[2]) / 2 / scene.size, (b[1] + b[3]) / 2 / scene.size, (b[2] - b[0]) / scene.size, (b[3] - b[1]) / scene.size], i * 4);
  });
  return { cls, boxes, segments: [] };
}

/** One split of the shapes dataset; image i is generated from (seed, split, i) on each load. */
export class ShapesDataset implements DetectionDataset {
  readonly names: readonly string[] = SHAPE_NAMES;
  readonly length: number;
  readonly imgsz: number;
  private readonly seed: number;
  private readonly split: 'train' | 'val';
  private readonly options: SceneOptions;
  // Labels cache: owner this dataset, key image index, bound: one small entry per image (`length`).
  private readonly labelCache = new Map<number, Labels>();

  constructor(seed: number, split: 'train' | 'val', length: number, imgsz: number, options: SceneOptions = {}) {
    this.seed = seed;
    this.split = split;
    this.length = length;
    this.imgsz = imgsz;
    this.options = options;
  }
  path(i: number): string {
    return `shapes://${this.seed}/${this.split}/${i}`;
  }
  /** The scene and its rendering for image i. */
  render(i: number): { scene: Scene; rendered: RenderedScene } {
    if (!(Number.isInteger(i) && i >= 0 && i < this.length)) throw new Error(`shapes ${this.split} index ${i} is outside [0, ${this.length})`);
    const rng = mulberry32(deriveSeed(this.seed, this.split === 'train' ? 1 : 2, i));
    return renderVisible(randomScene(rng, this.imgsz, this.options));
  }
  async load(i: number): Promise<{ image: RgbImage; labels: Labels }> {
    const { scene, rendered } = this.render(i);
    const labels = sceneLabels(scene, rendered);
    this.labelCache.set(i, labels);
    return { image: rendered.image, labels };
  }
  async labels(i: number): Promise<Labels> {
    const hit = this.labelCache.get(i);
    if (hit) return hit;
    return (await this.load(i)).labels;
  }
  async imageSize(): Promise<{ width: number; height: number }> {
    return { width: this.imgsz, height: this.imgsz };
  }
}

/** Options of shapesDataset(). */
export interface ShapesDatasetOptions extends SceneOptions {
  seed?: number;
  /** Number of training images. */
  train: number;
  /** Number of validation images. */
  val: number;
  /** Image side in pixels (256–320 suits a tiny detector). */
  imgsz?: number;
}

/** The embedded shapes dataset: train and val splits (disjoint random streams) and the class names. */
export function shapesDataset(options: ShapesDatasetOptions): { train: ShapesDataset; val: ShapesDataset; names: readonly string[] } {
  const seed = options.seed ?? 0;
  const imgsz = options.imgsz ?? 256;
  if (!(Number.isInteger(imgsz) && imgsz >= 64)) throw new Error(`shapesDataset: imgsz must be an integer >= 64, got ${imgsz}`);
  const scene = { minObjects: options.minObjects, maxObjects: options.maxObjects };
  return {
    train: new ShapesDataset(seed, 'train', options.train, imgsz, scene),
    val: new ShapesDataset(seed, 'val', options.val, imgsz, scene),
    names: SHAPE_NAMES,
  };
}
