// A YOLO-format dataset zip made from the embedded shapes renderer (images/ + labels/ + data.yaml), for the archive
// and user-dataset tests in Node and the demo page's dataset test in Chromium. Generated at test time from this
// committed code (deterministic: same seed, same bytes), so no binary fixture is needed.
import { zipSync } from 'fflate';
import { stringify } from 'yaml';
import { encodeJpeg, encodePng } from '../../training/data/image';
import { shapesDataset } from '../../training/data/shapes';

export interface ShapesZipOptions {
  readonly images: number;
  readonly imgsz: number;
  readonly seed?: number;
  /** Images of other sizes too (every third image 1.5× wide), to exercise letterboxing. */
  readonly mixedSizes?: boolean;
  /** Write data.yaml with the class names (else the classes are numbered from the labels). */
  readonly yaml?: boolean;
  /** Replace line `line` (1-based) of image `image`'s label file with a bad row. */
  readonly badLabel?: { readonly image: number; readonly line: number };
  /** Keep only classes below this (relabelled), to make a dataset of another class count. */
  readonly classes?: number;
}

export const labelName = (i: number): string => `img${String(i).padStart(3, '0')}`;

/** Zip bytes and the files in it. */
export async function shapesZip(o: ShapesZipOptions): Promise<{ bytes: Uint8Array; names: string[]; files: Record<string, Uint8Array> }> {
  const d = shapesDataset({ seed: o.seed ?? 0, train: o.images, val: 1, imgsz: o.imgsz });
  const nc = o.classes ?? d.names.length;
  const names = d.names.slice(0, nc).map(String);
  const files: Record<string, Uint8Array> = {};
  const enc = new TextEncoder();
  for (let i = 0; i < o.images; i++) {
    const loaded = await d.train.load(i);
    const labels = loaded.labels;
    let image = loaded.image;
    // every third image 1.5× as wide (grey on the right): boxes keep their pixels, so x and w shrink
    const sx = o.mixedSizes && i % 3 === 2 ? 1.5 : 1;
    if (sx !== 1) {
      const w = Math.round(image.width * sx);
      const data = new Uint8Array(w * image.height * 3).fill(114);
      for (let y = 0; y < image.height; y++) data.set(image.data.subarray(y * image.width * 3, (y + 1) * image.width * 3), y * w * 3);
      image = { width: w, height: image.height, data };
    }
    const rows: string[] = [];
    for (let k = 0; k < labels.cls.length; k++) {
      const [cx, cy, bw, bh] = labels.boxes.subarray(4 * k, 4 * k + 4);
      const b = [cx / sx, cy, bw / sx, bh].map((v) => v.toFixed(6));
      rows.push(`${labels.cls[k] % nc} ${b.join(' ')}`);
    }
    if (o.badLabel?.image === i) rows[o.badLabel.line - 1] = '0 0.5 0.5 0.25';
    // JPEG and PNG both occur in user datasets
    files[`images/${labelName(i)}.${i % 2 ? 'png' : 'jpg'}`] = i % 2 ? encodePng(image) : encodeJpeg(image, 92);
    files[`labels/${labelName(i)}.txt`] = enc.encode(rows.join('\n') + '\n');
  }
  if (o.yaml ?? true) files['data.yaml'] = enc.encode(stringify({ path: '../datasets/shapes', train: 'images', val: 'images', nc, names }));
  return { bytes: zipSync(files, { level: 6 }), names, files };
}
