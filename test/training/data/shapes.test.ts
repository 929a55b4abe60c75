// The embedded shapes dataset: exact boxes, visibility, sizes, class balance, determinism.
import { describe, expect, test } from 'vitest';
import { SHAPE_NAMES, minBoxSide, shapesDataset } from '../../../training/data/shapes';

describe('shapes dataset', () => {
  const { train, val, names } = shapesDataset({ seed: 11, train: 120, val: 10, imgsz: 256 });

  test('names and splits', () => {
    expect(names).toEqual(SHAPE_NAMES);
    expect(names.length).toBeGreaterThanOrEqual(5);
    expect([train.length, val.length]).toEqual([120, 10]);
    expect(train.path(3)).toBe('shapes://11/train/3');
  });

  test('each box is the tight box of the pixels its object owns, and those pixels show its colour', async () => {
    for (let i = 0; i < 40; i++) {
      const { scene, rendered } = train.render(i);
      const { labels, image } = await train.load(i);
      const S = scene.size;
      expect(labels.cls.length).toBe(scene.objects.length);
      scene.objects.forEach((o, k) => {
        let x1 = S;
        let y1 = S;
        let x2 = 0;
        let y2 = 0;
        const mean = [0, 0, 0];
        let n = 0;
        for (let y = 0; y < S; y++) {
          for (let x = 0; x < S; x++) {
            if (rendered.owner[y * S + x] !== k) continue;
            x1 = Math.min(x1, x);
            y1 = Math.min(y1, y);
            x2 = Math.max(x2, x + 1);
            y2 = Math.max(y2, y + 1);
            for (let c = 0; c < 3; c++) mean[c] += image.data[(y * S + x) * 3 + c];
            n++;
          }
        }
        const [cx, cy, w, h] = labels.boxes.subarray(k * 4, k * 4 + 4);
        // Labels are float32 of (x1 + x2) / 2 / S etc.: exact to float32 rounding.
        expect([cx, cy, w, h]).toEqual([(x1 + x2) / 2 / S, (y1 + y2) / 2 / S, (x2 - x1) / S, (y2 - y1) / S].map(Math.fround));
        expect(labels.cls[k]).toBe(o.cls);
        // Owned pixels have coverage >= 0.5: mostly the object's colour; shading (±25) and anti-aliased edges move
        // the mean by less than 40 levels.
        for (let c = 0; c < 3; c++) expect(Math.abs(mean[c] / n - o.color[c])).toBeLessThan(40);
        // Nothing hidden by more than 60 %, nothing thinner than 12 px at 256.
        expect(rendered.visible[k]).toBeGreaterThanOrEqual(0.4);
        expect(Math.min(x2 - x1, y2 - y1)).toBeGreaterThanOrEqual(minBoxSide(S));
      });
    }
  });

  test('1–6 objects per image, classes roughly balanced', async () => {
    const counts = new Array<number>(SHAPE_NAMES.length).fill(0);
    let total = 0;
    for (let i = 0; i < train.length; i++) {
      const l = await train.labels(i);
      expect(l.cls.length).toBeGreaterThanOrEqual(1);
      expect(l.cls.length).toBeLessThanOrEqual(6);
      for (const c of l.cls) counts[c]++;
      total += l.cls.length;
    }
    // ~420 objects, uniform classes: each share is 1/6 ± 0.018 (1 sd); allow ±0.07 (about 4 sd).
    for (const c of counts) expect(Math.abs(c / total - 1 / 6)).toBeLessThan(0.07);
  });

  test('deterministic by seed; splits and seeds differ', async () => {
    const again = shapesDataset({ seed: 11, train: 120, val: 10, imgsz: 256 });
    const a = await train.load(5);
    const b = await again.train.load(5);
    expect(Buffer.compare(Buffer.from(a.image.data), Buffer.from(b.image.data))).toBe(0);
    expect(Array.from(a.labels.boxes)).toEqual(Array.from(b.labels.boxes));
    const other = await shapesDataset({ seed: 12, train: 10, val: 1 }).train.load(5);
    expect(Buffer.compare(Buffer.from(a.image.data), Buffer.from(other.image.data))).not.toBe(0);
    const v = await val.load(5);
    expect(Buffer.compare(Buffer.from(a.image.data), Buffer.from(v.image.data))).not.toBe(0);
    expect(await train.imageSize()).toEqual({ width: 256, height: 256 });
    expect(() => train.render(120)).toThrow('shapes train index 120 is outside [0, 120)');
  });
});
