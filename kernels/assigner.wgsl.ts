// TaskAlignedAssigner (official utils/tal/assigner.py, topk 10, alpha 0.5, beta 6, eps 1e-9) as five kernels over
// (batch b, gt g, anchor a). Predictions are read in the head's channels-first layout (B, 64 + nc, A), boxes as
// decoded xyxy grid units (B, 4, A); gts are (B, M, 5) rows [cls, x1, y1, x2, y2] in pixels with a (B, M) mask.
//   metrics  (b,g,a): strictly-inside test, CIoU(gt, pred·stride) ≥ 0, align = sigmoid(score)^α · CIoU^β
//   topk     (b,g)  : the k anchors of largest align·inside (ties: lowest index) → pos = topk ∧ inside ∧ mask_gt
//   resolve  (b,a)  : an anchor claimed by several gts goes to the gt of largest CIoU over all gts
//   norms    (b,g)  : max align and max CIoU over the gt's positives
//   targets  (b,a)  : class one-hot × align·maxCIoU/maxAlign, target box (grid units), weight, DFL two-hot bins
import { type Binding, type KernelSource, type ParamField, type VariantList, checkInt, computeEntry, defineKernel, flatIndex, read as r, write as w } from './common';
import { CIOU_WGSL } from './ciou.wgsl';

export const ASSIGN_WG = 64;
const PARAMS: ParamField[] = ['B', 'M', 'A', 'nc', 'no', 'topk'].map((name) => ({ name, type: 'u32' }) as ParamField).concat([
  { name: 'alpha', type: 'f32' },
  { name: 'beta', type: 'f32' },
  { name: 'dflMax', type: 'f32' },
]);

/** The assigner kernels are fixed (no variants): the name is the key. */
function kernel(name: string, bindings: Binding[], body: string, extra = '', key = name): KernelSource {
  return defineKernel({
    name,
    key,
    workgroupSize: [ASSIGN_WG, 1, 1],
    bindings,
    params: PARAMS,
    body: () => `${extra}\n${computeEntry([ASSIGN_WG, 1, 1])} {\n  let i = ${flatIndex(ASSIGN_WG)};\n${body}\n}`,
  });
}

const gtBox = (bg: string): string => `vec4<f32>(gt[${bg} * 5u + 1u], gt[${bg} * 5u + 2u], gt[${bg} * 5u + 3u], gt[${bg} * 5u + 4u])`;

export function assignMetricsKernel(): KernelSource {
  return kernel(
    'assign.metrics',
    [r('pred'), r('pbox'), r('anchors'), r('strides'), r('gt'), w('align'), w('ovl'), w('inside')],
    `  if (i >= p.B * p.M * p.A) { return; }
  let a = i % p.A;
  let bg = i / p.A;
  let b = bg / p.M;
  let s = strides[a];
  let ax = anchors[a] * s;
  let ay = anchors[p.A + a] * s;
  let g = ${gtBox('bg')};
  let d = min(min(ax - g.x, ay - g.y), min(g.z - ax, g.w - ay));
  inside[i] = select(0.0, 1.0, d > 1e-9);
  let pb = b * 4u * p.A + a;
  let pd = vec4<f32>(pbox[pb], pbox[pb + p.A], pbox[pb + 2u * p.A], pbox[pb + 3u * p.A]) * s;
  let o = max(ciou(g, pd), 0.0);
  ovl[i] = o;
  let cls = u32(gt[bg * 5u]);
  let score = 1.0 / (1.0 + exp(-pred[(b * p.no + (p.no - p.nc) + cls) * p.A + a]));
  align[i] = pow(score, p.alpha) * pow(o, p.beta);`,
    CIOU_WGSL,
  );
}

export function assignTopkKernel(): KernelSource {
  return kernel(
    'assign.topk',
    [r('align'), r('inside'), r('maskgt'), w('pos')],
    `  if (i >= p.B * p.M) { return; }
  let row = i * p.A;
  for (var a = 0u; a < p.A; a++) { pos[row + a] = 0.0; }
  if (maskgt[i] == 0.0) { return; }
  // k largest of align·inside, ties to the lowest index; selection sort over a small k
  var taken = 0u;
  var lastV = 3.4e38;
  var lastA = 0u;
  loop {
    if (taken >= p.topk) { break; }
    var bestV = -1.0;
    var bestA = 0u;
    for (var a = 0u; a < p.A; a++) {
      let v = align[row + a] * inside[row + a];
      let after = v < lastV || (v == lastV && a > lastA);
      if (after && v > bestV) { bestV = v; bestA = a; }
    }
    if (bestV < 0.0) { break; }
    pos[row + bestA] = inside[row + bestA];
    lastV = bestV;
    lastA = bestA;
    taken++;
  }`,
  );
}

export function assignResolveKernel(): KernelSource {
  return kernel(
    'assign.resolve',
    [w('pos'), r('ovl'), w('fg'), w('gtidx')],
    `  if (i >= p.B * p.A) { return; }
  let a = i % p.A;
  let b = i / p.A;
  var count = 0.0;
  var first = 0u;
  for (var g = 0u; g < p.M; g++) {
    let v = pos[(b * p.M + g) * p.A + a];
    if (v > 0.0 && count == 0.0) { first = g; }
    count += v;
  }
  var idx = first;
  if (count > 1.0) {
    // several gts claim this anchor: keep the gt of largest overlap among all gts (first on ties)
    var best = -1.0;
    for (var g = 0u; g < p.M; g++) {
      let o = ovl[(b * p.M + g) * p.A + a];
      if (o > best) { best = o; idx = g; }
    }
    for (var g = 0u; g < p.M; g++) { pos[(b * p.M + g) * p.A + a] = select(0.0, 1.0, g == idx); }
  }
  fg[i] = min(count, 1.0);
  gtidx[i] = f32(idx);`,
  );
}

export function assignNormsKernel(): KernelSource {
  return kernel(
    'assign.norms',
    [r('align'), r('ovl'), r('pos'), w('norms')],
    `  if (i >= p.B * p.M) { return; }
  var ma = 0.0;
  var mo = 0.0;
  for (var a = 0u; a < p.A; a++) {
    let q = pos[i * p.A + a];
    ma = max(ma, align[i * p.A + a] * q);
    mo = max(mo, ovl[i * p.A + a] * q);
  }
  norms[2u * i] = ma;
  norms[2u * i + 1u] = mo;`,
  );
}

/** Targets in the loss's channels-first layouts: scores (B, nc, A), boxes (B, 4, A) grid xyxy, weights (B, A). */
export function assignTargetsKernel(): KernelSource {
  return kernel(
    'assign.targets',
    [r('gt'), r('fg'), r('gtidx'), r('align'), r('norms'), r('strides'), w('tscores'), w('tboxes'), w('weight')],
    `  if (i >= p.B * p.A) { return; }
  let a = i % p.A;
  let b = i / p.A;
  let g = u32(gtidx[i]);
  let bg = b * p.M + g;
  let f = fg[i];
  // after resolve an anchor has at most one positive gt, so the official max over gts is that gt's term
  let n = f * align[bg * p.A + a] * norms[2u * bg + 1u] / (norms[2u * bg] + 1e-9);
  let cls = u32(gt[bg * 5u]);
  for (var c = 0u; c < p.nc; c++) { tscores[(b * p.nc + c) * p.A + a] = select(0.0, n, c == cls && f > 0.0); }
  let s = strides[a];
  let box = ${gtBox('bg')} / s;
  for (var k = 0u; k < 4u; k++) { tboxes[(b * 4u + k) * p.A + a] = box[k]; }
  weight[i] = select(0.0, n, f > 0.0);`,
  );
}

/** DFL targets: per side the two-hot weights of the clamped distance over `bins` bins (the head's reg_max), (B, 4, bins, A). */
export function dflTargetsKernel(bins: number): KernelSource {
  checkInt('assign.dfl_targets', 'bins', bins, 2);
  return kernel(
    'assign.dfl_targets',
    [r('tboxes'), r('anchors'), w('twohot')],
    `  if (i >= p.B * p.A) { return; }
  let a = i % p.A;
  let b = i / p.A;
  let ax = anchors[a];
  let ay = anchors[p.A + a];
  let bx = tboxes[(b * 4u) * p.A + a];
  let by = tboxes[(b * 4u + 1u) * p.A + a];
  let cx = tboxes[(b * 4u + 2u) * p.A + a];
  let cy = tboxes[(b * 4u + 3u) * p.A + a];
  let ltrb = clamp(vec4<f32>(ax - bx, ay - by, cx - ax, cy - ay), vec4<f32>(0.0), vec4<f32>(p.dflMax));
  for (var k = 0u; k < 4u; k++) {
    let t = ltrb[k];
    let l = floor(t);
    let wl = l + 1.0 - t;
    for (var j = 0u; j < ${bins}u; j++) {
      let fj = f32(j);
      twohot[((b * 4u + k) * ${bins}u + j) * p.A + a] = select(0.0, wl, fj == l) + select(0.0, 1.0 - wl, fj == l + 1.0);
    }
  }`,
    '',
    `assign.dfl_targets:${bins}`,
  );
}

export const variants: VariantList = () => [assignMetricsKernel(), assignTopkKernel(), assignResolveKernel(), assignNormsKernel(), assignTargetsKernel(), dflTargetsKernel(16)];
