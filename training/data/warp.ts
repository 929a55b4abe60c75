// `cv2.warpAffine` / `cv2.warpPerspective` with INTER_LINEAR and a constant border, reproduced with OpenCV's
// fixed-point scheme: the forward matrix is inverted in double precision, source coordinates are quantised to
// 1/32 pixel (10-bit intermediate for affine), and the four taps use 15-bit weights from a 32×32 table.
import { createImage, type RgbImage } from './image';
import { roundHalfEven } from './round';

/** A 2×3 affine matrix [a, b, c, d, e, f]: x' = a·x + b·y + c, y' = d·x + e·y + f. */
export type Affine = readonly [number, number, number, number, number, number];
/** A 3×3 projective matrix in row-major order. */
export type Projective = readonly [number, number, number, number, number, number, number, number, number];

const INTER_BITS = 5;
const INTER_TAB_SIZE = 1 << INTER_BITS;
const AB_BITS = 10;
const AB_SCALE = 1 << AB_BITS;
const REMAP_BITS = 15;
const INT_MAX = 2147483647;
const INT_MIN = -2147483648;

/** `saturate_cast<int>(double)`. */
const satInt = (v: number): number => {
  const r = roundHalfEven(v);
  return r > INT_MAX ? INT_MAX : r < INT_MIN ? INT_MIN : r;
};
/** `saturate_cast<short>(int)`. */
const satShort = (v: number): number => (v > 32767 ? 32767 : v < -32768 ? -32768 : v);

/** The inverse of an affine map, exactly as `cv::invertAffineTransform`. */
export function invertAffine(m: Affine): Affine {
  let d = m[0] * m[4] - m[1] * m[3];
  d = d !== 0 ? 1 / d : 0;
  const a11 = m[4] * d;
  const a22 = m[0] * d;
  const a12 = -m[1] * d;
  const a21 = -m[3] * d;
  const b1 = -a11 * m[2] - a12 * m[5];
  const b2 = -a21 * m[2] - a22 * m[5];
  return [a11, a12, b1, a21, a22, b2];
}

/**
 * Samples `src` at fixed-point coordinate (X, Y) in 1/32 pixel and writes 3 channels at `D[o..o+2]`. Taps outside
 * the source take `border`; a pixel whose taps are all outside is `border`.
 */
function sample(src: RgbImage, X: number, Y: number, border: number, D: Uint8Array, o: number): void {
  const sx = satShort(X >> INTER_BITS);
  const sy = satShort(Y >> INTER_BITS);
  const fx = X & (INTER_TAB_SIZE - 1);
  const fy = Y & (INTER_TAB_SIZE - 1);
  // Bilinear weights (1-fy, fy) ⊗ (1-fx, fx) scaled to 2^15: exact integers because the table steps are 1/32.
  const w00 = (INTER_TAB_SIZE - fy) * (INTER_TAB_SIZE - fx) * 32;
  const w01 = (INTER_TAB_SIZE - fy) * fx * 32;
  const w10 = fy * (INTER_TAB_SIZE - fx) * 32;
  const w11 = fy * fx * 32;
  const { width: w, height: h, data: S } = src;
  if (sx >= 0 && sy >= 0 && sx < w - 1 && sy < h - 1) {
    const p = (sy * w + sx) * 3;
    const q = p + w * 3;
    for (let c = 0; c < 3; c++) {
      D[o + c] = clamp((S[p + c] * w00 + S[p + 3 + c] * w01 + S[q + c] * w10 + S[q + 3 + c] * w11 + (1 << (REMAP_BITS - 1))) >> REMAP_BITS);
    }
    return;
  }
  if (sx >= w || sx + 1 < 0 || sy >= h || sy + 1 < 0) {
    D[o] = D[o + 1] = D[o + 2] = border;
    return;
  }
  const x0 = sx >= 0 && sx < w ? sx : -1;
  const x1 = sx + 1 >= 0 && sx + 1 < w ? sx + 1 : -1;
  const y0 = sy >= 0 && sy < h ? sy : -1;
  const y1 = sy + 1 >= 0 && sy + 1 < h ? sy + 1 : -1;
  for (let c = 0; c < 3; c++) {
    const v0 = x0 >= 0 && y0 >= 0 ? S[(y0 * w + x0) * 3 + c] : border;
    const v1 = x1 >= 0 && y0 >= 0 ? S[(y0 * w + x1) * 3 + c] : border;
    const v2 = x0 >= 0 && y1 >= 0 ? S[(y1 * w + x0) * 3 + c] : border;
    const v3 = x1 >= 0 && y1 >= 0 ? S[(y1 * w + x1) * 3 + c] : border;
    D[o + c] = clamp((v0 * w00 + v1 * w01 + v2 * w10 + v3 * w11 + (1 << (REMAP_BITS - 1))) >> REMAP_BITS);
  }
}

const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/** `cv2.warpAffine(src, M, (width, height), borderValue=(border,)*3)` with INTER_LINEAR; M maps source to destination. */
export function warpAffine(src: RgbImage, m: Affine, width: number, height: number, border = 114): RgbImage {
  const inv = invertAffine(m);
  const out = createImage(width, height);
  const D = out.data;
  const roundDelta = AB_SCALE / INTER_TAB_SIZE / 2;
  const adelta = new Int32Array(width);
  const bdelta = new Int32Array(width);
  for (let x = 0; x < width; x++) {
    adelta[x] = satInt(inv[0] * x * AB_SCALE);
    bdelta[x] = satInt(inv[3] * x * AB_SCALE);
  }
  for (let y = 0; y < height; y++) {
    const X0 = satInt((inv[1] * y + inv[2]) * AB_SCALE) + roundDelta;
    const Y0 = satInt((inv[4] * y + inv[5]) * AB_SCALE) + roundDelta;
    for (let x = 0; x < width; x++) {
      const X = (X0 + adelta[x]) >> (AB_BITS - INTER_BITS);
      const Y = (Y0 + bdelta[x]) >> (AB_BITS - INTER_BITS);
      sample(src, X, Y, border, D, (y * width + x) * 3);
    }
  }
  return out;
}

/** The inverse of a 3×3 matrix (adjugate / determinant), as `cv::invert(M, DECOMP_LU)` up to rounding. */
export function invert3(m: Projective): Projective {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (det === 0) return [0, 0, 0, 0, 0, 0, 0, 0, 0];
  const r = 1 / det;
  return [A * r, -(b * i - c * h) * r, (b * f - c * e) * r, B * r, (a * i - c * g) * r, -(a * f - c * d) * r, C * r, -(a * h - b * g) * r, (a * e - b * d) * r];
}

/**
 * `cv2.warpPerspective(src, M, (width, height), borderValue=...)` with INTER_LINEAR. OpenCV evaluates the inverse
 * map per 64-pixel-wide block (`X0 + M[0]·x1` with x1 inside the block), which we follow so rounding agrees.
 */
export function warpPerspective(src: RgbImage, m: Projective, width: number, height: number, border = 114): RgbImage {
  const M = invert3(m);
  const out = createImage(width, height);
  const D = out.data;
  const bh0 = Math.min(16, height);
  const bw0 = Math.min(Math.floor(1024 / bh0), width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x += bw0) {
      const bw = Math.min(bw0, width - x);
      const X0 = M[0] * x + M[1] * y + M[2];
      const Y0 = M[3] * x + M[4] * y + M[5];
      const W0 = M[6] * x + M[7] * y + M[8];
      for (let x1 = 0; x1 < bw; x1++) {
        let W = W0 + M[6] * x1;
        W = W ? INTER_TAB_SIZE / W : 0;
        const fX = Math.max(INT_MIN, Math.min(INT_MAX, (X0 + M[0] * x1) * W));
        const fY = Math.max(INT_MIN, Math.min(INT_MAX, (Y0 + M[3] * x1) * W));
        sample(src, satInt(fX), satInt(fY), border, D, (y * width + x + x1) * 3);
      }
    }
  }
  return out;
}
