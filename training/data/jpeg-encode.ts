// A small baseline JPEG encoder (JFIF, 4:4:4 YCbCr, IJG quality scaling, per-image optimal Huffman tables as in
// ITU T.81 Annex K.2). Written here because jpeg-js's encoder calls Node's `Buffer`, which browsers lack. It is
// meant for annotated previews, not for speed.
import type { RgbImage } from './image';

const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35,
  42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63,
];
// ITU T.81 Annex K.1 example tables, natural (row-major) order.
const LUMA_Q = [
  16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
  18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92, 49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99,
];
const CHROMA_Q = [
  17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99,
  ...new Array<number>(32).fill(99),
];

function scaledTable(base: readonly number[], quality: number): number[] {
  const q = Math.min(100, Math.max(1, Math.round(quality)));
  const s = q < 50 ? 5000 / q : 200 - 2 * q;
  return base.map((v) => Math.min(255, Math.max(1, Math.floor((v * s + 50) / 100))));
}

// cos((2x+1)uπ/16) · C(u) / 2, so a separable pass is a plain 8×8 matrix product.
const DCT: Float64Array = (() => {
  const m = new Float64Array(64);
  for (let u = 0; u < 8; u++) for (let x = 0; x < 8; x++) m[u * 8 + x] = (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
  return m;
})();

/** Quantised coefficients (zigzag order) of every 8×8 block of one component. */
function quantiseComponent(plane: Float64Array, w: number, h: number, q: number[]): Int16Array {
  const bw = Math.ceil(w / 8);
  const bh = Math.ceil(h / 8);
  const out = new Int16Array(bw * bh * 64);
  const blk = new Float64Array(64);
  const tmp = new Float64Array(64);
  for (let by = 0; by < bh; by++) {
    for (let bx = 0; bx < bw; bx++) {
      for (let y = 0; y < 8; y++) {
        const sy = Math.min(by * 8 + y, h - 1);
        for (let x = 0; x < 8; x++) blk[y * 8 + x] = plane[sy * w + Math.min(bx * 8 + x, w - 1)] - 128;
      }
      for (let u = 0; u < 8; u++) {
        for (let x = 0; x < 8; x++) {
          let s = 0;
          for (let y = 0; y < 8; y++) s += DCT[u * 8 + y] * blk[y * 8 + x];
          tmp[u * 8 + x] = s;
        }
      }
      const o = (by * bw + bx) * 64;
      for (let k = 0; k < 64; k++) {
        const n = ZIGZAG[k];
        const u = n >> 3;
        const v = n & 7;
        let s = 0;
        for (let x = 0; x < 8; x++) s += tmp[u * 8 + x] * DCT[v * 8 + x];
        out[o + k] = Math.round(s / q[n]);
      }
    }
  }
  return out;
}

const bitLength = (v: number): number => (v === 0 ? 0 : 32 - Math.clz32(Math.abs(v)));

/** Calls `emit(table, symbol, extraBits, extraLen)` for each Huffman symbol of one block (table 0 = DC, 1 = AC). */
function blockSymbols(c: Int16Array, o: number, prevDc: number, emit: (ac: boolean, sym: number, bits: number, len: number) => void): void {
  const diff = c[o] - prevDc;
  const dl = bitLength(diff);
  emit(false, dl, diff < 0 ? diff + (1 << dl) - 1 : diff, dl);
  let run = 0;
  for (let k = 1; k < 64; k++) {
    const v = c[o + k];
    if (v === 0) {
      run++;
      continue;
    }
    while (run > 15) {
      emit(true, 0xf0, 0, 0);
      run -= 16;
    }
    const l = bitLength(v);
    emit(true, (run << 4) | l, v < 0 ? v + (1 << l) - 1 : v, l);
    run = 0;
  }
  if (run > 0) emit(true, 0x00, 0, 0);
}

interface Huff {
  bits: number[]; // counts per code length 1..16
  vals: number[];
  code: Int32Array;
  size: Int32Array;
}

/** Optimal length-limited Huffman table from symbol frequencies (T.81 Annex K.2, as libjpeg does). */
function optimalTable(freqIn: Int32Array): Huff {
  const freq = Float64Array.from(freqIn);
  freq[256] = 1; // reserved so no real code is all ones
  const codesize = new Int32Array(257);
  const others = new Int32Array(257).fill(-1);
  for (;;) {
    let c1 = -1;
    let v = Infinity;
    for (let i = 0; i <= 256; i++) if (freq[i] > 0 && freq[i] <= v) (v = freq[i]), (c1 = i);
    let c2 = -1;
    v = Infinity;
    for (let i = 0; i <= 256; i++) if (freq[i] > 0 && freq[i] <= v && i !== c1) (v = freq[i]), (c2 = i);
    if (c2 < 0) break;
    freq[c1] += freq[c2];
    freq[c2] = 0;
    codesize[c1]++;
    while (others[c1] >= 0) (c1 = others[c1]), codesize[c1]++;
    others[c1] = c2;
    codesize[c2]++;
    while (others[c2] >= 0) (c2 = others[c2]), codesize[c2]++;
  }
  const bits = new Array<number>(33).fill(0);
  for (let i = 0; i <= 256; i++) if (codesize[i]) bits[codesize[i]]++;
  for (let i = 32; i > 16; i--) {
    while (bits[i] > 0) {
      let j = i - 2;
      while (bits[j] === 0) j--;
      bits[i] -= 2;
      bits[i - 1] += 1;
      bits[j + 1] += 2;
      bits[j] -= 1;
    }
  }
  let i = 16;
  while (bits[i] === 0) i--;
  bits[i] -= 1;
  const vals: number[] = [];
  for (let len = 1; len <= 32; len++) for (let s = 0; s < 256; s++) if (codesize[s] === len) vals.push(s);
  const code = new Int32Array(256);
  const size = new Int32Array(256);
  let c = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    for (let n = 0; n < bits[len]; n++, k++) {
      code[vals[k]] = c++;
      size[vals[k]] = len;
    }
    c <<= 1;
  }
  return { bits: bits.slice(1, 17), vals, code, size };
}

class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private n = 0;
  private acc = 0;
  private nacc = 0;
  byte(b: number): void {
    if (this.n === this.buf.length) {
      const nb = new Uint8Array(this.buf.length * 2);
      nb.set(this.buf);
      this.buf = nb;
    }
    this.buf[this.n++] = b;
  }
  word(w: number): void {
    this.byte(w >> 8);
    this.byte(w & 0xff);
  }
  bytes(bs: ArrayLike<number>): void {
    for (let i = 0; i < bs.length; i++) this.byte(bs[i]);
  }
  /** Entropy-coded bits, MSB first, with 0xFF byte stuffing. */
  bits(v: number, len: number): void {
    for (let i = len - 1; i >= 0; i--) {
      this.acc = (this.acc << 1) | ((v >> i) & 1);
      if (++this.nacc === 8) {
        this.byte(this.acc);
        if (this.acc === 0xff) this.byte(0);
        this.acc = 0;
        this.nacc = 0;
      }
    }
  }
  flushBits(): void {
    while (this.nacc !== 0) this.bits(1, 1);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

/** Encodes an RGB image as a baseline JPEG. */
export function encodeJpegBaseline(img: RgbImage, quality: number): Uint8Array {
  const { width: w, height: h, data } = img;
  if (w < 1 || h < 1 || w > 65535 || h > 65535) throw new Error(`encodeJpeg: size ${w}x${h} is outside 1..65535`);
  const n = w * h;
  const planes = [new Float64Array(n), new Float64Array(n), new Float64Array(n)];
  for (let i = 0; i < n; i++) {
    const r = data[i * 3];
    const g = data[i * 3 + 1];
    const b = data[i * 3 + 2];
    planes[0][i] = 0.299 * r + 0.587 * g + 0.114 * b;
    planes[1][i] = -0.168736 * r - 0.331264 * g + 0.5 * b + 128;
    planes[2][i] = 0.5 * r - 0.418688 * g - 0.081312 * b + 128;
  }
  const qt = [scaledTable(LUMA_Q, quality), scaledTable(CHROMA_Q, quality)];
  const coefs = planes.map((p, c) => quantiseComponent(p, w, h, qt[c === 0 ? 0 : 1]));
  const nBlocks = Math.ceil(w / 8) * Math.ceil(h / 8);

  // Pass 1: symbol statistics per table (DC/AC × luma/chroma).
  const freq = [0, 1, 2, 3].map(() => new Int32Array(257));
  const walk = (emit: (comp: number, ac: boolean, sym: number, bits: number, len: number) => void): void => {
    const prev = [0, 0, 0];
    for (let b = 0; b < nBlocks; b++) {
      for (let c = 0; c < 3; c++) {
        blockSymbols(coefs[c], b * 64, prev[c], (ac, sym, bits, len) => emit(c, ac, sym, bits, len));
        prev[c] = coefs[c][b * 64];
      }
    }
  };
  walk((c, ac, sym) => freq[(c === 0 ? 0 : 2) + (ac ? 1 : 0)][sym]++);
  const tables = freq.map(optimalTable); // [DC luma, AC luma, DC chroma, AC chroma]

  const out = new ByteWriter();
  out.word(0xffd8);
  out.word(0xffe0); // APP0 JFIF 1.1, no density, no thumbnail
  out.word(16);
  out.bytes([0x4a, 0x46, 0x49, 0x46, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  for (let t = 0; t < 2; t++) {
    out.word(0xffdb);
    out.word(67);
    out.byte(t);
    for (let k = 0; k < 64; k++) out.byte(qt[t][ZIGZAG[k]]);
  }
  out.word(0xffc0);
  out.word(17);
  out.bytes([8, h >> 8, h & 0xff, w >> 8, w & 0xff, 3, 1, 0x11, 0, 2, 0x11, 1, 3, 0x11, 1]);
  tables.forEach((t, i) => {
    out.word(0xffc4);
    out.word(3 + 16 + t.vals.length);
    out.byte(((i & 1) << 4) | (i >> 1)); // class (0 DC, 1 AC) << 4 | table id
    out.bytes(t.bits);
    out.bytes(t.vals);
  });
  out.word(0xffda);
  out.word(12);
  out.bytes([3, 1, 0x00, 2, 0x11, 3, 0x11, 0, 63, 0]);
  walk((c, ac, sym, bits, len) => {
    const t = tables[(c === 0 ? 0 : 2) + (ac ? 1 : 0)];
    out.bits(t.code[sym], t.size[sym]);
    if (len) out.bits(bits, len);
  });
  out.flushBits();
  out.word(0xffd9);
  return out.result();
}
