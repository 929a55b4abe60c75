// Decoding against cv2.imread (fixtures from test/fixtures/gen/data_fixtures.py), encoders, drawing.
import { describe, expect, test } from 'vitest';
import { createImage, decodeImage, drawBox, drawText, encodeJpeg, encodePng, imageSize, sniffFormat, textSize } from '../../../training/data/image';
import { data, fixtureBytes, pixelDiff } from './fixtures';

const expected = (c: (typeof data.codecs)[number]) => ({ width: c.width, height: c.height, data: fixtureBytes(c.expected) });

describe('decodeImage vs cv2.imread', () => {
  for (const c of data.codecs.filter((c) => c.file.endsWith('.png'))) {
    test(`${c.file} (${c.what}) is exact`, () => {
      const im = decodeImage(fixtureBytes(c.file), c.file);
      expect([im.width, im.height]).toEqual([c.width, c.height]);
      expect(pixelDiff(im, expected(c)).max).toBe(0);
    });
  }
  for (const c of data.codecs.filter((c) => c.file.endsWith('.jpg'))) {
    test(`${c.file} (${c.what}) is within 3 levels`, () => {
      const im = decodeImage(fixtureBytes(c.file), c.file);
      expect([im.width, im.height]).toEqual([c.width, c.height]);
      const d = pixelDiff(im, expected(c));
      // jpeg-js's IDCT differs from libjpeg's islow IDCT by ±1 per Y/Cb/Cr sample; through the colour conversion that
      // becomes at most 3 in R/G/B. Chroma upsampling and colour conversion themselves follow libjpeg exactly (with
      // jpeg-js's own nearest upsampling the 4:2:0 fixture differed by up to 72).
      expect(d.max).toBeLessThanOrEqual(3);
      expect(d.mean).toBeLessThan(0.25);
    });
  }

  test('EXIF orientation 6 is applied (the image comes out rotated, as cv2 returns it)', () => {
    const im = decodeImage(fixtureBytes('images/exif6.jpg'));
    const plain = decodeImage(fixtureBytes('images/q95_444.jpg'));
    expect([im.width, im.height]).toEqual([plain.height, plain.width]);
    expect(imageSize(fixtureBytes('images/exif6.jpg'))).toEqual({ width: plain.height, height: plain.width });
  });

  test('imageSize reads PNG and JPEG headers', () => {
    for (const c of data.codecs) expect(imageSize(fixtureBytes(c.file))).toEqual({ width: c.width, height: c.height });
    expect(imageSize(new Uint8Array([1, 2, 3]))).toBeNull();
  });

  test('unknown formats and corrupt data give errors naming the file', () => {
    expect(() => decodeImage(fixtureBytes('images/not-an-image.jpg'), 'x/not-an-image.jpg')).toThrow(
      /^x\/not-an-image\.jpg: not a JPEG or PNG image \(it starts with 52 49 46 46 .* \(WebP\)\); only JPEG and PNG can be decoded$/,
    );
    expect(() => decodeImage(new Uint8Array(0), 'empty.png')).toThrow('empty.png: not a JPEG or PNG image (the file is empty)');
    expect(() => decodeImage(fixtureBytes('images/truncated.png'), 'cut.png')).toThrow(/^cut\.png: corrupt PNG data: /);
    const jpg = fixtureBytes('images/q95_444.jpg');
    expect(() => decodeImage(jpg.subarray(0, 200), 'cut.jpg')).toThrow(/^cut\.jpg: corrupt JPEG data: /);
    expect(sniffFormat(jpg)).toBe('jpeg');
  });
});

describe('encoders', () => {
  const picture = () => {
    const im = createImage(37, 23);
    for (let y = 0; y < 23; y++) for (let x = 0; x < 37; x++) im.data.set([x * 7, y * 11, (x * y) % 256], (y * 37 + x) * 3);
    return im;
  };

  test('encodePng round-trips exactly', () => {
    const im = picture();
    const back = decodeImage(encodePng(im));
    expect(pixelDiff(back, im).max).toBe(0);
  });

  test('encodeJpeg writes a valid baseline JPEG whose error shrinks with quality', () => {
    const im = picture();
    const psnr = (q: number) => {
      const bytes = encodeJpeg(im, q);
      expect([bytes[0], bytes[1], bytes[bytes.length - 2], bytes[bytes.length - 1]]).toEqual([0xff, 0xd8, 0xff, 0xd9]);
      const back = decodeImage(bytes);
      expect([back.width, back.height]).toEqual([37, 23]);
      let se = 0;
      for (let i = 0; i < im.data.length; i++) se += (im.data[i] - back.data[i]) ** 2;
      return 10 * Math.log10((255 * 255) / (se / im.data.length));
    };
    const [lo, hi] = [psnr(30), psnr(95)];
    // Smooth gradients: quality 95 keeps them to within a few levels (>= 38 dB); quality 30 is visibly worse.
    expect(hi).toBeGreaterThan(38);
    expect(lo).toBeLessThan(hi);
    expect(() => encodeJpeg({ width: 2, height: 2, data: new Uint8Array(5) })).toThrow('encodeJpeg: data has 5 bytes, expected 2x2x3 = 12');
  });
});

describe('drawing', () => {
  test('drawBox outlines the box with the given thickness and clips to the image', () => {
    const im = createImage(20, 20);
    drawBox(im, 2, 3, 12, 15, [255, 0, 0], 2);
    const px = (x: number, y: number) => Array.from(im.data.subarray((y * 20 + x) * 3, (y * 20 + x) * 3 + 3));
    expect(px(2, 3)).toEqual([255, 0, 0]);
    expect(px(12, 15)).toEqual([255, 0, 0]);
    expect(px(3, 9)).toEqual([255, 0, 0]); // second pixel of the left edge
    expect(px(4, 9)).toEqual([0, 0, 0]); // inside
    expect(px(13, 9)).toEqual([0, 0, 0]); // outside
    drawBox(im, -10, -10, 40, 40, [0, 255, 0], 1); // clipped, no throw
    expect(px(0, 0)).toEqual([0, 0, 0]);
  });

  test('drawText renders glyphs (and a label background) inside textSize', () => {
    const im = createImage(80, 20, 7);
    const { width, height } = textSize('circle 0.87', 1);
    expect([width, height]).toEqual([11 * 6 + 1, 9]);
    drawText(im, 1, 2, 'circle 0.87', [255, 255, 255], [0, 0, 0]);
    let white = 0;
    let black = 0;
    for (let y = 0; y < 20; y++) {
      for (let x = 0; x < 80; x++) {
        const v = im.data[(y * 80 + x) * 3];
        const inLabel = x >= 1 && x < 1 + width && y >= 2 && y < 2 + height;
        if (!inLabel) expect(v).toBe(7);
        if (v === 255) white++;
        if (v === 0) black++;
      }
    }
    expect(white).toBeGreaterThan(60); // 10 visible glyphs of ~10 lit pixels each
    expect(white + black).toBe(width * height);
    // '1' and 'l' must differ, '?' stands in for characters outside ASCII.
    const glyph = (s: string) => {
      const g = createImage(8, 9);
      drawText(g, 0, 0, s, [255, 255, 255]);
      return Array.from(g.data).join();
    };
    expect(glyph('1')).not.toBe(glyph('l'));
    expect(glyph('é')).toBe(glyph('?'));
  });
});
