// Detection metrics as the official val code computes them (val.py: process_batch; utils/metrics.py:
// ap_per_class, compute_ap): per-detection correctness at IoU 0.50:0.05:0.95 with one-to-one matching,
// precision/recall curves per class, AP by 101-point interpolation of the precision envelope, and P/R/F1 at the
// confidence of the best mean F1 (smoothed).
import type { Detection } from './nms';

/** IoU thresholds of mAP@0.5:0.95 (0.5, 0.55, …, 0.95). */
export const IOU_THRESHOLDS = Array.from({ length: 10 }, (_, i) => 0.5 + 0.05 * i);

/** A label: class, x1, y1, x2, y2 (same units as the detections). */
export type Label = [number, number, number, number, number];

function boxIou(a: readonly number[], b: readonly number[]): number {
  const iw = Math.max(0, Math.min(a[2], b[2]) - Math.max(a[0], b[0]));
  const ih = Math.max(0, Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  const inter = iw * ih;
  return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter + 1e-7);
}

/** correct[d][t]: detection d matches an unmatched label of its class with IoU ≥ threshold t (official matching). */
export function processBatch(dets: readonly Detection[], labels: readonly Label[], thresholds = IOU_THRESHOLDS): boolean[][] {
  const correct = dets.map(() => thresholds.map(() => false));
  const ious = labels.map((l) => dets.map((d) => boxIou(l.slice(1), d)));
  thresholds.forEach((thr, t) => {
    const matches: [number, number, number][] = [];
    labels.forEach((l, li) => dets.forEach((d, di) => {
      if (ious[li][di] >= thr && l[0] === d[5]) matches.push([li, di, ious[li][di]]);
    }));
    if (matches.length > 1) {
      // highest IoU first (stable for ties, as numpy's argsort()[::-1] on distinct values), then each detection
      // and each label used once, keeping the first (highest-IoU) occurrence
      matches.sort((a, b) => b[2] - a[2]);
      const firstBy = (k: 0 | 1, ms: [number, number, number][]): [number, number, number][] => {
        const seen = new Map<number, [number, number, number]>();
        for (const m of ms) if (!seen.has(m[k])) seen.set(m[k], m);
        return [...seen.values()].sort((a, b) => a[k] - b[k]);
      };
      const byDet = firstBy(1, matches);
      for (const m of firstBy(0, byDet)) correct[m[1]][t] = true;
    } else if (matches.length === 1) correct[matches[0][1]][t] = true;
  });
  return correct;
}

function interp(x: number, xp: readonly number[], fp: readonly number[], left?: number): number {
  // numpy.interp for non-decreasing xp (at repeated xp values the rightmost one wins)
  if (x < xp[0]) return left ?? fp[0];
  if (x >= xp[xp.length - 1]) return fp[fp.length - 1];
  let lo = 0;
  let hi = xp.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xp[mid] <= x) lo = mid;
    else hi = mid;
  }
  const t = (x - xp[lo]) / (xp[hi] - xp[lo]);
  return xp[hi] === xp[lo] ? fp[hi] : fp[lo] + t * (fp[hi] - fp[lo]);
}

/** AP from a recall/precision curve: 101-point interpolated area under the precision envelope. */
export function computeAp(recall: readonly number[], precision: readonly number[]): number {
  const mrec = [0, ...recall, 1];
  const mpre = [1, ...precision, 0];
  for (let i = mpre.length - 2; i >= 0; i--) mpre[i] = Math.max(mpre[i], mpre[i + 1]);
  const xs = Array.from({ length: 101 }, (_, i) => i / 100);
  const ys = xs.map((x) => interp(x, mrec, mpre));
  let area = 0;
  for (let i = 1; i < xs.length; i++) area += ((xs[i] - xs[i - 1]) * (ys[i] + ys[i - 1])) / 2;
  return area;
}

function smooth(y: readonly number[], f: number): number[] {
  const nf = Math.floor(Math.round(y.length * f * 2) / 2) + 1;
  const pad = Math.floor(nf / 2);
  const yp = [...Array(pad).fill(y[0]), ...y, ...Array(pad).fill(y[y.length - 1])];
  const out: number[] = [];
  for (let i = 0; i + nf <= yp.length; i++) {
    let s = 0;
    for (let k = 0; k < nf; k++) s += yp[i + k];
    out.push(s / nf);
  }
  return out;
}

/** Average precision per class and IoU threshold, with precision and recall. */
export interface ApResult {
  /** Classes that have labels, ascending. */
  readonly classes: number[];
  /** AP per class × IoU threshold. */
  readonly ap: number[][];
  readonly precision: number[];
  readonly recall: number[];
  readonly f1: number[];
  readonly map50: number;
  readonly map: number;
  readonly mp: number;
  readonly mr: number;
}

/** `tp[d][t]` per detection, its confidence and class; `targetCls` one entry per label. */
export function apPerClass(tp: readonly boolean[][], conf: readonly number[], predCls: readonly number[], targetCls: readonly number[]): ApResult {
  const eps = 1e-16;
  const order = conf.map((_, i) => i).sort((a, b) => conf[b] - conf[a]);
  const T = tp[0]?.length ?? IOU_THRESHOLDS.length;
  const counts = new Map<number, number>();
  for (const c of targetCls) counts.set(c, (counts.get(c) ?? 0) + 1);
  const classes = [...counts.keys()].sort((a, b) => a - b);
  const px = Array.from({ length: 1000 }, (_, i) => i / 999);
  const ap = classes.map(() => new Array<number>(T).fill(0));
  const P = classes.map(() => new Array<number>(1000).fill(0));
  const R = classes.map(() => new Array<number>(1000).fill(0));
  classes.forEach((c, ci) => {
    const idx = order.filter((i) => predCls[i] === c);
    const nl = counts.get(c)!;
    if (idx.length === 0 || nl === 0) return;
    const confC = idx.map((i) => conf[i]);
    // interp over -conf (increasing)
    const negConf = confC.map((v) => -v);
    for (let t = 0; t < T; t++) {
      let tpc = 0;
      let fpc = 0;
      const rec: number[] = [];
      const pre: number[] = [];
      for (const i of idx) {
        if (tp[i][t]) tpc++;
        else fpc++;
        rec.push(tpc / (nl + eps));
        pre.push(tpc / (tpc + fpc));
      }
      if (t === 0) {
        R[ci] = px.map((x) => interp(-x, negConf, rec, 0));
        P[ci] = px.map((x) => interp(-x, negConf, pre, 1));
      }
      ap[ci][t] = computeAp(rec, pre);
    }
  });
  const f1 = P.map((p, ci) => p.map((pv, k) => (2 * pv * R[ci][k]) / (pv + R[ci][k] + eps)));
  const meanF1 = px.map((_, k) => (f1.length ? f1.reduce((s, row) => s + row[k], 0) / f1.length : 0));
  const sm = smooth(meanF1, 0.1);
  let best = 0;
  sm.forEach((v, k) => {
    if (v > sm[best]) best = k;
  });
  const precision = P.map((p) => p[best]);
  const recall = R.map((r) => r[best]);
  const mean = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
  return {
    classes,
    ap,
    precision,
    recall,
    f1: f1.map((row) => row[best]),
    map50: mean(ap.map((row) => row[0])),
    map: mean(ap.map((row) => mean(row))),
    mp: mean(precision),
    mr: mean(recall),
  };
}

/** The official checkpoint fitness (utils/metrics.fitness): 0.1 · mAP@0.5 + 0.9 · mAP@0.5:0.95. */
export const fitness = (m: { readonly map50: number; readonly map: number }): number => 0.1 * m.map50 + 0.9 * m.map;
