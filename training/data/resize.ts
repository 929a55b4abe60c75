// Image resizing that follows OpenCV's `cv2.resize` for 8-bit images (INTER_LINEAR and INTER_AREA), including its
// fixed-point arithmetic: 11-bit interpolation weights, float32 coordinate maths, the switch of an exact 2× shrink
// to the area path, and the integer-ratio "fast area" path. Bit-exact against cv2 4.6 on x86 (see
// test/training/data/geometry.test.ts); other OpenCV builds (NEON, newer releases) may differ by 1 level.
import { createImage, type RgbImage } from './image';
import { clampU8, roundHalfEven } from './round';

/** Resize kernel: OpenCV's INTER_LINEAR or INTER_AREA. */
export type Interpolation = 'linear' | 'area';

const COEF_BITS = 11;
const COEF_SCALE = 1 << COEF_BITS;
const DBL_EPSILON = 2.220446049250313e-16;
const f32 = Math.fround;

/** `cv2.resize(src, (width, height), interpolation)` for an RGB image. */
export function resize(src: RgbImage, width: number, height: number, interpolation: Interpolation = 'linear'): RgbImage {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0)) {
    throw new Error(`resize: target size must be positive integers, got ${width}x${height}`);
  }
  if (src.width < 1 || src.height < 1) throw new Error(`resize: source image is empty (${src.width}x${src.height})`);
  if (width === src.width && height === src.height) return { width, height, data: src.data.slice() };
  const invX = width / src.width;
  const invY = height / src.height;
  const scaleX = 1 / invX;
  const scaleY = 1 / invY;
  const iscaleX = roundHalfEven(scaleX);
  const iscaleY = roundHalfEven(scaleY);
  const areaFast = Math.abs(scaleX - iscaleX) < DBL_EPSILON && Math.abs(scaleY - iscaleY) < DBL_EPSILON;
  let interp = interpolation;
  if (interp === 'linear' && areaFast && iscaleX === 2 && iscaleY === 2) interp = 'area';
  if (interp === 'area' && scaleX >= 1 && scaleY >= 1) {
    return areaFast ? resizeAreaFast(src, width, height, iscaleX, iscaleY) : resizeArea(src, width, height, scaleX, scaleY);
  }
  return resizeLinear(src, width, height, scaleX, scaleY, invX, invY, interp === 'area');
}

/** Source index and the two 11-bit weights for each destination coordinate (one axis). */
function linearTable(dsize: number, ssize: number, scale: number, inv: number, areaMode: boolean, clampEdges: boolean) {
  const ofs = new Int32Array(dsize);
  const w0 = new Int32Array(dsize);
  const w1 = new Int32Array(dsize);
  let vmax = dsize;
  for (let d = 0; d < dsize; d++) {
    let s: number;
    let f: number;
    if (!areaMode) {
      f = f32((d + 0.5) * scale - 0.5);
      s = Math.floor(f);
      f = f32(f - s);
    } else {
      s = Math.floor(d * scale);
      f = f32(d + 1 - (s + 1) * inv);
      f = f <= 0 ? 0 : f32(f - Math.floor(f));
    }
    if (clampEdges) {
      if (s < 0) (f = 0), (s = 0);
      if (s + 1 >= ssize) {
        vmax = Math.min(vmax, d);
        if (s >= ssize - 1) (f = 0), (s = ssize - 1);
      }
    }
    ofs[d] = s;
    w0[d] = roundHalfEven(f32(f32(1 - f) * COEF_SCALE));
    w1[d] = roundHalfEven(f32(f * COEF_SCALE));
  }
  return { ofs, w0, w1, vmax };
}

function resizeLinear(src: RgbImage, dw: number, dh: number, sx: number, sy: number, ix: number, iy: number, areaMode: boolean): RgbImage {
  const sw = src.width;
  const sh = src.height;
  const S = src.data;
  const xt = linearTable(dw, sw, sx, ix, areaMode, true);
  const yt = linearTable(dh, sh, sy, iy, areaMode, false);
  const W = dw * 3;
  const xmax = xt.vmax * 3;
  // Horizontal pass of one source row into 32-bit fixed point (value × 2048), cached for the two rows in use.
  const rowCache = new Map<number, Int32Array>();
  const hrow = (y: number): Int32Array => {
    let r = rowCache.get(y);
    if (r) return r;
    r = new Int32Array(W);
    const base = y * sw * 3;
    for (let e = 0; e < W; e++) {
      const dx = (e / 3) | 0;
      const c = e - dx * 3;
      const p = base + xt.ofs[dx] * 3 + c;
      r[e] = e < xmax ? S[p] * xt.w0[dx] + S[p + 3] * xt.w1[dx] : S[p] * COEF_SCALE;
    }
    if (rowCache.size > 4) rowCache.clear();
    rowCache.set(y, r);
    return r;
  };
  const out = createImage(dw, dh);
  const D = out.data;
  for (let dy = 0; dy < dh; dy++) {
    const s0 = yt.ofs[dy];
    const r0 = hrow(Math.min(Math.max(s0, 0), sh - 1));
    const r1 = hrow(Math.min(Math.max(s0 + 1, 0), sh - 1));
    vresize(r0, r1, yt.w0[dy], yt.w1[dy], D, dy * W, W);
  }
  return out;
}

/**
 * Vertical blend of two fixed-point rows as OpenCV's SIMD path computes it (it covers whole rows, the tail with an
 * overlapping vector): `(((S0>>4)·b0 >> 16) + ((S1>>4)·b1 >> 16) + 2) >> 2`. The scalar formula
 * `(S0·b0 + S1·b1 + 2^21) >> 22` differs by 1 in a few per cent of pixels, so it is not used.
 */
function vresize(S0: Int32Array, S1: Int32Array, b0: number, b1: number, D: Uint8Array, o: number, width: number): void {
  for (let x = 0; x < width; x++) {
    const a = (Math.imul(S0[x] >> 4, b0) >> 16) + (Math.imul(S1[x] >> 4, b1) >> 16);
    D[o + x] = clampU8((a + 2) >> 2);
  }
}

/** Integer shrink factors: block averages (2×2 rounds half up as OpenCV's SIMD path; others via float). */
function resizeAreaFast(src: RgbImage, dw: number, dh: number, kx: number, ky: number): RgbImage {
  const out = createImage(dw, dh);
  const S = src.data;
  const D = out.data;
  const sw = src.width;
  const area = kx * ky;
  const scale = f32(1 / area);
  for (let dy = 0; dy < dh; dy++) {
    for (let dx = 0; dx < dw; dx++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let j = 0; j < ky; j++) for (let i = 0; i < kx; i++) sum += S[((dy * ky + j) * sw + dx * kx + i) * 3 + c];
        D[(dy * dw + dx) * 3 + c] = kx === 2 && ky === 2 ? (sum + 2) >> 2 : clampU8(roundHalfEven(f32(sum * scale)));
      }
    }
  }
  return out;
}

interface AreaTab {
  di: Int32Array;
  si: Int32Array;
  alpha: Float32Array;
}

/** OpenCV's computeResizeAreaTab: the source cells (with fractional weights) covering each destination cell. */
function areaTab(ssize: number, dsize: number, scale: number): AreaTab {
  const di: number[] = [];
  const si: number[] = [];
  const alpha: number[] = [];
  for (let dx = 0; dx < dsize; dx++) {
    const fsx1 = dx * scale;
    const fsx2 = fsx1 + scale;
    const cell = Math.min(scale, ssize - fsx1);
    let sx2 = Math.floor(fsx2);
    const sx1c = Math.ceil(fsx1);
    sx2 = Math.min(sx2, ssize - 1);
    const sx1 = Math.min(sx1c, sx2);
    if (sx1 - fsx1 > 1e-3) di.push(dx), si.push(sx1 - 1), alpha.push((sx1 - fsx1) / cell);
    for (let s = sx1; s < sx2; s++) di.push(dx), si.push(s), alpha.push(1 / cell);
    if (fsx2 - sx2 > 1e-3) di.push(dx), si.push(sx2), alpha.push(Math.min(Math.min(fsx2 - sx2, 1), cell) / cell);
  }
  return { di: Int32Array.from(di), si: Int32Array.from(si), alpha: Float32Array.from(alpha) };
}

/** General shrink: exact area weights, accumulated in float32 as OpenCV does. */
function resizeArea(src: RgbImage, dw: number, dh: number, scaleX: number, scaleY: number): RgbImage {
  const xt = areaTab(src.width, dw, scaleX);
  const yt = areaTab(src.height, dh, scaleY);
  const W = dw * 3;
  const buf = new Float32Array(W);
  const sum = new Float32Array(W);
  const out = createImage(dw, dh);
  const S = src.data;
  const D = out.data;
  let prev = yt.di[0];
  for (let j = 0; j < yt.di.length; j++) {
    const beta = yt.alpha[j];
    const dy = yt.di[j];
    const row = yt.si[j] * src.width * 3;
    buf.fill(0);
    for (let k = 0; k < xt.di.length; k++) {
      const a = xt.alpha[k];
      const d = xt.di[k] * 3;
      const s = row + xt.si[k] * 3;
      buf[d] = f32(buf[d] + f32(S[s] * a));
      buf[d + 1] = f32(buf[d + 1] + f32(S[s + 1] * a));
      buf[d + 2] = f32(buf[d + 2] + f32(S[s + 2] * a));
    }
    if (dy !== prev) {
      for (let x = 0; x < W; x++) {
        D[prev * W + x] = clampU8(roundHalfEven(sum[x]));
        sum[x] = f32(beta * buf[x]);
      }
      prev = dy;
    } else {
      for (let x = 0; x < W; x++) sum[x] = f32(sum[x] + f32(beta * buf[x]));
    }
  }
  for (let x = 0; x < W; x++) D[prev * W + x] = clampU8(roundHalfEven(sum[x]));
  return out;
}

/** `cv2.copyMakeBorder(..., BORDER_CONSTANT, value)`: pads each side by the given pixel counts. */
export function padImage(src: RgbImage, top: number, bottom: number, left: number, right: number, value = 114): RgbImage {
  const w = src.width + left + right;
  const h = src.height + top + bottom;
  const out = createImage(w, h, value);
  const rowBytes = src.width * 3;
  for (let y = 0; y < src.height; y++) {
    out.data.set(src.data.subarray(y * rowBytes, (y + 1) * rowBytes), ((y + top) * w + left) * 3);
  }
  return out;
}
