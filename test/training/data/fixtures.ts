// Access to test/fixtures/data/ (written by test/fixtures/gen/data_fixtures.py from cv2 4.6 and the official
// YOLOv9 functions; see data.json for versions) and pixel comparison helpers.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type RgbImage, decodeImage } from '../../../training/data/image';

export const FIXTURES = fileURLToPath(new URL('../../fixtures/data/', import.meta.url));

export const fixtureBytes = (rel: string): Uint8Array => new Uint8Array(readFileSync(FIXTURES + rel));

/** A fixture PNG decoded by our decoder (exact for 8-bit RGB PNGs, see image.test.ts). */
export const fixtureImage = (rel: string): RgbImage => decodeImage(fixtureBytes(rel), rel);

type Shape = number | [number, number];
export interface DataFixture {
  generator: string;
  seed: number;
  cv2: string;
  numpy: string;
  codecs: { file: string; expected: string; width: number; height: number; what: string }[];
  resize: { input: string; output: string; width: number; height: number; interpolation: 'linear' | 'area' }[];
  letterbox: {
    input: string;
    output: string;
    new_shape: Shape;
    options: { auto?: boolean; scaleup?: boolean; scaleFill?: boolean; stride?: number };
    out_shape: [number, number];
    ratio: [number, number];
    pad: [number, number];
  }[];
  perspective: {
    name: string;
    input: string;
    output: string;
    hyp: { degrees: number; translate: number; scale: number; shear: number; perspective: number };
    border: [number, number];
    uniforms: number[];
    M: number[][];
    s: number;
    out_shape: [number, number];
    targets_in: number[][];
    segments_in: number[][][];
    targets_out: number[][];
  }[];
  hsv: { input: string; output: string; uniforms: number[]; hyp: [number, number, number]; gains: [number, number, number] }[];
  mosaic: {
    tiles: string[];
    labels: number[][][];
    cases: { s: number; xc: number; yc: number; order: number[]; output: string; labels_out: number[][] }[];
  };
  copy_paste: {
    input: string;
    output: string;
    p: number;
    labels_in: number[][];
    segments_in: number[][];
    candidates: number[];
    k: number;
    chosen: number[];
    labels_out: number[][];
    segments_out: number[][];
  };
  labels: {
    cases: { name: string; text: string; rows: number[][]; segments: number[][]; duplicates_msg: boolean }[];
    img2label: [string, string][];
  };
  box_candidates: { before: number[][]; after: number[][]; keep: boolean[] };
}

export const data: DataFixture = JSON.parse(readFileSync(FIXTURES + 'data.json', 'utf8')) as DataFixture;

export interface PixelDiff {
  max: number;
  mean: number;
  /** Fraction of samples that differ at all. */
  differing: number;
}

/** Per-sample absolute differences between two images of the same size (throws on a size mismatch). */
export function pixelDiff(a: RgbImage, b: RgbImage): PixelDiff {
  if (a.width !== b.width || a.height !== b.height) throw new Error(`size ${a.width}x${a.height} vs ${b.width}x${b.height}`);
  let max = 0;
  let sum = 0;
  let n = 0;
  for (let i = 0; i < a.data.length; i++) {
    const d = Math.abs(a.data[i] - b.data[i]);
    if (d > max) max = d;
    sum += d;
    if (d) n++;
  }
  return { max, mean: sum / a.data.length, differing: n / a.data.length };
}

/** A random source that replays the given values (then fails loudly). */
export function replay(values: readonly number[]): () => number {
  let i = 0;
  return () => {
    if (i >= values.length) throw new Error(`replay: more than ${values.length} random draws`);
    return values[i++];
  };
}
