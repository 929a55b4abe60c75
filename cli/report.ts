// What a run shows besides its files' numbers: validation tables on the console and predictions drawn on images.
import { writeFileSync } from 'node:fs';
import { DataLoader } from '../training/data/loader';
import { encodeJpeg, encodePng, type RgbImage } from '../training/data/image';
import { annotate } from '../training/data/draw';
import { type ValResult, type Prediction } from '../training/validate';

/** Draw validation predictions of a few images (letterboxed input space) into one mosaic image. */
export async function drawPredictions(preds: readonly Prediction[], loader: DataLoader, names: readonly string[], path: string): Promise<void> {
  if (preds.length === 0) return;
  const tiles: RgbImage[] = [];
  for (const p of preds) {
    const b = await loader.item(p.index, () => 0.5);
    tiles.push(annotate(b.image, p.detections.filter((d) => d[4] >= 0.25), names));
  }
  const s = tiles[0].width;
  const cols = Math.min(4, tiles.length);
  const rows = Math.ceil(tiles.length / cols);
  const out = { width: cols * s, height: rows * tiles[0].height, data: new Uint8Array(cols * s * rows * tiles[0].height * 3).fill(114) };
  tiles.forEach((t, i) => {
    const ox = (i % cols) * s;
    const oy = Math.floor(i / cols) * t.height;
    for (let y = 0; y < t.height; y++) out.data.set(t.data.subarray(y * t.width * 3, (y + 1) * t.width * 3), ((oy + y) * out.width + ox) * 3);
  });
  writeFileSync(path, path.endsWith('.png') ? encodePng(out) : encodeJpeg(out, 90));
}

/** The official val.py table: all classes, then one row per class. */
export function printVal(r: ValResult, names: readonly string[]): void {
  console.log(`${'class'.padEnd(14)}${'images'.padStart(8)}${'labels'.padStart(8)}${'P'.padStart(8)}${'R'.padStart(8)}${'mAP50'.padStart(8)}${'mAP50-95'.padStart(10)}`);
  console.log(`${'all'.padEnd(14)}${String(r.images).padStart(8)}${String(r.labels).padStart(8)}${r.mp.toFixed(3).padStart(8)}${r.mr.toFixed(3).padStart(8)}${r.map50.toFixed(3).padStart(8)}${r.map.toFixed(3).padStart(10)}`);
  r.classes.forEach((c, i) => {
    const ap = r.ap[i];
    console.log(`${String(names[c] ?? c).padEnd(14)}${''.padStart(8)}${''.padStart(8)}${r.precision[i].toFixed(3).padStart(8)}${r.recall[i].toFixed(3).padStart(8)}${ap[0].toFixed(3).padStart(8)}${(ap.reduce((s, v) => s + v, 0) / ap.length).toFixed(3).padStart(10)}`);
  });
}
