// results.png: one small line chart per results column (losses, precision/recall, mAP), drawn with our own
// rasterizer so the same code runs in Node and in the browser.
import { type RgbImage, createImage, encodePng } from './data/image';
import { drawText, fillRect, type Rgb } from './data/draw';

const PANEL_W = 240;
const PANEL_H = 170;
const BLUE: Rgb = [31, 119, 180];
const GREY: Rgb = [200, 200, 200];
const BLACK: Rgb = [40, 40, 40];

function line(img: RgbImage, x0: number, y0: number, x1: number, y1: number, c: Rgb): void {
  const n = Math.max(1, Math.ceil(Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0))));
  for (let i = 0; i <= n; i++) {
    const x = Math.round(x0 + ((x1 - x0) * i) / n);
    const y = Math.round(y0 + ((y1 - y0) * i) / n);
    fillRect(img, x, y, x + 2, y + 2, c);
  }
}

const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 1 ? v.toFixed(2) : v.toFixed(3));

function panel(img: RgbImage, ox: number, oy: number, title: string, ys: readonly number[]): void {
  fillRect(img, ox + 30, oy + 18, ox + PANEL_W - 8, oy + PANEL_H - 22, [250, 250, 250]);
  drawText(img, ox + 30, oy + 4, title, BLACK);
  const vals = ys.filter(Number.isFinite);
  if (vals.length === 0) return;
  let lo = Math.min(...vals);
  let hi = Math.max(...vals);
  if (hi - lo < 1e-12) {
    lo -= 0.5;
    hi += 0.5;
  }
  const x0 = ox + 32;
  const x1 = ox + PANEL_W - 10;
  const y0 = oy + PANEL_H - 24;
  const y1 = oy + 20;
  for (let k = 0; k <= 4; k++) {
    const y = y0 + ((y1 - y0) * k) / 4;
    fillRect(img, x0, y, x1, y + 1, GREY);
  }
  drawText(img, ox + 2, y1 - 2, fmt(hi), BLACK);
  drawText(img, ox + 2, y0 - 8, fmt(lo), BLACK);
  const px = (i: number): number => (ys.length === 1 ? (x0 + x1) / 2 : x0 + ((x1 - x0) * i) / (ys.length - 1));
  const py = (v: number): number => y0 + ((y1 - y0) * (v - lo)) / (hi - lo);
  for (let i = 1; i < ys.length; i++) if (Number.isFinite(ys[i - 1]) && Number.isFinite(ys[i])) line(img, px(i - 1), py(ys[i - 1]), px(i), py(ys[i]), BLUE);
  ys.forEach((v, i) => Number.isFinite(v) && fillRect(img, px(i) - 2, py(v) - 2, px(i) + 3, py(v) + 3, BLUE));
  drawText(img, x0, y0 + 6, 'epoch 0', BLACK);
  drawText(img, x1 - 30, y0 + 6, String(ys.length - 1), BLACK);
}

/** A PNG with one chart per column of `rows` (objects keyed by results.csv column names), 5 per row. */
export function plotResults(columns: readonly string[], rows: readonly Record<string, number>[]): Uint8Array {
  const perRow = 5;
  const nrows = Math.ceil(columns.length / perRow);
  const img = createImage(perRow * PANEL_W, nrows * PANEL_H, 255);
  columns.forEach((c, i) => panel(img, (i % perRow) * PANEL_W, Math.floor(i / perRow) * PANEL_H, c, rows.map((r) => r[c])));
  return encodePng(img);
}
