// Drawing on RgbImage for annotated outputs: rectangles and a built-in 5×7 bitmap font (printable ASCII).
import type { RgbImage } from './image';

/** A colour as [r, g, b] bytes. */
export type Rgb = readonly [number, number, number];

/**
 * Glyphs for ASCII 32..126, 7 characters each: one row per character, the row's 5 pixels as a base-32 digit
 * (bit 4 = leftmost column). Drawn for this project in the usual 5×7 LCD style.
 */
const FONT =
  '00000004444404aaa0000aavavaa4fke5u4op248j3cik8lid44800002488842842224804lel40044v4400000c48000v00000000cc01248g0ehjlphe4' +
  'c4444eeh1248vv2421he26aiv22vgu11he68guhhev124888ehhehheehhf12c0cc0cc00cc0c48248g84200v0v008421248eh12404eh1dlleehhvhhhuh' +
  'huhhuehggghesihhhisvgguggvvggugggehgnhhfhhhvhhhe44444e72222ichikokihggggggvhrllhhhhhpljhhehhhhheuhhugggehhhliduhhukihfgg' +
  'e11uv444444hhhhhhehhhhha4hhhlllahha4ahhhhha444v1248gve88888e0g84210e22222e4ah0000000000v842000000e1fhfggmphhu00egghe11dj' +
  'hhf00ehvge698s88800fhf1eggmphhh40c444e20622icggikokic44444e00qllhh00mphhh00ehhhe00uhugg00fhf1100mpggg00ege1u88s889600hhh' +
  'jd00hhha400hhlla00ha4ah00hhf1e00v248v244844244444448442448008l200';
const GLYPH_W = 5;
const GLYPH_H = 7;

function setPixel(img: RgbImage, x: number, y: number, c: Rgb): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  const o = (y * img.width + x) * 3;
  img.data[o] = c[0];
  img.data[o + 1] = c[1];
  img.data[o + 2] = c[2];
}

/** Fills the rectangle [x1, x2) × [y1, y2), clipped to the image. */
export function fillRect(img: RgbImage, x1: number, y1: number, x2: number, y2: number, c: Rgb): void {
  const xa = Math.max(0, Math.floor(x1));
  const ya = Math.max(0, Math.floor(y1));
  const xb = Math.min(img.width, Math.floor(x2));
  const yb = Math.min(img.height, Math.floor(y2));
  for (let y = ya; y < yb; y++) for (let x = xa; x < xb; x++) setPixel(img, x, y, c);
}

/**
 * Draws the outline of the box with corners (x1, y1) and (x2, y2) (pixel coordinates, rounded), `thickness`
 * pixels wide and growing inwards, clipped to the image. Mutates `img`.
 */
export function drawBox(img: RgbImage, x1: number, y1: number, x2: number, y2: number, rgb: Rgb, thickness = 2): void {
  const l = Math.round(Math.min(x1, x2));
  const r = Math.round(Math.max(x1, x2));
  const t = Math.round(Math.min(y1, y2));
  const b = Math.round(Math.max(y1, y2));
  const k = Math.max(1, Math.round(thickness));
  fillRect(img, l, t, r + 1, Math.min(t + k, b + 1), rgb);
  fillRect(img, l, Math.max(b + 1 - k, t), r + 1, b + 1, rgb);
  fillRect(img, l, t, Math.min(l + k, r + 1), b + 1, rgb);
  fillRect(img, Math.max(r + 1 - k, l), t, r + 1, b + 1, rgb);
}

/** Pixel size of `text` drawn at `scale` (1 px padding around, 1 px between glyphs). */
export function textSize(text: string, scale = 1): { width: number; height: number } {
  const s = Math.max(1, Math.round(scale));
  return { width: (text.length * (GLYPH_W + 1) + 1) * s, height: (GLYPH_H + 2) * s };
}

/**
 * Writes `text` with its top-left corner at (x, y), each font pixel a `scale`×`scale` square, clipped to the
 * image. With `bg` the text sits on a filled label rectangle (1 px padding). Characters outside printable ASCII
 * are drawn as '?'. Mutates `img`.
 */
export function drawText(img: RgbImage, x: number, y: number, text: string, rgb: Rgb, bg?: Rgb, scale = 1): void {
  const s = Math.max(1, Math.round(scale));
  const x0 = Math.round(x);
  const y0 = Math.round(y);
  if (bg) {
    const { width, height } = textSize(text, s);
    fillRect(img, x0, y0, x0 + width, y0 + height, bg);
  }
  for (let i = 0; i < text.length; i++) {
    let code = text.charCodeAt(i);
    if (code < 32 || code > 126) code = 63;
    const g = (code - 32) * GLYPH_H;
    const gx = x0 + (1 + i * (GLYPH_W + 1)) * s;
    for (let row = 0; row < GLYPH_H; row++) {
      const bits = parseInt(FONT[g + row], 32);
      for (let col = 0; col < GLYPH_W; col++) {
        if (bits & (1 << (GLYPH_W - 1 - col))) fillRect(img, gx + col * s, y0 + (1 + row) * s, gx + (col + 1) * s, y0 + (2 + row) * s, rgb);
      }
    }
  }
}

/** Class colours (the official plotting palette). */
export const PALETTE: readonly Rgb[] = [
  [255, 56, 56], [255, 157, 151], [255, 112, 31], [255, 178, 29], [207, 210, 49], [72, 249, 10], [146, 204, 23], [61, 219, 134],
  [26, 147, 52], [0, 212, 187], [44, 153, 168], [0, 194, 255], [52, 69, 147], [100, 115, 255], [0, 24, 236], [132, 56, 255],
];

/** Draw detections ([x1, y1, x2, y2, conf, cls] in image pixels) with class names. */
export function annotate(img: RgbImage, dets: readonly (readonly number[])[], names: readonly string[]): RgbImage {
  const out = { width: img.width, height: img.height, data: img.data.slice() };
  for (const [x1, y1, x2, y2, conf, cls] of dets) {
    const c = PALETTE[cls % PALETTE.length];
    drawBox(out, x1, y1, x2, y2, c, Math.max(1, Math.round(Math.min(img.width, img.height) / 200)));
    // a NaN confidence (ground-truth labels) draws the class name alone
    drawText(out, x1, Math.max(0, y1 - 10), `${names[cls] ?? cls}${Number.isNaN(conf) ? '' : ` ${conf.toFixed(2)}`}`, [255, 255, 255], c);
  }
  return out;
}
