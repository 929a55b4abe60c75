// cv2.resize and the official letterbox() against fixtures (test/fixtures/gen/data_fixtures.py, cv2 4.6).
// Our resize reproduces OpenCV's fixed-point arithmetic, so the comparisons are exact; each test also reports the
// measured difference in its failure message.
import { describe, expect, test } from 'vitest';
import { letterbox, resizeLongSide } from '../../../training/data/augment';
import { createImage } from '../../../training/data/image';
import { padImage, resize } from '../../../training/data/resize';
import { roundHalfEven } from '../../../training/data/round';
import { data, fixtureImage, pixelDiff } from './fixtures';

describe('resize vs cv2.resize', () => {
  for (const c of data.resize) {
    const src = fixtureImage(c.input);
    test(`${src.width}x${src.height} -> ${c.width}x${c.height} ${c.interpolation}`, () => {
      const out = resize(src, c.width, c.height, c.interpolation);
      const d = pixelDiff(out, fixtureImage(c.output));
      // Bit-exact: OpenCV's 11-bit weights, SIMD vertical rounding, 2x->area switch and float area sums reproduced.
      expect(d, JSON.stringify(d)).toMatchObject({ max: 0 });
    });
  }

  test('rejects bad sizes', () => {
    expect(() => resize(createImage(4, 4), 0, 3)).toThrow('resize: target size must be positive integers, got 0x3');
  });
});

describe('letterbox vs official letterbox()', () => {
  for (const c of data.letterbox) {
    const src = fixtureImage(c.input);
    test(`${src.height}x${src.width} -> ${JSON.stringify(c.new_shape)} ${JSON.stringify(c.options)}`, () => {
      const shape: number | [number, number] = typeof c.new_shape === 'number' ? c.new_shape : [c.new_shape[0], c.new_shape[1]];
      const r = letterbox(src, shape, c.options);
      expect([r.image.height, r.image.width]).toEqual(c.out_shape);
      expect(r.ratio[0]).toBeCloseTo(c.ratio[0], 12);
      expect(r.ratio[1]).toBeCloseTo(c.ratio[1], 12);
      expect(r.pad).toEqual(c.pad);
      const d = pixelDiff(r.image, fixtureImage(c.output));
      // Exact (same resize as cv2, padding 114); a tolerance of 0 also catches an off-by-one pad split.
      expect(d, JSON.stringify(d)).toMatchObject({ max: 0 });
    });
  }

  test('Python rounding: 22.5 rounds to 22, the odd pixel of padding goes bottom/right', () => {
    const r = letterbox(createImage(64, 45, 9), 32, { auto: false });
    expect([r.image.width, r.image.height]).toEqual([32, 32]);
    expect(r.border).toEqual([5, 5, 0, 0]); // 32 - 22 = 10 rows of padding
    const r2 = letterbox(createImage(64, 43, 9), 32, { auto: false }); // 21.5 -> 22 (even)
    expect(r2.border).toEqual([5, 5, 0, 0]);
    const r3 = letterbox(createImage(64, 42, 9), 32, { auto: false }); // 21 rows, 11 to pad: 5 top, 6 bottom
    expect(r3.border).toEqual([5, 6, 0, 0]);
    expect(roundHalfEven(2.5)).toBe(2);
    expect(roundHalfEven(3.5)).toBe(4);
    expect(roundHalfEven(-2.5)).toBe(-2);
  });

  test('pads with 114', () => {
    const r = letterbox(createImage(10, 4, 0), [4, 10], { auto: false });
    expect(r.image.data.every((v) => v === 0)).toBe(true);
    const p = padImage(createImage(1, 1, 5), 1, 0, 0, 1);
    expect(Array.from(p.data)).toEqual([114, 114, 114, 114, 114, 114, 5, 5, 5, 114, 114, 114]);
  });
});

describe('load_image resize', () => {
  test('long side becomes imgsz with int() truncation; linear when augmenting, area when shrinking for eval', () => {
    const im = createImage(1000, 333, 50);
    const t = resizeLongSide(im, 640, true);
    expect(t.resized).toEqual([213, 640]); // int(333 * 0.64) = 213
    expect(t.orig).toEqual([333, 1000]);
    const src = fixtureImage(data.resize[4].input); // 41x30, area case in the fixtures
    const e = resizeLongSide(src, 19, false);
    expect([e.image.width, e.image.height]).toEqual([19, 13]);
    expect(pixelDiff(e.image, resize(src, 19, 13, 'area')).max).toBe(0);
    const same = createImage(640, 480);
    expect(resizeLongSide(same, 640, false).image).toBe(same);
  });
});
