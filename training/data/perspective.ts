// The official `random_perspective` (utils/augmentations.py): matrix M = T·S·R·P·C built with wgpu-matrix, the
// image warped with OpenCV-exact bilinear sampling, boxes (or resampled polygons) transformed and filtered.
import { mat3d } from 'wgpu-matrix';
import { type PixelLabels, boxCandidates } from './boxes';
import type { RgbImage } from './image';
import { type Rng, uniform } from './rng';
import { type Affine, type Projective, warpAffine, warpPerspective } from './warp';

/** Grey value of padding pixels (the official 114). */
export const PAD_VALUE = 114;

/** Random-perspective ranges (the official degrees, translate, scale, shear, perspective). */
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
