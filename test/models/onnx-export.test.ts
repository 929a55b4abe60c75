// ONNX export (models/export/onnx.ts) run in onnxruntime-node against our own engine: gelan-t and yolov9-t
// (exported as gelan-t) at two sizes with batch 2, one graph with symbolic batch/height/width, the NMS outputs
// against training/metrics/nms.ts, f16 weights and compute at a looser tolerance, and the export's errors.
//
// Weights: test/models/calibrated.ts (a seeded createModel whose output depends on the input and is well conditioned).
//
// Parity measure: per output part (boxes in pixels, class probabilities), max |onnx − ours| / max |ours|.
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, test } from 'vitest';
import { f32ToF16 } from '../../engine/half';
import { noGrad, tensor, tidy } from '../../engine/tensor';
import type { Device } from '../../engine/device';
import { type DetectionModel, deployableModel, exportOnnx } from '../../models';
import { calibrated, images } from './calibrated';
import { describeOnnx } from '../../models/export/onnx-proto';
import { nms } from '../../training/metrics/nms';
import { testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});

/** Decoded (B, 4 + nc, A) output of a model on our engine (main branch for dual-head models). */
async function ours(m: DetectionModel, x: Float32Array, shape: [number, number, number, number]): Promise<Float32Array> {
  const xt = tensor(dev, x, shape);
  const y = noGrad(dev, () => tidy(dev, () => m.forward(xt).main.y!));
  const data = await y.data();
  y.dispose();
  xt.dispose();
  return data;
}

async function run(bytes: Uint8Array, x: Float32Array, shape: number[], half = false): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(bytes);
  const feed = half ? new ort.Tensor('float16', f32ToF16(x), shape) : new ort.Tensor('float32', x, shape);
  const out = await s.run({ images: feed });
  await s.release();
  return out;
}

/** max |a − b| / max |b| over the box rows (0–3) and the class rows of a (B, 4 + nc, A) output. */
function parity(a: Float32Array, b: Float32Array, nc: number, anchors: number): { box: number; cls: number } {
  expect(a.length).toBe(b.length);
  const acc = { box: [0, 0], cls: [0, 0] };
  for (let i = 0; i < b.length; i++) {
    const part = Math.floor(i / anchors) % (4 + nc) < 4 ? acc.box : acc.cls;
    part[0] = Math.max(part[0], Math.abs(a[i] - b[i]));
    part[1] = Math.max(part[1], Math.abs(b[i]));
  }
  return { box: acc.box[0] / acc.box[1], cls: acc.cls[0] / acc.cls[1] };
}

const anchorsAt = (h: number, w: number): number => [8, 16, 32].reduce((s, st) => s + (h / st) * (w / st), 0);
const NC = 80;

describe('ONNX export in onnxruntime-node', () => {
  let gelan: DetectionModel;
  let gelanFused: DetectionModel;
  beforeAll(async () => {
    gelan = await calibrated(dev, 'gelan-t', 1);
    gelanFused = deployableModel(gelan);
  });

  test('gelan-t, dynamic batch/height/width: batch 2 at 160×160 and 224×160 match our fused model within 1e-4', async () => {
    const bytes = await exportOnnx(gelan, { dynamic: true, imgsz: 160 });
    const info = describeOnnx(bytes);
    expect(info.inputs).toEqual(['images']);
    expect(info.outputs).toEqual(['output0']);
    expect(info.opset).toBe(17);
    expect(info.metadata.stride).toBe('32');
    expect(info.metadata.names.startsWith("{0: '0', 1: '1'")).toBe(true);
    for (const [h, w] of [[160, 160], [224, 160]] as const) {
      const x = images(2, h, w, h + w);
      const got = await run(bytes, x, [2, 3, h, w]);
      const A = anchorsAt(h, w);
      expect(got.output0.dims).toEqual([2, 4 + NC, A]);
      const want = await ours(gelanFused, x, [2, 3, h, w]);
      const p = parity(got.output0.data as Float32Array, want, NC, A);
      console.log(`gelan-t ${h}x${w} batch 2 (dynamic graph): boxes ${p.box.toExponential(2)}, classes ${p.cls.toExponential(2)} (max |onnx − ours| / max |ours|)`);
      expect(p.box).toBeLessThan(1e-4);
      expect(p.cls).toBeLessThan(1e-4);
    }
  });

  test('the inputs move the output (the parity above is not of a constant)', async () => {
    const a = await ours(gelanFused, images(1, 160, 160, 1), [1, 3, 160, 160]);
    const b = await ours(gelanFused, images(1, 160, 160, 2), [1, 3, 160, 160]);
    let d = 0;
    for (let i = 0; i < 4 * anchorsAt(160, 160); i++) d = Math.max(d, Math.abs(a[i] - b[i]));
    expect(d).toBeGreaterThan(10); // pixels
  });

  test('yolov9-t exports as gelan-t (auxiliary branch removed) and matches the dual model\'s main branch (unfused) within 1e-4', async () => {
    const dual = await calibrated(dev, 'yolov9-t', 2);
    const bytes = await exportOnnx(dual, { imgsz: 160, batch: 2 });
    const x = images(2, 160, 160, 7);
    const got = await run(bytes, x, [2, 3, 160, 160]);
    const want = await ours(dual, x, [2, 3, 160, 160]);
    const p = parity(got.output0.data as Float32Array, want, NC, anchorsAt(160, 160));
    console.log(`yolov9-t → gelan-t 160x160 batch 2 (fixed shape): boxes ${p.box.toExponential(2)}, classes ${p.cls.toExponential(2)}`);
    expect(p.box).toBeLessThan(1e-4);
    expect(p.cls).toBeLessThan(1e-4);
    // fixed-shape graph: exactly batch 2 at 160×160
    await expect(run(bytes, images(1, 160, 160, 7), [1, 3, 160, 160])).rejects.toThrow(/dimension|Got invalid/i);
    dual.dispose();
  });

  test('--nms: num_dets / det_boxes / det_scores / det_classes equal our NMS per image (dynamic graph, batch 2)', async () => {
    const h = 224;
    const w = 160;
    const x = images(2, h, w, 11);
    const A = anchorsAt(h, w);
    const want = await ours(gelanFused, x, [2, 3, h, w]);
    // a threshold that leaves a few dozen candidates per image on this init
    const best: number[] = [];
    for (let b = 0; b < 2; b++)
      for (let a = 0; a < A; a++) {
        let m = 0;
        for (let c = 0; c < NC; c++) m = Math.max(m, want[(b * (4 + NC) + 4 + c) * A + a]);
        best.push(m);
      }
    best.sort((p, q) => q - p);
    const conf = (best[60] + best[61]) / 2;
    const maxDet = 20;
    const bytes = await exportOnnx(gelan, { dynamic: true, nms: { conf, iou: 0.45, maxDet } });
    expect(describeOnnx(bytes).outputs).toEqual(['num_dets', 'det_boxes', 'det_scores', 'det_classes']);
    const got = await run(bytes, x, [2, 3, h, w]);
    expect(got.num_dets.dims).toEqual([2, 1]);
    expect(got.det_boxes.dims).toEqual([2, maxDet, 4]);
    const num = got.num_dets.data as Int32Array;
    const boxes = got.det_boxes.data as Float32Array;
    const scores = got.det_scores.data as Float32Array;
    const classes = got.det_classes.data as Int32Array;
    let total = 0;
    for (let b = 0; b < 2; b++) {
      const img = want.subarray(b * (4 + NC) * A, (b + 1) * (4 + NC) * A);
      const ref = nms(img, NC, A, { conf, iou: 0.45, maxDet });
      expect(num[b]).toBe(ref.length);
      total += ref.length;
      ref.forEach((d, k) => {
        const o = b * maxDet + k;
        expect(classes[o]).toBe(d[5]);
        expect(Math.abs(scores[o] - d[4])).toBeLessThan(1e-4 * d[4]);
        for (let j = 0; j < 4; j++) expect(Math.abs(boxes[4 * o + j] - d[j])).toBeLessThan(1e-2);
      });
      for (let k = ref.length; k < maxDet; k++) expect(scores[b * maxDet + k]).toBe(0);
    }
    console.log(`--nms: ${num[0]} + ${num[1]} detections (conf ${conf.toExponential(3)}, max-det ${maxDet}), equal to training/metrics/nms.ts`);
    expect(total).toBeGreaterThan(4);
    // a threshold nothing passes: zero detections, fully padded outputs
    const none = await run(await exportOnnx(gelan, { imgsz: 160, nms: { conf: 0.999999 } }), images(1, 160, 160, 3), [1, 3, 160, 160]);
    expect([...(none.num_dets.data as Int32Array)]).toEqual([0]);
    expect(none.det_scores.dims).toEqual([1, 100]);
  });

  test('--half: f16 weights and convolutions agree with our f32 model within 3e-3 (boxes) / 1e-2 (classes)', async () => {
    const bytes = await exportOnnx(gelan, { imgsz: 160, batch: 2, half: true });
    const x = images(2, 160, 160, 5);
    const got = await run(bytes, x, [2, 3, 160, 160], true);
    const want = await ours(gelanFused, x, [2, 3, 160, 160]);
    const p = parity(got.output0.data as Float32Array, want, NC, anchorsAt(160, 160));
    console.log(`--half gelan-t 160x160: boxes ${p.box.toExponential(2)}, classes ${p.cls.toExponential(2)}`);
    expect(p.box).toBeLessThan(3e-3);
    expect(p.cls).toBeLessThan(1e-2);
  });

  test('gelan-e (ADown, a second stem joined by CBLinear/CBFuse with Resize to the runtime size) at 64×64 matches within 1e-4', async () => {
    for (const cfg of ['gelan-e']) {
      const m = await calibrated(dev, cfg, 3, 64);
      const x = images(1, 64, 64, 4);
      const got = await run(await exportOnnx(m, { dynamic: true }), x, [1, 3, 64, 64]);
      const want = await ours(m, x, [1, 3, 64, 64]);
      const p = parity(got.output0.data as Float32Array, want, NC, anchorsAt(64, 64));
      console.log(`${cfg} 64x64 (dynamic graph): boxes ${p.box.toExponential(2)}, classes ${p.cls.toExponential(2)}`);
      expect(p.box).toBeLessThan(1e-4);
      expect(p.cls).toBeLessThan(1e-4);
      m.dispose();
    }
  });

  test('opset 21 (the newest supported) gives the same detections as opset 17', async () => {
    const x = images(1, 160, 160, 9);
    const a = await run(await exportOnnx(gelan, { imgsz: 160, opset: 17, nms: { conf: 0.5 } }), x, [1, 3, 160, 160]);
    const b = await run(await exportOnnx(gelan, { imgsz: 160, opset: 21, nms: { conf: 0.5 } }), x, [1, 3, 160, 160]);
    expect((b.num_dets.data as Int32Array)[0]).toBe((a.num_dets.data as Int32Array)[0]);
    expect((a.num_dets.data as Int32Array)[0]).toBeGreaterThan(0);
    expect([...(b.det_classes.data as Int32Array)]).toEqual([...(a.det_classes.data as Int32Array)]);
    const p = parity(b.det_boxes.data as Float32Array, a.det_boxes.data as Float32Array, 0, 1);
    expect(p.box).toBeLessThan(1e-6);
  });

  test('bad options fail with one line naming the model and the option', async () => {
    await expect(exportOnnx(gelan, { opset: 12 })).rejects.toThrow(/builtin:gelan-t: --opset 12 cannot be honoured: the export supports opsets 17 to 21/);
    await expect(exportOnnx(gelan, { imgsz: 100 })).rejects.toThrow(/--imgsz 100 must be positive multiples of the model's largest stride 32/);
    await expect(exportOnnx(gelan, { nms: { maxDet: 0 } })).rejects.toThrow(/--max-det must be a positive integer/);
    await expect(exportOnnx(gelan, { names: ['a'] })).rejects.toThrow(/1 class names for a model with 80 classes/);
  });
});
