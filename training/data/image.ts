// RGB images in memory, and reading/writing JPEG and PNG from bytes. Codecs: `jpeg-js` (decode, with libjpeg's
// chroma upsampling and colour conversion on top: jpeg-decode.ts), `fast-png` (decode and encode) and our own
// baseline JPEG encoder (jpeg-js's encoder needs Node's Buffer). All pure JS: runs in Node and in browsers alike.
import { decode as decodePngRaw, encode as encodePngRaw } from 'fast-png';
import { applyOrientation, jpegOrientation } from './exif';
import { decodeJpegRgb } from './jpeg-decode';
import { encodeJpegBaseline } from './jpeg-encode';

/** An 8-bit RGB image, row-major, 3 bytes per pixel (R, G, B). */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A new image filled with one value per channel (default 0). */
export function createImage(width: number, height: number, fill: readonly [number, number, number] | number = 0): RgbImage {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 0 && height >= 0)) {
    throw new Error(`createImage: size must be non-negative integers, got ${width}x${height}`);
  }
  const data = new Uint8Array(width * height * 3);
  const [r, g, b] = typeof fill === 'number' ? [fill, fill, fill] : fill;
  if (r === g && g === b) data.fill(r);
  else for (let i = 0; i < data.length; i += 3) (data[i] = r), (data[i + 1] = g), (data[i + 2] = b);
  return { width, height, data };
}

/** A copy of `im` with its own pixel array. */
export const cloneImage = (im: RgbImage): RgbImage => ({ width: im.width, height: im.height, data: im.data.slice() });

/** An image file format the pipeline decodes. */
export type ImageFormat = 'jpeg' | 'png';

/** The format from the first bytes, or null. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'png';
  return null;
}

function describeMagic(bytes: Uint8Array): string {
  if (bytes.length === 0) return 'the file is empty';
  const head = Array.from(bytes.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ');
  const txt = String.fromCharCode(...bytes.subarray(0, 12)).replace(/[^\x20-\x7e]/g, '.');
  const known =
    txt.startsWith('RIFF') && txt.slice(8, 12) === 'WEBP' ? ' (WebP)' : txt.startsWith('BM') ? ' (BMP)' : txt.startsWith('GIF8') ? ' (GIF)'
      : txt.startsWith('II*') || txt.startsWith('MM.*') ? ' (TIFF)' : '';
  return `it starts with ${head}${known}`;
}

/**
 * Decodes a JPEG or PNG (chosen by magic number) into RGB, as `cv2.imread(path, IMREAD_COLOR)` would: JPEG EXIF
 * orientation is applied; PNG alpha is dropped (not composited), 16-bit samples keep their high byte, grey and
 * palette images are expanded. `name` only appears in error messages.
 */
export function decodeImage(bytes: Uint8Array, name = '<bytes>'): RgbImage {
  const format = sniffFormat(bytes);
  if (format === null) throw new Error(`${name}: not a JPEG or PNG image (${describeMagic(bytes)}); only JPEG and PNG can be decoded`);
  try {
    return format === 'jpeg' ? decodeJpeg(bytes) : decodePng(bytes);
  } catch (e) {
    throw new Error(`${name}: corrupt ${format === 'jpeg' ? 'JPEG' : 'PNG'} data: ${(e as Error).message}`);
  }
}

function decodeJpeg(bytes: Uint8Array): RgbImage {
  return applyOrientation(decodeJpegRgb(bytes), jpegOrientation(bytes));
}

function decodePng(bytes: Uint8Array): RgbImage {
  const png = decodePngRaw(bytes, { checkCrc: true });
  const { width, height, depth } = png;
  const n = width * height;
  const out = new Uint8Array(n * 3);
  if (png.palette) {
    const idx = png.data;
    const pal = png.palette;
    for (let i = 0; i < n; i++) {
      const c = pal[depth === 8 ? idx[i] : unpackBits(idx, i, width, depth)];
      if (!c) throw new Error(`palette index out of range at pixel ${i}`);
      out[i * 3] = c[0];
      out[i * 3 + 1] = c[1];
      out[i * 3 + 2] = c[2];
    }
    return { width, height, data: out };
  }
  const ch = png.channels;
  const src = png.data;
  const sample = (k: number): number => {
    if (depth === 8) return src[k];
    if (depth === 16) return src[k] >> 8; // libpng png_set_strip_16: the high byte
    return (unpackBits(src, k, width * ch, depth) * 255) / ((1 << depth) - 1); // expand_gray_1_2_4_to_8
  };
  for (let i = 0; i < n; i++) {
    if (ch >= 3) {
      out[i * 3] = sample(i * ch);
      out[i * 3 + 1] = sample(i * ch + 1);
      out[i * 3 + 2] = sample(i * ch + 2);
    } else {
      const g = sample(i * ch);
      out[i * 3] = out[i * 3 + 1] = out[i * 3 + 2] = g;
    }
  }
  return { width, height, data: out };
}

/** Sample `i` of a packed 1/2/4-bit image whose rows (of `perRow` samples) start on byte boundaries. */
function unpackBits(data: ArrayLike<number>, i: number, perRow: number, depth: number): number {
  const row = Math.floor(i / perRow);
  const col = i - row * perRow;
  const rowBytes = Math.ceil((perRow * depth) / 8);
  const bit = col * depth;
  const byte = data[row * rowBytes + (bit >> 3)];
  return (byte >> (8 - depth - (bit & 7))) & ((1 << depth) - 1);
}

/** Width and height from a JPEG/PNG header without decoding (null if not found). EXIF rotation is applied. */
export function imageSize(bytes: Uint8Array): { width: number; height: number } | null {
  const f = sniffFormat(bytes);
  if (f === 'png') {
    if (bytes.length < 24) return null;
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { width: v.getUint32(16), height: v.getUint32(20) };
  }
  if (f !== 'jpeg') return null;
  let p = 2;
  while (p + 9 < bytes.length) {
    if (bytes[p] !== 0xff) return null;
    const m = bytes[p + 1];
    if (m === 0xff) {
      p++;
      continue;
    }
    const len = (bytes[p + 2] << 8) | bytes[p + 3];
    const sof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
    if (sof) {
      const height = (bytes[p + 5] << 8) | bytes[p + 6];
      const width = (bytes[p + 7] << 8) | bytes[p + 8];
      return jpegOrientation(bytes) >= 5 ? { width: height, height: width } : { width, height };
    }
    p += 2 + len;
  }
  return null;
}

/** PNG bytes (8-bit RGB, lossless). */
export function encodePng(img: RgbImage): Uint8Array {
  checkImage(img, 'encodePng');
  return encodePngRaw({ width: img.width, height: img.height, data: img.data, channels: 3, depth: 8 });
}

/** Baseline JPEG bytes (4:4:4, standard tables scaled by `quality` 1–100, default 90). */
export function encodeJpeg(img: RgbImage, quality = 90): Uint8Array {
  checkImage(img, 'encodeJpeg');
  return encodeJpegBaseline(img, quality);
}

function checkImage(img: RgbImage, what: string): void {
  if (img.data.length !== img.width * img.height * 3) {
    throw new Error(`${what}: data has ${img.data.length} bytes, expected ${img.width}x${img.height}x3 = ${img.width * img.height * 3}`);
  }
}

export { drawBox, drawText, textSize } from './draw';
