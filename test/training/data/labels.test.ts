// Label parsing against the official verify_image_label (fixtures from test/fixtures/gen/data_fixtures.py), and
// every error message.
import { describe, expect, test } from 'vitest';
import { imageToLabelPath } from '../../../training/data/dataset';
import { parseLabels } from '../../../training/data/labels';
import { data } from './fixtures';

const parse = (text: string, nc = 3) => parseLabels(text, { file: 'lbl/a.txt', nc });

describe('parseLabels vs official verify_image_label', () => {
  for (const c of data.labels.cases) {
    test(c.name, () => {
      const l = parse(c.text);
      const rows = Array.from(l.cls, (cls, i) => [cls, ...l.boxes.subarray(i * 4, i * 4 + 4)]);
      // Both sides are float32 values: exact.
      expect(rows).toEqual(c.rows.map((r) => r.map(Math.fround)));
      expect(l.segments.map((s) => Array.from(s))).toEqual(c.segments.map((s) => s.map(Math.fround)));
      expect(l.duplicates > 0).toBe(c.duplicates_msg);
    });
  }

  test('label paths: last /images/ -> /labels/, extension -> .txt', () => {
    for (const [img, lbl] of data.labels.img2label) expect(imageToLabelPath(img)).toBe(lbl);
  });
});

describe('parseLabels errors name the file and line', () => {
  const cases: [string, string, string][] = [
    ['wrong field count', '0 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2\n', 'lbl/a.txt:2: expected 5 values (class cx cy w h) or a polygon (class x1 y1 x2 y2 x3 y3 ...), got 4'],
    ['six fields', '0 0.5 0.5 0.2 0.2 0.1\n', 'lbl/a.txt:1: expected 5 values (class cx cy w h) or a polygon (class x1 y1 x2 y2 x3 y3 ...), got 6'],
    ['not a number', '0 0.5 abc 0.2 0.2\n', "lbl/a.txt:1: value 3 ('abc') is not a number"],
    ['nan', '0 nan 0.5 0.2 0.2\n', "lbl/a.txt:1: value 2 ('nan') is not a number"],
    ['hex', '0 0x1 0.5 0.2 0.2\n', "lbl/a.txt:1: value 2 ('0x1') is not a number"],
    ['fractional class', '1.5 0.5 0.5 0.2 0.2\n', 'lbl/a.txt:1: class 1.5 is not an integer in [0, 2] (the dataset has nc=3)'],
    ['class >= nc', '\n\n3 0.5 0.5 0.2 0.2\n', 'lbl/a.txt:3: class 3 is not an integer in [0, 2] (the dataset has nc=3)'],
    ['negative class', '-1 0.5 0.5 0.2 0.2\n', 'lbl/a.txt:1: class -1 is not an integer in [0, 2] (the dataset has nc=3)'],
    ['coordinate > 1', '0 0.5 1.2 0.2 0.2\n', 'lbl/a.txt:1: cy = 1.2 is outside [0, 1]; coordinates must be normalised by the image size'],
    ['pixel coordinates', '0 320 240 50 60\n', 'lbl/a.txt:1: cx = 320 is outside [0, 1]; coordinates must be normalised by the image size'],
    ['negative coordinate', '0 0.5 0.5 -0.01 0.2\n', 'lbl/a.txt:1: w = -0.01 is outside [0, 1]; coordinates must be normalised by the image size'],
    ['polygon out of range', '0 0.1 0.1 0.5 0.1 0.3 1.5\n', 'lbl/a.txt:1: y = 1.5 is outside [0, 1]; coordinates must be normalised by the image size'],
    ['odd polygon', '0 0.1 0.1 0.5 0.1 0.3 0.4 0.2\n', 'lbl/a.txt:1: a polygon row needs a class and at least 3 x,y pairs (an odd count >= 7 values), got 8 values'],
    ['mixed rows', '0 0.5 0.5 0.2 0.2\n1 0.1 0.1 0.5 0.1 0.3 0.4\n', 'lbl/a.txt:1: a box row (5 values) in a file whose line 2 is a polygon; use one format per file'],
  ];
  for (const [name, text, message] of cases) {
    test(name, () => expect(() => parse(text)).toThrow(message));
  }

  test('values just outside [0, 1] (within 1e-3) are clamped, not rejected', () => {
    const l = parse('0 1.0004 0.5 0.2 -0.0002\n');
    expect(Array.from(l.boxes)).toEqual([1, 0.5, Math.fround(0.2), 0]);
  });

  test('blank lines, CRLF and extra spaces are fine; an empty file has no objects', () => {
    const l = parse('  0 0.5 0.5 0.2 0.2 \r\n\r\n\t2\t0.1 0.1 0.1 0.1\r\n');
    expect(Array.from(l.cls)).toEqual([0, 2]);
    expect(parse('\n \n').cls.length).toBe(0);
  });
});
