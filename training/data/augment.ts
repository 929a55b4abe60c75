// The official YOLOv9 augmentations (utils/augmentations.py, utils/dataloaders.py), on RgbImage and pixel-space
// labels. Randomness comes only from the `Rng` passed in; the deterministic cores (given matrix, gains, centre)
// are exported separately so tests can compare them with the official functions.
import { mat3d } from 'wgpu-matrix';
import { applyHsvGains } from './color';
import { type RgbImage, createImage } from './image';
import type { Labels } from './labels';
import { type Interpolation, padImage, resize } from './resize';
import { type Rng, beta, uniform } from './rng';
import { roundHalfEven } from './round';
import { type Affine, type Projective, warpAffine, warpPerspective } from './warp';

/** Objects in pixel coordinates: class, xyxy box, and (for polygon datasets) the polygon as flat x, y pairs. */
export interface PixelLabels {
  cls: number[];
  /** x1, y1, x2, y2 per object. */
  boxes: number[];
  /** One polygon per object, or empty when the dataset has none. */
  segments: Float64Array[];
}

export const PAD_VALUE = 114;

/** Normalised cx, cy, w, h → pixel xyxy, scaled by (w, h) and shifted by (padw, padh) (official `xywhn2xyxy`). */
export function toPixelLabels(l: Labels, w: number, h: number, padw = 0, padh = 0): PixelLabels {
  const n = l.cls.length;
  const boxes = new Array<number>(n * 4);
  for (let i = 0; i < n; i++) {
    const [cx, cy, bw, bh] = l.boxes.subarray(i * 4, i * 4 + 4);
    boxes[i * 4] = w * (cx - bw / 2) + padw;
    boxes[i * 4 + 1] = h * (cy - bh / 2) + padh;
    boxes[i * 4 + 2] = w * (cx + bw / 2) + padw;
    boxes[i * 4 + 3] = h * (cy + bh / 2) + padh;
  }
  const segments = l.segments.map((s) => {
    const o = new Float64Array(s.length);
    for (let k = 0; k < s.length; k += 2) (o[k] = w * s[k] + padw), (o[k + 1] = h * s[k + 1] + padh);
    return o;
  });
  return { cls: Array.from(l.cls), boxes, segments };
}

/**
 * Pixel xyxy → normalised cx, cy, w, h for an image of size w × h, clipping to [0, w − eps] × [0, h − eps] first
 * (official `xyxy2xywhn(..., clip=True, eps=1e-3)`). Returns rows of (cls, cx, cy, w, h).
 */
export function toNormalizedRows(l: PixelLabels, w: number, h: number, eps = 1e-3): number[][] {
  const rows: number[][] = [];
  const cl = (v: number, hi: number): number => Math.min(Math.max(v, 0), hi);
  for (let i = 0; i < l.cls.length; i++) {
    const x1 = cl(l.boxes[i * 4], w - eps);
    const y1 = cl(l.boxes[i * 4 + 1], h - eps);
    const x2 = cl(l.boxes[i * 4 + 2], w - eps);
    const y2 = cl(l.boxes[i * 4 + 3], h - eps);
    rows.push([l.cls[i], (x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h]);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------- resize / letterbox

export interface LoadedImage {
  image: RgbImage;
  /** Original height, width. */
  orig: [number, number];
  /** Height, width after resizing. */
  resized: [number, number];
}

/**
 * The official `load_image` resize: the long side becomes `imgsz` (sizes truncated with int()), bilinear when
 * augmenting or enlarging, area when shrinking for evaluation; unchanged when already that size.
 */
export function resizeLongSide(img: RgbImage, imgsz: number, augment: boolean): LoadedImage {
  const h0 = img.height;
  const w0 = img.width;
  const r = imgsz / Math.max(h0, w0);
  if (r === 1) return { image: img, orig: [h0, w0], resized: [h0, w0] };
  const interp: Interpolation = augment || r > 1 ? 'linear' : 'area';
  const image = resize(img, Math.max(1, Math.trunc(w0 * r)), Math.max(1, Math.trunc(h0 * r)), interp);
  return { image, orig: [h0, w0], resized: [image.height, image.width] };
}

export interface LetterboxOptions {
  /** Pad to the smallest multiple of `stride` instead of the full shape (official default true). */
  auto?: boolean;
  /** Stretch to the shape without keeping the aspect ratio. */
  scaleFill?: boolean;
  /** Allow enlarging (false: only shrink, as for validation). Default true. */
  scaleup?: boolean;
  stride?: number;
  /** Padding value for all channels (official 114). */
  color?: number;
}

export interface LetterboxResult {
  image: RgbImage;
  /** Width and height scale factors. */
  ratio: [number, number];
  /** Half the total padding in x and y (fractional, as returned by the official function). */
  pad: [number, number];
  /** The pixel padding actually added (top, bottom, left, right). */
  border: [number, number, number, number];
}

/**
 * The official `letterbox`: resize keeping the aspect ratio (Python rounding of the new size), then pad with
 * `color` to `shape` (or to a multiple of `stride` with `auto`), the odd pixel going bottom/right via the
 * `round(d ± 0.1)` split.
 */
export function letterbox(img: RgbImage, shape: number | readonly [number, number], options: LetterboxOptions = {}): LetterboxResult {
  const { auto = true, scaleFill = false, scaleup = true, stride = 32, color = PAD_VALUE } = options;
  const [nh, nw] = typeof shape === 'number' ? [shape, shape] : shape;
  const h = img.height;
  const w = img.width;
  let r = Math.min(nh / h, nw / w);
  if (!scaleup) r = Math.min(r, 1);
  let ratio: [number, number] = [r, r];
  let uw = roundHalfEven(w * r);
  let uh = roundHalfEven(h * r);
  let dw = nw - uw;
  let dh = nh - uh;
  if (auto) {
    dw = ((dw % stride) + stride) % stride;
    dh = ((dh % stride) + stride) % stride;
  } else if (scaleFill) {
    dw = 0;
    dh = 0;
    uw = nw;
    uh = nh;
    ratio = [nw / w, nh / h];
  }
  dw /= 2;
  dh /= 2;
  const resized = uw !== w || uh !== h ? resize(img, uw, uh, 'linear') : img;
  const top = roundHalfEven(dh - 0.1);
  const bottom = roundHalfEven(dh + 0.1);
  const left = roundHalfEven(dw - 0.1);
  const right = roundHalfEven(dw + 0.1);
  return { image: padImage(resized, top, bottom, left, right, color), ratio, pad: [dw, dh], border: [top, bottom, left, right] };
}

// ---------------------------------------------------------------------------------------------- mosaic

export interface MosaicTile {
  /** The tile image, already resized by `resizeLongSide`. */
  image: RgbImage;
  labels: Labels;
}

/**
 * The official 4-image mosaic on a 2s × 2s canvas filled with 114, tiles meeting at (xc, yc): tile 0 top-left,
 * 1 top-right, 2 bottom-left, 3 bottom-right, parts outside the canvas cropped. Labels are shifted into canvas
 * pixels and clipped to [0, 2s] (boxes and polygons).
 */
export function mosaic4(tiles: readonly MosaicTile[], s: number, xc: number, yc: number): { image: RgbImage; labels: PixelLabels } {
  if (tiles.length !== 4) throw new Error(`mosaic4 needs 4 tiles, got ${tiles.length}`);
  const S = 2 * s;
  const canvas = createImage(S, S, PAD_VALUE);
  const out: PixelLabels = { cls: [], boxes: [], segments: [] };
  tiles.forEach((t, i) => {
    const { width: w, height: h } = t.image;
    let a: [number, number, number, number];
    let b: [number, number, number, number];
    if (i === 0) {
      a = [Math.max(xc - w, 0), Math.max(yc - h, 0), xc, yc];
      b = [w - (a[2] - a[0]), h - (a[3] - a[1]), w, h];
    } else if (i === 1) {
      a = [xc, Math.max(yc - h, 0), Math.min(xc + w, S), yc];
      b = [0, h - (a[3] - a[1]), Math.min(w, a[2] - a[0]), h];
    } else if (i === 2) {
      a = [Math.max(xc - w, 0), yc, xc, Math.min(S, yc + h)];
      b = [w - (a[2] - a[0]), 0, w, Math.min(a[3] - a[1], h)];
    } else {
      a = [xc, yc, Math.min(xc + w, S), Math.min(S, yc + h)];
      b = [0, 0, Math.min(w, a[2] - a[0]), Math.min(a[3] - a[1], h)];
    }
    const cw = Math.min(a[2] - a[0], b[2] - b[0]);
    for (let y = 0; y < Math.min(a[3] - a[1], b[3] - b[1]); y++) {
      if (cw <= 0) break;
      const src = ((b[1] + y) * w + b[0]) * 3;
      canvas.data.set(t.image.data.subarray(src, src + cw * 3), ((a[1] + y) * S + a[0]) * 3);
    }
    const pl = toPixelLabels(t.labels, w, h, a[0] - b[0], a[1] - b[1]);
    out.cls.push(...pl.cls);
    out.boxes.push(...pl.boxes);
    out.segments.push(...pl.segments);
  });
  for (let k = 0; k < out.boxes.length; k++) out.boxes[k] = Math.min(Math.max(out.boxes[k], 0), S);
  for (const seg of out.segments) for (let k = 0; k < seg.length; k++) seg[k] = Math.min(Math.max(seg[k], 0), S);
  return { image: canvas, labels: out };
}

/** Mosaic centre as the official code draws it: int(U(-border, 2s + border)) with border = -s // 2. */
export function mosaicCentre(rng: Rng, s: number): [number, number] {
  const border = Math.floor(-s / 2);
  const yc = Math.trunc(uniform(rng, -border, 2 * s + border));
  const xc = Math.trunc(uniform(rng, -border, 2 * s + border));
  return [xc, yc];
}

// ---------------------------------------------------------------------------------------------- random perspective

export interface PerspectiveParams {
  degrees: number;
  translate: number;
  scale: number;
  shear: number;
  perspective: number;
}

/** A 3×3 matrix from rows, in wgpu-matrix's column-major mat3 layout. */
const fromRows = (a: number, b: number, c: number, d: number, e: number, f: number, g: number, h: number, i: number): Float64Array =>
  mat3d.set(a, d, g, b, e, h, c, f, i) as Float64Array;
/** Element (row, col) of a wgpu-matrix mat3. */
const at = (m: Float64Array, row: number, col: number): number => m[col * 4 + row];
/** Row-major 3×3 values of a wgpu-matrix mat3. */
export const rowsOf = (m: Float64Array): Projective => [at(m, 0, 0), at(m, 0, 1), at(m, 0, 2), at(m, 1, 0), at(m, 1, 1), at(m, 1, 2), at(m, 2, 0), at(m, 2, 1), at(m, 2, 2)];

/**
 * The official random_perspective matrix M = T·S·R·P·C for an input of inW × inH and an output of outW × outH,
 * drawing (in the official order) perspective x/y, angle, scale, shear x/y, translation x/y. Returns M row-major and
 * the scale s (needed by the box filter).
 */
export function perspectiveMatrix(rng: Rng, inW: number, inH: number, outW: number, outH: number, p: PerspectiveParams): { M: Projective; s: number } {
  const C = fromRows(1, 0, -inW / 2, 0, 1, -inH / 2, 0, 0, 1);
  const px = uniform(rng, -p.perspective, p.perspective);
  const py = uniform(rng, -p.perspective, p.perspective);
  const P = fromRows(1, 0, 0, 0, 1, 0, px, py, 1);
  const a = uniform(rng, -p.degrees, p.degrees);
  const s = uniform(rng, 1 - p.scale, 1 + p.scale);
  // cv2.getRotationMatrix2D(angle=a, center=(0, 0), scale=s): [[α, β, 0], [-β, α, 0]].
  const rad = (a * Math.PI) / 180;
  const alpha = Math.cos(rad) * s;
  const beta = Math.sin(rad) * s;
  const R = fromRows(alpha, beta, 0, -beta, alpha, 0, 0, 0, 1);
  const shx = Math.tan((uniform(rng, -p.shear, p.shear) * Math.PI) / 180);
  const shy = Math.tan((uniform(rng, -p.shear, p.shear) * Math.PI) / 180);
  const S = fromRows(1, shx, 0, shy, 1, 0, 0, 0, 1);
  const T = fromRows(1, 0, uniform(rng, 0.5 - p.translate, 0.5 + p.translate) * outW, 0, 1, uniform(rng, 0.5 - p.translate, 0.5 + p.translate) * outH, 0, 0, 1);
  let M = mat3d.multiply(T, S) as Float64Array;
  M = mat3d.multiply(M, R) as Float64Array;
  M = mat3d.multiply(M, P) as Float64Array;
  M = mat3d.multiply(M, C) as Float64Array;
  return { M: rowsOf(M), s };
}

/**
 * The official `box_candidates`: keep a box if after augmentation it is wider and taller than `whThr` pixels, kept
 * more than `areaThr` of its (scaled) area, and has aspect ratio below `arThr`. `before` must already be × s.
 */
export function boxCandidates(before: readonly number[], after: readonly number[], whThr = 2, arThr = 100, areaThr = 0.1, eps = 1e-16): boolean[] {
  const keep: boolean[] = [];
  for (let i = 0; i < before.length / 4; i++) {
    const w1 = before[i * 4 + 2] - before[i * 4];
    const h1 = before[i * 4 + 3] - before[i * 4 + 1];
    const w2 = after[i * 4 + 2] - after[i * 4];
    const h2 = after[i * 4 + 3] - after[i * 4 + 1];
    const ar = Math.max(w2 / (h2 + eps), h2 / (w2 + eps));
    keep.push(w2 > whThr && h2 > whThr && (w2 * h2) / (w1 * h1 + eps) > areaThr && ar < arThr);
  }
  return keep;
}

/** The official `resample_segments`: each polygon closed and resampled to n points by linear interpolation. */
export function resampleSegment(seg: Float64Array, n = 1000): Float64Array {
  const m = seg.length / 2 + 1; // closed: first point appended
  const px = (k: number): number => seg[(k % (m - 1)) * 2];
  const py = (k: number): number => seg[(k % (m - 1)) * 2 + 1];
  const out = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    const t = n === 1 ? 0 : ((m - 1) * i) / (n - 1); // np.linspace(0, m - 1, n)
    const k = Math.min(Math.floor(t), m - 2);
    const f = t - k;
    out[i * 2] = px(k) + (px(k + 1) - px(k)) * f;
    out[i * 2 + 1] = py(k) + (py(k + 1) - py(k)) * f;
  }
  return out;
}

/**
 * Applies a known matrix: warps the image (affine or perspective, bilinear, border 114) to outW × outH, transforms
 * boxes via their 4 corners (or polygons via 1000 resampled points kept inside the image), clips, and filters with
 * `boxCandidates` (area threshold 0.1, or 0.01 with polygons). `s` is the scale used to build M.
 */
export function applyPerspective(img: RgbImage, labels: PixelLabels, M: Projective, s: number, outW: number, outH: number): { image: RgbImage; labels: PixelLabels } {
  const identity = M.every((v, i) => v === (i % 4 === 0 ? 1 : 0));
  const persp = M[6] !== 0 || M[7] !== 0 || M[8] !== 1;
  let image = img;
  if (outW !== img.width || outH !== img.height || !identity) {
    image = persp ? warpPerspective(img, M, outW, outH, PAD_VALUE) : warpAffine(img, [M[0], M[1], M[2], M[3], M[4], M[5]] as Affine, outW, outH, PAD_VALUE);
  }
  const n = labels.cls.length;
  if (n === 0) return { image, labels: { cls: [], boxes: [], segments: [] } };
  const tf = (x: number, y: number): [number, number] => {
    const X = M[0] * x + M[1] * y + M[2];
    const Y = M[3] * x + M[4] * y + M[5];
    if (!persp) return [X, Y];
    const W = M[6] * x + M[7] * y + M[8];
    return [X / W, Y / W];
  };
  const useSegments = labels.segments.length === n && labels.segments.some((sg) => sg.some((v) => v !== 0));
  const next = new Array<number>(n * 4).fill(0);
  for (let i = 0; i < n; i++) {
    if (useSegments) {
      const pts = resampleSegment(labels.segments[i]);
      let x1 = Infinity;
      let y1 = Infinity;
      let x2 = -Infinity;
      let y2 = -Infinity;
      let any = false;
      for (let k = 0; k < pts.length; k += 2) {
        const [x, y] = tf(pts[k], pts[k + 1]);
        if (x >= 0 && y >= 0 && x <= outW && y <= outH) {
          x1 = Math.min(x1, x);
          y1 = Math.min(y1, y);
          x2 = Math.max(x2, x);
          y2 = Math.max(y2, y);
          if (x !== 0) any = true; // official `if any(x)`: some kept x is non-zero
        }
      }
      if (any) next.splice(i * 4, 4, x1, y1, x2, y2);
    } else {
      const [bx1, by1, bx2, by2] = labels.boxes.slice(i * 4, i * 4 + 4);
      const corners = [tf(bx1, by1), tf(bx2, by2), tf(bx1, by2), tf(bx2, by1)];
      const xs = corners.map((c) => c[0]);
      const ys = corners.map((c) => c[1]);
      next[i * 4] = Math.min(Math.max(Math.min(...xs), 0), outW);
      next[i * 4 + 1] = Math.min(Math.max(Math.min(...ys), 0), outH);
      next[i * 4 + 2] = Math.min(Math.max(Math.max(...xs), 0), outW);
      next[i * 4 + 3] = Math.min(Math.max(Math.max(...ys), 0), outH);
    }
  }
  const keep = boxCandidates(labels.boxes.map((v) => v * s), next, 2, 100, useSegments ? 0.01 : 0.1);
  const out: PixelLabels = { cls: [], boxes: [], segments: [] };
  keep.forEach((k, i) => {
    if (!k) return;
    out.cls.push(labels.cls[i]);
    out.boxes.push(...next.slice(i * 4, i * 4 + 4));
  });
  return { image, labels: out };
}

/**
 * The official `random_perspective`. `border` (official `mosaic_border`, e.g. -s/2 for mosaics) shrinks (negative)
 * or grows the output by 2·border in each dimension.
 */
export function randomPerspective(rng: Rng, img: RgbImage, labels: PixelLabels, p: PerspectiveParams, border: [number, number] = [0, 0]): { image: RgbImage; labels: PixelLabels } {
  const outH = img.height + border[0] * 2;
  const outW = img.width + border[1] * 2;
  const { M, s } = perspectiveMatrix(rng, img.width, img.height, outW, outH, p);
  return applyPerspective(img, labels, M, s, outW, outH);
}

// ---------------------------------------------------------------------------------------------- colour, flips, mixup

/** The random gains of the official `augment_hsv`: 1 + U(-1, 1) × (hgain, sgain, vgain). */
export function hsvGains(rng: Rng, hgain: number, sgain: number, vgain: number): [number, number, number] {
  return [uniform(rng, -1, 1) * hgain + 1, uniform(rng, -1, 1) * sgain + 1, uniform(rng, -1, 1) * vgain + 1];
}

/** The official `augment_hsv` (a no-op when all gains are 0); returns a new image. */
export function augmentHsv(rng: Rng, img: RgbImage, hgain: number, sgain: number, vgain: number): RgbImage {
  if (!hgain && !sgain && !vgain) return img;
  return { width: img.width, height: img.height, data: applyHsvGains(img.data, img.width, hsvGains(rng, hgain, sgain, vgain)) };
}

/** Mirror left-right. */
export function flipLR(img: RgbImage): RgbImage {
  const { width: w, height: h, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const s = (y * w + x) * 3;
      const d = (y * w + (w - 1 - x)) * 3;
      out[d] = data[s];
      out[d + 1] = data[s + 1];
      out[d + 2] = data[s + 2];
    }
  }
  return { width: w, height: h, data: out };
}

/** Mirror up-down. */
export function flipUD(img: RgbImage): RgbImage {
  const { width: w, height: h, data } = img;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < h; y++) out.set(data.subarray(y * w * 3, (y + 1) * w * 3), (h - 1 - y) * w * 3);
  return { width: w, height: h, data: out };
}

/** The official `mixup` with a given ratio r: uint8(r·a + (1−r)·b) (truncated), labels concatenated. */
export function mixupWith(a: RgbImage, la: PixelLabels, b: RgbImage, lb: PixelLabels, r: number): { image: RgbImage; labels: PixelLabels } {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`mixup: images differ in size (${a.width}x${a.height} vs ${b.width}x${b.height})`);
  const out = new Uint8Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = Math.trunc(a.data[i] * r + b.data[i] * (1 - r));
  return {
    image: { width: a.width, height: a.height, data: out },
    labels: { cls: [...la.cls, ...lb.cls], boxes: [...la.boxes, ...lb.boxes], segments: [...la.segments, ...lb.segments] },
  };
}

/** MixUp with r ~ Beta(32, 32). */
export function mixup(rng: Rng, a: RgbImage, la: PixelLabels, b: RgbImage, lb: PixelLabels): { image: RgbImage; labels: PixelLabels } {
  return mixupWith(a, la, b, lb, beta(rng, 32, 32));
}
