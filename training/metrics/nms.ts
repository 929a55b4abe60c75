// Non-maximum suppression as the official utils/general.py: candidates above `conf` (strict), best class or
// every class above `conf` (multi-label), sort by confidence, class-offset boxes (max_wh 7680) so classes never
// suppress each other unless agnostic, greedy IoU suppression (strictly above `iou`), at most `maxDet` kept.
// Works on the read-back (4 + nc, A) output of one image.

/** Options of nms() (the official non_max_suppression arguments). */
export interface NmsOptions {
  readonly conf?: number;
  readonly iou?: number;
  readonly multiLabel?: boolean;
  readonly agnostic?: boolean;
  readonly maxDet?: number;
  /** Keep only these classes. */
  readonly classes?: readonly number[];
}

/** One detection: x1, y1, x2, y2 (input pixels), confidence, class. */
export type Detection = [number, number, number, number, number, number];

const MAX_WH = 7680;
const MAX_NMS = 30000;

function iou(a: Detection, b: Detection, off: number, offB: number): number {
  const ax1 = a[0] + off, ay1 = a[1] + off, ax2 = a[2] + off, ay2 = a[3] + off;
  const bx1 = b[0] + offB, by1 = b[1] + offB, bx2 = b[2] + offB, by2 = b[3] + offB;
  const iw = Math.max(0, Math.min(ax2, bx2) - Math.max(ax1, bx1));
  const ih = Math.max(0, Math.min(ay2, by2) - Math.max(ay1, by1));
  const inter = iw * ih;
  const areaA = (ax2 - ax1) * (ay2 - ay1);
  const areaB = (bx2 - bx1) * (by2 - by1);
  return inter / (areaA + areaB - inter);
}

/** `pred`: (4 + nc) × A channels-first (xywh, class probabilities) of one image. */
export function nms(pred: Float32Array, nc: number, anchors: number, o: NmsOptions = {}): Detection[] {
  const conf = o.conf ?? 0.25;
  const iouThr = o.iou ?? 0.45;
  const maxDet = o.maxDet ?? 300;
  const multi = (o.multiLabel ?? false) && nc > 1;
  if (pred.length !== (4 + nc) * anchors) throw new Error(`nms: prediction has ${pred.length} values, expected (4 + ${nc}) × ${anchors}`);
  const classes = o.classes ? new Set(o.classes) : null;
  let cand: Detection[] = [];
  for (let a = 0; a < anchors; a++) {
    let best = -Infinity;
    let bestC = 0;
    for (let c = 0; c < nc; c++) {
      const v = pred[(4 + c) * anchors + a];
      if (v > best) {
        best = v;
        bestC = c;
      }
    }
    if (!(best > conf)) continue;
    const cx = pred[a], cy = pred[anchors + a], w = pred[2 * anchors + a], h = pred[3 * anchors + a];
    const box = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] as const;
    if (multi) {
      for (let c = 0; c < nc; c++) {
        const v = pred[(4 + c) * anchors + a];
        if (v > conf) cand.push([...box, v, c]);
      }
    } else cand.push([...box, best, bestC]);
  }
  if (classes) cand = cand.filter((d) => classes.has(d[5]));
  cand.sort((x, y) => y[4] - x[4]);
  if (cand.length > MAX_NMS) cand = cand.slice(0, MAX_NMS);
  const keep: Detection[] = [];
  const off = (d: Detection): number => (o.agnostic ? 0 : d[5] * MAX_WH);
  const removed = new Uint8Array(cand.length);
  for (let i = 0; i < cand.length && keep.length < maxDet; i++) {
    if (removed[i]) continue;
    const d = cand[i];
    keep.push(d);
    for (let j = i + 1; j < cand.length; j++) {
      if (!removed[j] && iou(d, cand[j], off(d), off(cand[j])) > iouThr) removed[j] = 1;
    }
  }
  return keep;
}
