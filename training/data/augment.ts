// The official YOLOv9 augmentations (utils/augmentations.py, utils/dataloaders.py), on RgbImage and pixel-space
// labels. Randomness comes only from the `Rng` passed in; the deterministic cores (given matrix, gains, centre,
// pasted objects) are exported separately so tests can compare them with the official functions. Random
// perspective, copy-paste and the box helpers live in their own files and are re-exported here.
import { type PixelLabels, toPixelLabels } from './boxes';
import { applyHsvGains } from './color';
import { type RgbImage, createImage } from './image';
import type { Labels } from './labels';
import { PAD_VALUE } from './perspective';
import { type Interpolation, padImage, resize } from './resize';
import { type Rng, beta, uniform } from './rng';
import { roundHalfEven } from './round';

export * from './boxes';
export * from './copy-paste';
export * from './perspective';

// ---------------------------------------------------------------------------------------------- resize / letterbox

/** An image as load_image returns it: resized so its long side is imgsz, with both sizes. */
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

/** Options of letterbox(). */
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

/** A letterboxed image with the scale and padding applied. */
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

/** One of the four images of a mosaic. */
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
