// Object boxes in pixel space, conversions to and from the normalised YOLO format, and the official box filters.
import type { Labels } from './labels';

/** Objects in pixel coordinates: class, xyxy box, and (for polygon datasets) the polygon as flat x, y pairs. */
export interface PixelLabels {
  cls: number[];
  /** x1, y1, x2, y2 per object. */
  boxes: number[];
  /** One polygon per object, or empty when the dataset has none. */
  segments: Float64Array[];
}

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

/** Official `bbox_ioa`: intersection of box1[i] with box2[j] over the area of box2[j] (n × m, row-major). */
export function bboxIoa(box1: readonly number[], box2: readonly number[], eps = 1e-7): number[] {
  const n = box1.length / 4;
  const m = box2.length / 4;
  const out = new Array<number>(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      const iw = Math.max(0, Math.min(box1[i * 4 + 2], box2[j * 4 + 2]) - Math.max(box1[i * 4], box2[j * 4]));
      const ih = Math.max(0, Math.min(box1[i * 4 + 3], box2[j * 4 + 3]) - Math.max(box1[i * 4 + 1], box2[j * 4 + 1]));
      out[i * m + j] = (iw * ih) / ((box2[j * 4 + 2] - box2[j * 4]) * (box2[j * 4 + 3] - box2[j * 4 + 1]) + eps);
    }
  }
  return out;
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
