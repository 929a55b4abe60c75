// Augmentations against the official functions (fixtures: test/fixtures/gen/data_fixtures.py with the official
// random sources patched to known values), plus hand-checkable cases and determinism.
import { describe, expect, test } from 'vitest';
import {
  type PixelLabels,
  applyPerspective,
  augmentHsv,
  boxCandidates,
  copyPaste,
  copyPasteWith,
  flipLR,
  flipUD,
  mixupWith,
  mosaic4,
  mosaicCentre,
  perspectiveMatrix,
  randomPerspective,
  toNormalizedRows,
  toPixelLabels,
} from '../../../training/data/augment';
import { applyHsvGains } from '../../../training/data/color';
import { createImage } from '../../../training/data/image';
import type { Labels } from '../../../training/data/labels';
import { beta, mulberry32 } from '../../../training/data/rng';
import type { Projective } from '../../../training/data/warp';
import { data, fixtureImage, pixelDiff, replay } from './fixtures';

const pixelLabels = (rows: number[][], segments: number[][][] = []): PixelLabels => ({
  cls: rows.map((r) => r[0]),
  boxes: rows.flatMap((r) => r.slice(1, 5)),
  segments: segments.map((s) => Float64Array.from(s.flat())),
});
const rowsOf = (l: PixelLabels): number[][] => l.cls.map((c, i) => [c, ...l.boxes.slice(i * 4, i * 4 + 4)]);

describe('random_perspective vs official', () => {
  for (const c of data.perspective) {
    const src = fixtureImage(c.input);
    const [outH, outW] = c.out_shape;
    const M = c.M.flat() as unknown as Projective;

    test(`${c.name}: matrix T·S·R·P·C from the same uniforms`, () => {
      const got = perspectiveMatrix(replay(c.uniforms), src.width, src.height, outW, outH, c.hyp);
      // numpy multiplies with BLAS (possibly fused multiply-adds): allow a few ulps of the largest entry.
      got.M.forEach((v, i) => expect(Math.abs(v - M[i])).toBeLessThan(1e-12 * (1 + Math.abs(M[i]))));
      expect(got.s).toBe(c.s);
    });

    test(`${c.name}: warp with the official matrix, boxes and box_candidates`, () => {
      const r = applyPerspective(src, pixelLabels(c.targets_in, c.segments_in), M, c.s, outW, outH);
      const d = pixelDiff(r.image, fixtureImage(c.output));
      // warpAffine/warpPerspective reproduced with OpenCV's fixed point (1/32 px coordinates, 15-bit weights): exact.
      expect(d, JSON.stringify(d)).toMatchObject({ max: 0 });
      const got = rowsOf(r.labels);
      expect(got.length).toBe(c.targets_out.length);
      // The official code stores the boxes in a float32 array (~1e-5 relative); we keep float64.
      got.forEach((row, i) => row.forEach((v, k) => expect(Math.abs(v - c.targets_out[i][k])).toBeLessThan(2e-3)));
    });

    test(`${c.name}: randomPerspective end to end`, () => {
      const r = randomPerspective(replay(c.uniforms), src, pixelLabels(c.targets_in, c.segments_in), c.hyp, c.border);
      expect([r.image.height, r.image.width]).toEqual(c.out_shape);
      expect(pixelDiff(r.image, fixtureImage(c.output)).max).toBe(0);
      expect(r.labels.cls).toEqual(c.targets_out.map((t) => t[0]));
    });
  }

  test('box_candidates matches the official mask', () => {
    const { before, after, keep } = data.box_candidates;
    expect(boxCandidates(before.flat(), after.flat())).toEqual(keep);
  });

  test('an identity transform without border leaves the image untouched', () => {
    const im = createImage(8, 6, 3);
    const r = applyPerspective(im, pixelLabels([[1, 1, 1, 5, 5]]), [1, 0, 0, 0, 1, 0, 0, 0, 1], 1, 8, 6);
    expect(r.image).toBe(im);
    expect(rowsOf(r.labels)).toEqual([[1, 1, 1, 5, 5]]);
  });
});

describe('augment_hsv vs official', () => {
  for (const c of data.hsv) {
    test(`gains ${c.gains.map((g) => g.toFixed(4)).join(', ')}`, () => {
      const src = fixtureImage(c.input);
      const out = { ...src, data: applyHsvGains(src.data, src.width, c.gains) };
      const d = pixelDiff(out, fixtureImage(c.output));
      // cv2's 8-bit HSV (integer forward tables, float32 inverse with its SIMD truncation / scalar rounding) reproduced.
      expect(d, JSON.stringify(d)).toMatchObject({ max: 0 });
      const viaRng = augmentHsv(replay(c.uniforms.map((u) => (u + 1) / 2)), src, ...c.hyp);
      expect(pixelDiff(viaRng, fixtureImage(c.output)).max).toBeLessThanOrEqual(1); // (u+1)/2 round trip may move a gain by 1 ulp
    });
  }

  test('zero gains are a no-op', () => {
    const im = createImage(3, 3, 40);
    expect(augmentHsv(mulberry32(1), im, 0, 0, 0)).toBe(im);
  });
});

describe('mosaic', () => {
  const m = data.mosaic;
  const tiles = m.tiles.map(fixtureImage);
  const labels: Labels[] = m.labels.map((rows) => ({
    cls: Int32Array.from(rows.map((r) => r[0])),
    boxes: Float32Array.from(rows.flatMap((r) => r.slice(1))),
    segments: [],
  }));

  for (const c of m.cases) {
    test(`official load_mosaic canvas and labels (centre ${c.xc},${c.yc}, order ${c.order})`, () => {
      const r = mosaic4(c.order.map((i) => ({ image: tiles[i], labels: labels[i] })), c.s, c.xc, c.yc);
      expect(pixelDiff(r.image, fixtureImage(c.output)).max).toBe(0);
      const got = rowsOf(r.labels);
      expect(got.length).toBe(c.labels_out.length);
      // Official labels are float32 (~1e-6 px here).
      got.forEach((row, i) => row.forEach((v, k) => expect(Math.abs(v - c.labels_out[i][k])).toBeLessThan(1e-4)));
    });
  }

  test('hand-checked bookkeeping: tiles meet at the centre, boxes shift and clip', () => {
    const s = 10;
    const tile = (v: number) => createImage(10, 10, v);
    const one = (cls: number, cx: number, cy: number, w: number, h: number): Labels => ({
      cls: Int32Array.of(cls),
      boxes: Float32Array.of(cx, cy, w, h),
      segments: [],
    });
    // Centre (7, 12) on a 20x20 canvas. Each tile's labels shift by (canvas origin − crop origin) of that tile:
    const r = mosaic4(
      [
        { image: tile(1), labels: one(0, 0.5, 0.5, 0.2, 0.2) }, // top-left: crop x 3..10 -> canvas 0..7, y 0..10 -> 2..12: (-3, +2)
        { image: tile(2), labels: one(1, 0.9, 0.5, 0.4, 0.2) }, // top-right: canvas x 7..17, y 2..12: (+7, +2)
        { image: tile(3), labels: one(2, 0.5, 0.9, 0.2, 0.4) }, // bottom-left: crop x 3..10, rows 0..8: (-3, +12), y2 23 -> 20
        { image: tile(4), labels: one(3, 0.1, 0.1, 0.2, 0.2) }, // bottom-right: (+7, +12)
      ],
      s,
      7,
      12,
    );
    const px = (x: number, y: number) => r.image.data[(y * 20 + x) * 3];
    expect([px(0, 2), px(6, 11), px(7, 11), px(6, 12), px(7, 12), px(0, 1), px(16, 19), px(17, 19)]).toEqual([1, 1, 2, 3, 4, 114, 4, 114]);
    expect(px(18, 2)).toBe(114); // right of the top-right tile (7 + 10 = 17)
    const rows = rowsOf(r.labels).map((row) => row.map((v) => Math.round(v * 1e4) / 1e4));
    expect(rows).toEqual([
      [0, 1, 6, 3, 8],
      [1, 14, 6, 18, 8],
      [2, 1, 19, 3, 20],
      [3, 7, 12, 9, 14],
    ]);
  });

  test('centre is drawn in [s/2, 3s/2)', () => {
    const rng = mulberry32(5);
    for (let i = 0; i < 200; i++) {
      const [xc, yc] = mosaicCentre(rng, 640);
      expect(xc).toBeGreaterThanOrEqual(320);
      expect(xc).toBeLessThan(960);
      expect(yc).toBeGreaterThanOrEqual(320);
      expect(Number.isInteger(xc) && Number.isInteger(yc)).toBe(true);
    }
  });
});

describe('copy_paste vs official', () => {
  const c = data.copy_paste;
  const src = fixtureImage(c.input);
  const labels = (): PixelLabels => ({ ...pixelLabels(c.labels_in), segments: c.segments_in.map((s) => Float64Array.from(s)) });

  test('mirrored objects pasted through their polygon masks; boxes and polygons appended', () => {
    const r = copyPasteWith(src, labels(), c.chosen);
    const d = pixelDiff(r.image, fixtureImage(c.output));
    // Our polygon fill (pixel centres + Bresenham outline) is not OpenCV's edge-walking rasteriser: a few boundary
    // pixels of the pasted masks may differ (here ≤ 2 % of all samples); everything else is copied exactly.
    expect(d.differing).toBeLessThan(0.02);
    const got = rowsOf(r.labels);
    expect(got.length).toBe(c.labels_out.length);
    got.forEach((row, i) => row.forEach((v, k) => expect(Math.abs(v - c.labels_out[i][k])).toBeLessThan(1e-5)));
    r.labels.segments.forEach((s, i) => Array.from(s).forEach((v, k) => expect(Math.abs(v - c.segments_out[i][k])).toBeLessThan(1e-5)));
  });

  test('candidates: mirrored box IoA < 0.3 with every box; round(p·n) half to even', () => {
    // Objects 0 and 2 are eligible (1 overlaps its own mirror); round(0.75·2) = 2 both get pasted, in random order.
    const r = copyPaste(mulberry32(1), src, labels(), c.p);
    expect(r.labels.cls.length).toBe(c.labels_in.length + c.k);
    expect(new Set(r.labels.cls.slice(c.labels_in.length))).toEqual(new Set(c.candidates.map((i) => c.labels_in[i][0])));
    const none = copyPaste(mulberry32(1), src, pixelLabels(c.labels_in), c.p); // no polygons: nothing to paste
    expect(none.image).toBe(src);
  });
});

describe('flips, mixup, label conversion', () => {
  test('flips mirror pixels', () => {
    const im = createImage(3, 2);
    im.data.set([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 5, 5, 5, 6, 6, 6]);
    expect(Array.from(flipLR(im).data.filter((_, i) => i % 3 === 0))).toEqual([3, 2, 1, 6, 5, 4]);
    expect(Array.from(flipUD(im).data.filter((_, i) => i % 3 === 0))).toEqual([4, 5, 6, 1, 2, 3]);
  });

  test('mixup truncates r·a + (1−r)·b and concatenates labels', () => {
    const a = createImage(2, 1, 200);
    const b = createImage(2, 1, 101);
    const r = mixupWith(a, pixelLabels([[0, 0, 0, 1, 1]]), b, pixelLabels([[1, 0, 0, 2, 2]]), 0.5);
    expect(r.image.data[0]).toBe(150); // 150.5 -> 150, as numpy astype(uint8)
    expect(r.labels.cls).toEqual([0, 1]);
    const rng = mulberry32(3);
    const rs = Array.from({ length: 2000 }, () => beta(rng, 32, 32));
    const mean = rs.reduce((x, y) => x + y) / rs.length;
    const sd = Math.sqrt(rs.reduce((x, y) => x + (y - mean) ** 2, 0) / rs.length);
    // Beta(32, 32): mean 0.5, sd = sqrt(1/(4·65)) = 0.062; 2000 draws put the sample mean within ±0.005 (3.5 sigma).
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.005);
    expect(Math.abs(sd - 0.062)).toBeLessThan(0.006);
  });

  test('xywhn2xyxy / xyxy2xywhn with clipping to size - 1e-3', () => {
    const l: Labels = { cls: Int32Array.of(4), boxes: Float32Array.of(0.5, 0.5, 0.5, 0.25), segments: [] };
    const p = toPixelLabels(l, 100, 80, 10, 5);
    expect(p.boxes).toEqual([35, 35, 85, 55]);
    const rows = toNormalizedRows({ cls: [4], boxes: [-5, 10, 120, 70], segments: [] }, 100, 80);
    const x2 = 100 - 1e-3;
    expect(rows[0][0]).toBe(4);
    expect(rows[0][1]).toBeCloseTo(x2 / 2 / 100, 12);
    expect(rows[0][3]).toBeCloseTo(x2 / 100, 12);
    expect(rows[0][2]).toBeCloseTo(40 / 80, 12);
  });

  test('augmentations are deterministic for a seed', () => {
    const src = fixtureImage(data.perspective[0].input);
    const labels = pixelLabels(data.perspective[0].targets_in);
    const hyp = { degrees: 10, translate: 0.1, scale: 0.5, shear: 3, perspective: 0 };
    const run = (seed: number) => {
      const rng = mulberry32(seed);
      const p = randomPerspective(rng, src, labels, hyp);
      return augmentHsv(rng, p.image, 0.015, 0.7, 0.4);
    };
    expect(pixelDiff(run(7), run(7)).max).toBe(0);
    expect(pixelDiff(run(7), run(8)).max).toBeGreaterThan(0);
  });
});
