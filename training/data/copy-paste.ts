// The official `copy_paste` augmentation (polygon datasets only): objects mirrored left-right and pasted through
// their polygon masks when the mirrored box is free.
import { type PixelLabels, bboxIoa } from './boxes';
import type { RgbImage } from './image';
import type { Rng } from './rng';
import { roundHalfEven } from './round';

/**
 * Sets mask pixels covered by a polygon with integer vertices (as `cv2.drawContours(..., FILLED)` on int32 points):
 * pixel centres on scanlines between edge crossings, plus the outline itself. Close to OpenCV's rasteriser, not
 * identical on every boundary pixel.
 */
export function fillPolygon(mask: Uint8Array, w: number, h: number, pts: readonly number[]): void {
  const n = pts.length / 2;
  if (n === 0) return;
  let minY = Infinity;
  let maxY = -Infinity;
  for (let k = 0; k < n; k++) (minY = Math.min(minY, pts[k * 2 + 1])), (maxY = Math.max(maxY, pts[k * 2 + 1]));
  const set = (x: number, y: number): void => {
    if (x >= 0 && y >= 0 && x < w && y < h) mask[y * w + x] = 1;
  };
  for (let y = Math.max(0, minY); y <= Math.min(h - 1, maxY); y++) {
    const xs: number[] = [];
    for (let k = 0, j = n - 1; k < n; j = k++) {
      const [x0, y0, x1, y1] = [pts[j * 2], pts[j * 2 + 1], pts[k * 2], pts[k * 2 + 1]];
      if (y0 <= y !== y1 <= y) xs.push(x0 + ((y - y0) * (x1 - x0)) / (y1 - y0));
    }
    xs.sort((a, b) => a - b);
    for (let k = 0; k + 1 < xs.length; k += 2) for (let x = Math.ceil(xs[k]); x <= Math.floor(xs[k + 1]); x++) set(x, y);
  }
  for (let k = 0, j = n - 1; k < n; j = k++) {
    // Bresenham outline (8-connected, as cv2's default line type).
    let x0 = pts[j * 2];
    let y0 = pts[j * 2 + 1];
    const x1 = pts[k * 2];
    const y1 = pts[k * 2 + 1];
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      set(x0, y0);
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) (err += dy), (x0 += sx);
      if (e2 <= dx) (err += dx), (y0 += sy);
    }
  }
}

/**
 * The official `copy_paste` with the pasted objects given: each chosen object j is mirrored left-right (pixels
 * taken from the mirrored image through its polygon mask) and its mirrored box and polygon are appended.
 */
export function copyPasteWith(img: RgbImage, labels: PixelLabels, chosen: readonly number[]): { image: RgbImage; labels: PixelLabels } {
  const { width: w, height: h } = img;
  const out: PixelLabels = { cls: [...labels.cls], boxes: [...labels.boxes], segments: [...labels.segments] };
  if (chosen.length === 0) return { image: img, labels: out };
  const mask = new Uint8Array(w * h);
  for (const j of chosen) {
    const [x1, y1, x2, y2] = labels.boxes.slice(j * 4, j * 4 + 4);
    out.cls.push(labels.cls[j]);
    out.boxes.push(w - x2, y1, w - x1, y2);
    const seg = labels.segments[j];
    const mirrored = new Float64Array(seg.length);
    for (let k = 0; k < seg.length; k += 2) (mirrored[k] = w - seg[k]), (mirrored[k + 1] = seg[k + 1]);
    out.segments.push(mirrored);
    fillPolygon(mask, w, h, Array.from(seg, Math.trunc)); // astype(np.int32) truncates
  }
  const data = img.data.slice();
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (!mask[y * w + (w - 1 - x)]) continue; // flipped mask
      const d = (y * w + x) * 3;
      const s = (y * w + (w - 1 - x)) * 3; // flipped image
      data[d] = img.data[s];
      data[d + 1] = img.data[s + 1];
      data[d + 2] = img.data[s + 2];
    }
  }
  return { image: { width: w, height: h, data }, labels: out };
}

/**
 * The official `copy_paste` (polygon datasets only): objects whose mirrored box overlaps every box by IoA < 0.3
 * are candidates; round(p · candidates) of them, chosen at random, are pasted mirrored.
 */
export function copyPaste(rng: Rng, img: RgbImage, labels: PixelLabels, p: number): { image: RgbImage; labels: PixelLabels } {
  const n = labels.segments.length;
  if (!p || n === 0 || n !== labels.cls.length) return { image: img, labels };
  const w = img.width;
  const mirrored: number[] = [];
  for (let i = 0; i < n; i++) {
    const [x1, y1, x2, y2] = labels.boxes.slice(i * 4, i * 4 + 4);
    mirrored.push(w - x2, y1, w - x1, y2);
  }
  const ioa = bboxIoa(mirrored, labels.boxes);
  const candidates: number[] = [];
  for (let i = 0; i < n; i++) if (ioa.slice(i * n, (i + 1) * n).every((v) => v < 0.3)) candidates.push(i);
  const k = roundHalfEven(p * candidates.length);
  // random.sample: k distinct candidates in random order (partial Fisher–Yates).
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (candidates.length - i));
    [candidates[i], candidates[j]] = [candidates[j], candidates[i]];
  }
  return copyPasteWith(img, labels, candidates.slice(0, k));
}
