// The DataLoader: batch layout, the official __getitem__ branches, determinism, shuffling, rect batches, cache.
import { describe, expect, test } from 'vitest';
import { yoloDataset } from '../../../training/data/dataset';
import { memoryFileSystem } from '../../../training/data/fs';
import { SCRATCH_HIGH, augmentHyp } from '../../../training/data/hyp';
import { createImage, encodePng } from '../../../training/data/image';
import { type Batch, DataLoader } from '../../../training/data/loader';
import { shapesDataset } from '../../../training/data/shapes';

const { train } = shapesDataset({ seed: 4, train: 12, val: 2, imgsz: 64 });

function checkBatch(b: Batch, B: number, H: number, W: number, nc: number): void {
  expect(b.shape).toEqual([B, 3, H, W]);
  expect(b.images.length).toBe(B * 3 * H * W);
  expect(b.images.every((v) => v >= 0 && v <= 1)).toBe(true);
  expect(b.targets.length).toBe(b.nTargets * 6);
  expect(b.paths.length).toBe(B);
  for (let t = 0; t < b.nTargets; t++) {
    const [i, c, cx, cy, w, h] = b.targets.subarray(t * 6, t * 6 + 6);
    expect(Number.isInteger(i) && i >= 0 && i < B).toBe(true);
    expect(Number.isInteger(c) && c >= 0 && c < nc).toBe(true);
    for (const v of [cx, cy, w, h]) expect(v >= 0 && v <= 1).toBe(true);
    expect(cx - w / 2).toBeGreaterThanOrEqual(-1e-6);
    expect(cx + w / 2).toBeLessThanOrEqual(1 + 1e-6);
  }
  // Image indices in target rows are non-decreasing (official collate order).
  for (let t = 1; t < b.nTargets; t++) expect(b.targets[t * 6]).toBeGreaterThanOrEqual(b.targets[(t - 1) * 6]);
}

describe('DataLoader', () => {
  test('hyperparameter defaults are scratch-high and overrides are checked', () => {
    expect(augmentHyp()).toEqual(SCRATCH_HIGH);
    expect(SCRATCH_HIGH).toMatchObject({ hsv_h: 0.015, hsv_s: 0.7, hsv_v: 0.4, translate: 0.1, scale: 0.9, fliplr: 0.5, mosaic: 1, mixup: 0.15 });
    expect(augmentHyp({ lr0: 0.01, mixup: 0 } as Record<string, unknown>).mixup).toBe(0);
    expect(() => augmentHyp({ scale: 'big' } as Record<string, unknown>)).toThrow('hyperparameter scale must be a finite number, got "big"');
  });

  test('training batches (mosaic + mixup) have the documented layout and are deterministic', async () => {
    const dl = new DataLoader(train, { imgsz: 64, batchSize: 4, augment: true, seed: 1, hyp: { mixup: 0.5 } });
    expect(dl.length).toBe(3);
    expect(dl.mosaic).toBe(true);
    const b = await dl.batch(0, 1);
    checkBatch(b, 4, 64, 64, 6);
    expect(b.meta).toEqual([null, null, null, null]);
    const again = await new DataLoader(train, { imgsz: 64, batchSize: 4, augment: true, seed: 1, hyp: { mixup: 0.5 } }).batch(0, 1);
    expect(Array.from(again.images)).toEqual(Array.from(b.images));
    expect(Array.from(again.targets)).toEqual(Array.from(b.targets));
    const otherSeed = await new DataLoader(train, { imgsz: 64, batchSize: 4, augment: true, seed: 2 }).batch(0, 1);
    expect(Array.from(otherSeed.images)).not.toEqual(Array.from(b.images));
  });

  test('each epoch visits every image once, in a new order', async () => {
    const dl = new DataLoader(train, { imgsz: 64, batchSize: 5, augment: true, seed: 3 });
    const e0 = await dl.order(0);
    const e1 = await dl.order(1);
    expect([...e0].sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i));
    expect(e1).not.toEqual(e0);
    const seen: number[] = [];
    for await (const b of dl.epoch(0)) seen.push(...b.indices);
    expect(seen).toEqual(e0);
    const last = await dl.batch(0, 2);
    expect(last.shape[0]).toBe(2); // 12 = 5 + 5 + 2
    expect(new DataLoader(train, { imgsz: 64, batchSize: 5, augment: true, dropLast: true }).length).toBe(2);
  });

  test('closeMosaic switches to letterbox + random affine (meta filled in)', async () => {
    const dl = new DataLoader(train, { imgsz: 64, batchSize: 3, augment: true, seed: 5 });
    dl.closeMosaic();
    expect(dl.mosaic).toBe(false);
    const b = await dl.batch(0, 0);
    checkBatch(b, 3, 64, 64, 6);
    for (const m of b.meta) expect(m).toEqual({ orig: [64, 64], ratio: [1, 1], pad: [0, 0] });
  });

  test('evaluation without augmentation returns the dataset labels unchanged at native size', async () => {
    const dl = new DataLoader(train, { imgsz: 64, batchSize: 4, augment: false });
    const b = await dl.batch(0, 0);
    checkBatch(b, 4, 64, 64, 6);
    expect(b.indices).toEqual([0, 1, 2, 3]);
    const rows: number[] = [];
    for (let i = 0; i < 4; i++) {
      const l = await train.labels(i);
      for (let k = 0; k < l.cls.length; k++) rows.push(i, l.cls[k], ...l.boxes.subarray(k * 4, k * 4 + 4));
    }
    // Pixel boxes go through xywhn2xyxy and back (with the 1e-3 edge clip): float32 round-off only.
    Array.from(b.targets).forEach((v, i) => expect(Math.abs(v - rows[i])).toBeLessThan(2e-6));
    const { image } = await train.load(2);
    expect(b.images[2 * 3 * 64 * 64 + 64 * 64 + 5]).toBe(Math.fround(image.data[5 * 3 + 1] / 255)); // G plane, pixel 5
  });

  const fileDataset = () =>
    yoloDataset(
      memoryFileSystem({
        '/d/images/wide.png': encodePng(createImage(40, 20, 200)),
        '/d/labels/wide.txt': '1 0.5 0.5 0.5 0.5\n',
        '/d/images/tall.png': encodePng(createImage(20, 40, 100)),
      }),
      ['/d/images'],
      ['a', 'b'],
    );

  test('evaluation letterbox: 40x20 -> 32x16 padded with 114 to 32x32, boxes scaled and shifted', async () => {
    const ds = await fileDataset();
    const dl = new DataLoader(ds, { imgsz: 32, batchSize: 2, augment: false });
    const b = await dl.batch(0, 0);
    expect(b.paths).toEqual(['/d/images/tall.png', '/d/images/wide.png']);
    checkBatch(b, 2, 32, 32, 2);
    const at = (img: number, c: number, y: number, x: number) => b.images[((img * 3 + c) * 32 + y) * 32 + x] * 255;
    expect(Math.round(at(1, 0, 0, 0))).toBe(114); // padding rows 0..7
    expect(Math.round(at(1, 0, 8, 0))).toBe(200);
    expect(Math.round(at(1, 0, 24, 0))).toBe(114);
    expect(Math.round(at(0, 0, 0, 7))).toBe(114); // tall image: columns padded
    expect(Math.round(at(0, 0, 0, 8))).toBe(100);
    // Box 20x10 px at the centre of the 40x20 image -> 16x8 at the centre of the 32x32 input.
    expect(Array.from(b.targets)).toEqual([1, 1, 0.5, 0.5, 0.5, 0.25]);
    expect(b.meta[1]).toEqual({ orig: [20, 40], ratio: [16 / 20, 32 / 40], pad: [0, 8] });
  });

  test('rectangular evaluation batches follow val.py (sorted by aspect ratio, ceil(r·imgsz/32 + 0.5)·32)', async () => {
    const ds = await fileDataset();
    const dl = new DataLoader(ds, { imgsz: 64, batchSize: 1, augment: false, rect: true });
    expect(await dl.order(0)).toEqual([1, 0]); // wide (h/w 0.5) first, then tall (2)
    const wide = await dl.batch(0, 0);
    const tall = await dl.batch(0, 1);
    expect(wide.shape).toEqual([1, 3, 64, 96]); // [ceil(0.5·2 + 0.5), ceil(2 + 0.5)] · 32
    expect(tall.shape).toEqual([1, 3, 96, 64]);
    // load_image enlarges 40x20 to 64x32 (long side = imgsz); letterbox (no further scaling) pads 16 on each side.
    expect(wide.meta[0]).toEqual({ orig: [20, 40], ratio: [32 / 20, 64 / 40], pad: [16, 16] });
  });

  test('the decoded-image cache is bounded and counted', async () => {
    const dl = new DataLoader(train, { imgsz: 64, batchSize: 4, augment: false, cacheBytes: 3 * 64 * 64 * 3 });
    await dl.batch(0, 0);
    expect(dl.cacheStats()).toMatchObject({ hits: 0, misses: 4, entries: 3, evictions: 1, bytes: 3 * 64 * 64 * 3 });
    await dl.batch(0, 0);
    expect(dl.cacheStats().hits).toBe(3);
    const off = new DataLoader(train, { imgsz: 64, batchSize: 4, augment: false, cacheBytes: 0 });
    await off.batch(0, 0);
    expect(off.cacheStats()).toMatchObject({ entries: 0, bytes: 0 });
  });

  test('argument errors', async () => {
    expect(() => new DataLoader(train, { imgsz: 0, batchSize: 1, augment: false })).toThrow('DataLoader: imgsz must be a positive integer, got 0');
    const dl = new DataLoader(train, { imgsz: 64, batchSize: 4, augment: false });
    await expect(dl.batch(0, 3)).rejects.toThrow('batch index 3 is outside [0, 3)');
  });
});
