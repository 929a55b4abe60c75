// NMS and mAP against the official functions (fixtures from test/fixtures/gen/yolov9_train.py).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { readSafetensors } from '../../models/io/safetensors';
import { type HostTensor, toFloat32 } from '../../models/io/dtypes';
import { type Detection, nms } from '../../training/metrics/nms';
import { type Label, apPerClass, computeAp, fitness, processBatch } from '../../training/metrics/map';

const read = (f: string) => readSafetensors(new Uint8Array(readFileSync(fileURLToPath(new URL(`../fixtures/yolov9/train/${f}`, import.meta.url)))), f).tensors;
const rows = (h: HostTensor, w: number): number[][] => {
  const d = Array.from(toFloat32(h));
  return Array.from({ length: d.length / w }, (_, i) => d.slice(i * w, i * w + w));
};
const f64 = (h: HostTensor): number[] => Array.from(h.data as ArrayLike<number | bigint>, Number);

describe('NMS vs official non_max_suppression', () => {
  const fx = read('nms.safetensors');
  const pred = toFloat32(fx.get('prediction')!);
  const A = 300;
  const nc = 3;
  const configs: Record<string, { conf: number; iou: number; multiLabel?: boolean; agnostic?: boolean; maxDet?: number; classes?: number[] }> = {
    base: { conf: 0.25, iou: 0.45 },
    agnostic: { conf: 0.25, iou: 0.45, agnostic: true },
    classes02: { conf: 0.25, iou: 0.45, classes: [0, 2] },
    maxdet5: { conf: 0.25, iou: 0.45, multiLabel: true, maxDet: 5 },
    multilabel: { conf: 0.25, iou: 0.45, multiLabel: true },
    multilabel_agnostic: { conf: 0.25, iou: 0.45, multiLabel: true, agnostic: true },
    val: { conf: 0.001, iou: 0.7, multiLabel: true },
  };
  for (const [name, cfg] of Object.entries(configs)) {
    test(name, () => {
      for (let img = 0; img < 2; img++) {
        const got = nms(pred.subarray(img * (4 + nc) * A, (img + 1) * (4 + nc) * A), nc, A, cfg);
        const want = rows(fx.get(`${name}.${img}`)!, 6);
        expect(got.length, `${name} image ${img}`).toBe(want.length);
        got.forEach((d, i) => d.forEach((v, k) => expect(Math.abs(v - want[i][k]), `${name}[${img}] det ${i} field ${k}`).toBeLessThan(1e-4)));
      }
    });
  }
});

describe('mAP vs official process_batch / ap_per_class / compute_ap', () => {
  const fx = read('metrics.safetensors');
  test('compute_ap (101-point interpolation)', () => {
    for (const c of ['monotone', 'perfect', 'single', 'zigzag']) {
      const ap = computeAp(f64(fx.get(`compute_ap.${c}.recall`)!), f64(fx.get(`compute_ap.${c}.precision`)!));
      expect(Math.abs(ap - f64(fx.get(`compute_ap.${c}.ap`)!)[0]), c).toBeLessThan(1e-12);
    }
  });

  test('process_batch: one-to-one matching at IoU 0.50:0.95', () => {
    for (const i of [0, 1, 2]) {
      const dets = rows(fx.get(`pb.${i}.detections`)!, 6) as Detection[];
      const labels = rows(fx.get(`pb.${i}.labels`)!, 5) as Label[];
      const want = rows(fx.get(`pb.${i}.correct`)!, 10).map((r) => r.map((v) => v === 1));
      expect(processBatch(dets, labels), `image ${i}`).toEqual(want);
    }
  });

  // the official curves are float32 (tp arrives as float32, so its cumsums are): agreement to ~1e-8
  const TOL = 1e-6;
  for (const set of ['chain', 'synth']) {
    test(`ap_per_class (${set}): AP per class and threshold, P, R, F1, mAP`, () => {
      const tp = rows(fx.get(`${set}.tp`)!, 10).map((r) => r.map((v) => v === 1));
      const r = apPerClass(tp, f64(fx.get(`${set}.conf`)!), f64(fx.get(`${set}.pred_cls`)!), f64(fx.get(`${set}.target_cls`)!));
      expect(r.classes).toEqual(f64(fx.get(`${set}.unique_classes`)!));
      const ap = rows(fx.get(`${set}.ap`)!, 10);
      // The synthetic set has classes with more true positives than labels (recall > 1, impossible with
      // process_batch's one-to-one matching); numpy.interp is then undefined (unsorted xp), so skip those cells.
      const targetCls = f64(fx.get(`${set}.target_cls`)!);
      const predCls = f64(fx.get(`${set}.pred_cls`)!);
      let skipped = 0;
      r.ap.forEach((row, ci) =>
        row.forEach((v, t) => {
          const c = r.classes[ci];
          const tps = tp.filter((x, i) => predCls[i] === c && x[t]).length;
          if (tps > targetCls.filter((x) => x === c).length) return void skipped++;
          expect(Math.abs(v - ap[ci][t]), `class ${c} thr ${t}`).toBeLessThan(TOL);
        }),
      );
      if (skipped) console.log(`${set}: ${skipped} (class, threshold) cells with recall > 1 not compared`);
      const p = f64(fx.get(`${set}.p`)!);
      const rr = f64(fx.get(`${set}.r`)!);
      r.precision.forEach((v, i) => expect(Math.abs(v - p[i])).toBeLessThan(TOL));
      r.recall.forEach((v, i) => expect(Math.abs(v - rr[i])).toBeLessThan(TOL));
      const [mp, mr, map50, map] = f64(fx.get(`${set}.mp_mr_map50_map`)!);
      expect(Math.abs(r.mp - mp)).toBeLessThan(TOL);
      expect(Math.abs(r.mr - mr)).toBeLessThan(TOL);
      if (set === 'chain') {
        expect(Math.abs(r.map50 - map50)).toBeLessThan(TOL);
        expect(Math.abs(r.map - map)).toBeLessThan(TOL);
      }
    });
  }

  // 0.995, not 1: the official 101-point trapezoid ends on the envelope's sentinel 0 at recall 1
  test('hand-checkable: one perfect detection per label gives mAP 0.995; none gives 0', () => {
    const labels: Label[] = [[0, 0, 0, 10, 10], [1, 20, 20, 30, 40]];
    const dets: Detection[] = [[0, 0, 10, 10, 0.9, 0], [20, 20, 30, 40, 0.8, 1]];
    const tp = processBatch(dets, labels);
    expect(apPerClass(tp, [0.9, 0.8], [0, 1], [0, 1]).map).toBeCloseTo(0.995, 12);
    expect(apPerClass([], [], [], [0, 1]).map).toBe(0);
  });
});

test('checkpoint fitness is the official weighting of [P, R, mAP@0.5, mAP@0.5:0.95] = [0, 0, 0.1, 0.9]', () => {
  // utils/metrics.fitness: (x[:, :4] * [0.0, 0.0, 0.1, 0.9]).sum(1)
  expect(fitness({ map50: 0.5, map: 0.3 })).toBeCloseTo(0.1 * 0.5 + 0.9 * 0.3, 15);
  expect(fitness({ map50: 1, map: 0 })).toBeCloseTo(0.1, 15);
  expect(fitness({ map50: 0, map: 1 })).toBeCloseTo(0.9, 15);
});
