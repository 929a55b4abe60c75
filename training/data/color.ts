// OpenCV's 8-bit RGB ↔ HSV conversions (H in [0, 180), S and V in [0, 255]), reproduced bit for bit: the forward
// direction with its 12-bit integer division tables, the inverse in float32 as `HSV2RGB_b` does.

const HSV_SHIFT = 12;
const f32 = Math.fround;

interface DivTables {
  sdiv: Int32Array;
  hdiv: Int32Array;
}

const divTables: DivTables = (() => {
  const sdiv = new Int32Array(256);
  const hdiv = new Int32Array(256);
  for (let i = 1; i < 256; i++) {
    sdiv[i] = roundEven((255 << HSV_SHIFT) / i);
    hdiv[i] = roundEven((180 << HSV_SHIFT) / (6 * i));
  }
  return { sdiv, hdiv };
})();

function roundEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
}

/** `cv2.cvtColor(rgb, COLOR_RGB2HSV)` on interleaved RGB bytes; returns interleaved H, S, V bytes. */
export function rgbToHsv(rgb: Uint8Array): Uint8Array {
  const out = new Uint8Array(rgb.length);
  const { sdiv, hdiv } = divTables;
  const half = 1 << (HSV_SHIFT - 1);
  for (let i = 0; i < rgb.length; i += 3) {
    const r = rgb[i];
    const g = rgb[i + 1];
    const b = rgb[i + 2];
    const v = Math.max(r, g, b);
    const diff = v - Math.min(r, g, b);
    const s = (diff * sdiv[v] + half) >> HSV_SHIFT;
    let h = v === r ? g - b : v === g ? b - r + 2 * diff : r - g + 4 * diff;
    h = (h * hdiv[diff] + half) >> HSV_SHIFT;
    if (h < 0) h += 180;
    out[i] = h;
    out[i + 1] = s;
    out[i + 2] = v;
  }
  return out;
}

// Which of (v, v(1-s), v(1-s·h), v(1-s(1-h))) feeds B, G, R in each 60° sector (OpenCV's `sector_data`), flat.
const SECTOR = Int8Array.of(1, 3, 0, 1, 0, 2, 3, 0, 1, 0, 2, 1, 0, 1, 3, 2, 1, 0);
const HSCALE = f32(6 / 180);
const INV255 = f32(1 / 255);
// Per byte value: s or v as float32 (x / 255), and the hue's sector and fraction (fmodf(h·6/180, 6)).
const UNIT = Float32Array.from({ length: 256 }, (_, x) => f32(x * INV255));
const HUE_SECTOR = new Int8Array(256);
const HUE_FRAC = new Float32Array(256);
for (let x = 0; x < 256; x++) {
  const h = f32(f32(x * HSCALE) % 6);
  HUE_SECTOR[x] = Math.floor(h);
  HUE_FRAC[x] = f32(h - Math.floor(h));
}

/**
 * `cv2.cvtColor(hsv, COLOR_HSV2RGB)` on interleaved H, S, V bytes of an image `width` pixels wide; returns RGB.
 *
 * OpenCV 4.6 (AVX2 dispatch, as on any recent x86) converts the first ⌊width/32⌋·32 pixels of each row with SIMD
 * code that fuses `1 - s·h` and `1 - s·(1-h)` into FMAs and *truncates* the result, and the rest of the row with
 * scalar code that fuses only `1 - s·h` and rounds. We reproduce both (verified exhaustively over all 180·256·256
 * inputs in both paths).
 */
export function hsvToRgb(hsv: Uint8Array, width: number): Uint8Array {
  const out = new Uint8Array(hsv.length);
  const simdCols = Math.floor(width / 32) * 32;
  const tab = new Float32Array(4);
  const rows = hsv.length / 3 / width;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const simd = x < simdCols;
      const s = UNIT[hsv[i + 1]];
      const v = UNIT[hsv[i + 2]];
      const h = HUE_FRAC[hsv[i]];
      const k = HUE_SECTOR[hsv[i]] * 3;
      tab[0] = v;
      tab[1] = v * f32(1 - s);
      tab[2] = v * f32(1 - s * h); // fused in both paths: s·h is exact in double, one rounding to float
      tab[3] = simd ? v * f32(1 - s * f32(1 - h)) : v * f32(1 - f32(s * f32(1 - h)));
      const r = f32(tab[SECTOR[k + 2]] * 255);
      const g = f32(tab[SECTOR[k + 1]] * 255);
      const b = f32(tab[SECTOR[k]] * 255);
      if (simd) {
        out[i] = r < 255 ? r : 255; // Uint8Array stores truncate
        out[i + 1] = g < 255 ? g : 255;
        out[i + 2] = b < 255 ? b : 255;
      } else {
        out[i] = sat(r);
        out[i + 1] = sat(g);
        out[i + 2] = sat(b);
      }
    }
  }
  return out;
}

const sat = (x: number): number => {
  const r = roundEven(x);
  return r < 0 ? 0 : r > 255 ? 255 : r;
};

/**
 * The official `augment_hsv` colour step with given gains (gain = 1 + U(-1,1)·hyp): RGB → HSV, per-channel lookup
 * tables (hue ·gain mod 180, saturation and value ·gain clipped to 255, all truncated to uint8), HSV → RGB.
 * Returns a new image.
 */
export function applyHsvGains(rgb: Uint8Array, width: number, gains: readonly [number, number, number]): Uint8Array {
  const [gh, gs, gv] = gains;
  const lutH = new Uint8Array(256);
  const lutS = new Uint8Array(256);
  const lutV = new Uint8Array(256);
  for (let x = 0; x < 256; x++) {
    const hh = x * gh;
    lutH[x] = Math.trunc(hh - 180 * Math.floor(hh / 180)) & 255; // numpy float %: sign of the divisor
    lutS[x] = Math.trunc(Math.min(255, Math.max(0, x * gs)));
    lutV[x] = Math.trunc(Math.min(255, Math.max(0, x * gv)));
  }
  const hsv = rgbToHsv(rgb);
  for (let i = 0; i < hsv.length; i += 3) {
    hsv[i] = lutH[hsv[i]];
    hsv[i + 1] = lutS[hsv[i + 1]];
    hsv[i + 2] = lutV[hsv[i + 2]];
  }
  return hsvToRgb(hsv, width);
}
