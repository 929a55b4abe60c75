// JPEG decoding close to what OpenCV (libjpeg-turbo) produces. jpeg-js does the entropy decoding and IDCT; we ask
// it for the raw Y, Cb, Cr samples (it upsamples chroma by repetition), take the chroma planes back to their coded
// resolution, then upsample them with libjpeg's "fancy" triangle filters and convert to RGB with libjpeg's integer
// tables. What remains different is jpeg-js's IDCT (±1–2 per sample against libjpeg's islow IDCT).
import { decode as decodeJpegJs } from 'jpeg-js';
import type { RgbImage } from './image';

interface FrameInfo {
  width: number;
  height: number;
  components: { id: number; h: number; v: number }[];
  /** Adobe APP14 transform flag (0 = RGB/CMYK, 1 = YCbCr, 2 = YCCK), or null without that marker. */
  adobeTransform: number | null;
}

function readFrame(bytes: Uint8Array): FrameInfo | null {
  let p = 2;
  let adobeTransform: number | null = null;
  while (p + 4 <= bytes.length) {
    if (bytes[p] !== 0xff) return null;
    const m = bytes[p + 1];
    if (m === 0xff) {
      p++;
      continue;
    }
    if (m === 0xd8 || (m >= 0xd0 && m <= 0xd7)) {
      p += 2;
      continue;
    }
    const len = (bytes[p + 2] << 8) | bytes[p + 3];
    if (m === 0xee && len >= 12 && String.fromCharCode(...bytes.subarray(p + 4, p + 9)) === 'Adobe') adobeTransform = bytes[p + 15];
    const sof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
    if (sof) {
      const n = bytes[p + 9];
      const components = [];
      for (let i = 0; i < n; i++) {
        const o = p + 10 + i * 3;
        components.push({ id: bytes[o], h: bytes[o + 1] >> 4, v: bytes[o + 1] & 15 });
      }
      return { height: (bytes[p + 5] << 8) | bytes[p + 6], width: (bytes[p + 7] << 8) | bytes[p + 8], components, adobeTransform };
    }
    p += 2 + len;
  }
  return null;
}

/** One coded chroma plane (w × h) upsampled by (sx, sy) to W × H, as libjpeg-turbo's jdsample.c does. */
function upsample(plane: Uint8Array, w: number, h: number, sx: number, sy: number, W: number, H: number): Uint8Array {
  const out = new Uint8Array(W * H);
  const row = (y: number): number => Math.min(Math.max(y, 0), h - 1) * w; // context rows replicate the edges
  const put = (x: number, y: number, v: number): void => {
    if (x < W && y < H) out[y * W + x] = v;
  };
  if (sx === 2 && sy === 2 && w > 2) {
    for (let y = 0; y < h; y++) {
      for (let v = 0; v < 2; v++) {
        const r0 = row(y);
        const r1 = row(v === 0 ? y - 1 : y + 1);
        const col = (x: number): number => plane[r0 + x] * 3 + plane[r1 + x];
        const oy = 2 * y + v;
        let last = col(0);
        let cur = last;
        for (let x = 0; x < w; x++) {
          const next = x + 1 < w ? col(x + 1) : cur;
          put(2 * x, oy, x === 0 ? (cur * 4 + 8) >> 4 : (cur * 3 + last + 8) >> 4);
          put(2 * x + 1, oy, x === w - 1 ? (cur * 4 + 7) >> 4 : (cur * 3 + next + 7) >> 4);
          last = cur;
          cur = next;
        }
      }
    }
    return out;
  }
  if (sx === 2 && sy === 1 && w > 2) {
    for (let y = 0; y < h; y++) {
      const r = y * w;
      for (let x = 0; x < w; x++) {
        const c = plane[r + x];
        put(2 * x, y, x === 0 ? c : (c * 3 + plane[r + x - 1] + 1) >> 2);
        put(2 * x + 1, y, x === w - 1 ? c : (c * 3 + plane[r + x + 1] + 2) >> 2);
      }
    }
    return out;
  }
  if (sx === 1 && sy === 2) {
    for (let y = 0; y < h; y++) {
      for (let v = 0; v < 2; v++) {
        const r0 = row(y);
        const r1 = row(v === 0 ? y - 1 : y + 1);
        for (let x = 0; x < w; x++) put(x, 2 * y + v, (plane[r0 + x] * 3 + plane[r1 + x] + (v === 0 ? 1 : 2)) >> 2);
      }
    }
    return out;
  }
  // Other factors: libjpeg replicates samples (box filter).
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) out[y * W + x] = plane[Math.floor(y / sy) * w + Math.floor(x / sx)];
  return out;
}

// libjpeg's jdcolor.c tables (16-bit fixed point).
const SCALEBITS = 16;
const ONE_HALF = 1 << (SCALEBITS - 1);
const FIX = (x: number): number => Math.floor(x * (1 << SCALEBITS) + 0.5);
const YCC = (() => {
  const crR = new Int32Array(256);
  const cbB = new Int32Array(256);
  const crG = new Int32Array(256);
  const cbG = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    const x = i - 128;
    crR[i] = (FIX(1.402) * x + ONE_HALF) >> SCALEBITS;
    cbB[i] = (FIX(1.772) * x + ONE_HALF) >> SCALEBITS;
    crG[i] = -FIX(0.71414) * x;
    cbG[i] = -FIX(0.34414) * x + ONE_HALF;
  }
  return { crR, cbB, crG, cbG };
})();

const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : v);

/** Decodes a JPEG to RGB (EXIF orientation not applied here). */
export function decodeJpegRgb(bytes: Uint8Array): RgbImage {
  const frame = readFrame(bytes);
  const ycc =
    frame !== null &&
    frame.components.length === 3 &&
    frame.adobeTransform !== 0 &&
    !(frame.components[0].id === 82 && frame.components[1].id === 71 && frame.components[2].id === 66); // 'R','G','B'
  const raw = decodeJpegJs(bytes, {
    useTArray: true,
    formatAsRGBA: false,
    tolerantDecoding: false,
    maxMemoryUsageInMB: 2048,
    ...(ycc ? { colorTransform: false } : {}),
  });
  const { width: W, height: H } = raw;
  if (raw.data.length !== W * H * 3) throw new Error(`decoder returned ${raw.data.length} bytes for ${W}x${H}`);
  if (!ycc || !frame) return { width: W, height: H, data: raw.data };
  const hmax = Math.max(...frame.components.map((c) => c.h));
  const vmax = Math.max(...frame.components.map((c) => c.v));
  const planes = frame.components.map((c, k) => {
    const full = new Uint8Array(W * H);
    for (let i = 0; i < W * H; i++) full[i] = raw.data[i * 3 + k];
    const sx = hmax / c.h;
    const sy = vmax / c.v;
    if (sx === 1 && sy === 1) return full;
    if (!Number.isInteger(sx) || !Number.isInteger(sy)) return full; // unusual factors: keep jpeg-js's samples
    // jpeg-js repeated each coded sample sx × sy times; take one of each back.
    const w = Math.ceil(W / sx);
    const h = Math.ceil(H / sy);
    const coded = new Uint8Array(w * h);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) coded[y * w + x] = full[y * sy * W + x * sx];
    return upsample(coded, w, h, sx, sy, W, H);
  });
  const out = new Uint8Array(W * H * 3);
  const [Y, Cb, Cr] = planes;
  for (let i = 0; i < W * H; i++) {
    const y = Y[i];
    const cb = Cb[i];
    const cr = Cr[i];
    out[i * 3] = clamp(y + YCC.crR[cr]);
    out[i * 3 + 1] = clamp(y + ((YCC.cbG[cb] + YCC.crG[cr]) >> SCALEBITS));
    out[i * 3 + 2] = clamp(y + YCC.cbB[cb]);
  }
  return { width: W, height: H, data: out };
}
