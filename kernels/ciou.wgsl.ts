// Complete IoU of xyxy box pairs (official bbox_iou(CIoU=True), eps 1e-7 on heights and on the union) and its
// gradient with respect to the first box, with the aspect term's α held constant as the official loss does. The
// assigner ranks anchors with ciou(), the box-loss kernels (box-loss.wgsl.ts) use both, and the ciou op
// (training/loss/ciou.ts) runs one kernel each way over (B, 4, A) planes instead of ~35 elementwise ops forward
// and ~50 backward.
import { type KernelSource, type ParamField, type VariantList, computeEntry, defineKernel, gridStride, read, write } from './common';

export const CIOU_WG = 64;
const PARAMS: ParamField[] = [{ name: 'n', type: 'u32' }, { name: 'A', type: 'u32' }];

/** The terms of CIoU(a, b) for xyxy boxes, each one's formula as in the official bbox_iou. */
const CIOU_TERMS = `
struct CiouTerms { w1: f32, h1: f32, iwr: f32, ihr: f32, iw: f32, ih: f32, inter: f32, uni: f32, iou: f32, cw: f32, ch: f32, c2: f32, dx: f32, dy: f32, rho2: f32, r1: f32, t: f32, v: f32, alpha: f32 }
fn ciou_terms(a: vec4<f32>, b: vec4<f32>) -> CiouTerms {
  let eps = 1e-7;
  var c: CiouTerms;
  c.w1 = a.z - a.x;
  c.h1 = a.w - a.y + eps;
  let w2 = b.z - b.x;
  let h2 = b.w - b.y + eps;
  c.iwr = min(a.z, b.z) - max(a.x, b.x);
  c.ihr = min(a.w, b.w) - max(a.y, b.y);
  c.iw = max(c.iwr, 0.0);
  c.ih = max(c.ihr, 0.0);
  c.inter = c.iw * c.ih;
  c.uni = c.w1 * c.h1 + w2 * h2 - c.inter + eps;
  c.iou = c.inter / c.uni;
  c.cw = max(a.z, b.z) - min(a.x, b.x);
  c.ch = max(a.w, b.w) - min(a.y, b.y);
  c.c2 = c.cw * c.cw + c.ch * c.ch + eps;
  c.dx = b.x + b.z - a.x - a.z;
  c.dy = b.y + b.w - a.y - a.w;
  c.rho2 = (c.dx * c.dx + c.dy * c.dy) / 4.0;
  c.r1 = c.w1 / c.h1;
  c.t = atan(w2 / h2) - atan(c.r1);
  c.v = 0.40528473456935108578 * c.t * c.t;
  c.alpha = c.v / (c.v - c.iou + (1.0 + eps));
  return c;
}`;

/** Official bbox_iou(xyxy, CIoU=True) with eps 1e-7 (added to heights and to the union). */
export const CIOU_WGSL = `${CIOU_TERMS}
fn ciou(a: vec4<f32>, b: vec4<f32>) -> f32 {
  let c = ciou_terms(a, b);
  return c.iou - (c.rho2 / c.c2 + c.v * c.alpha);
}`;

/**
 * d ciou(a, b) / d a for a = (x1, y1, x2, y2), by the chain rule through the same terms; min/max split a tie's
 * gradient in half and clamp passes it at 0, as PyTorch's minimum, maximum and clamp do.
 */
export const CIOU_GRAD_WGSL = `${CIOU_TERMS}
fn dmin_(x: f32, y: f32) -> f32 { return select(select(0.0, 1.0, x < y), 0.5, x == y); }
fn dmax_(x: f32, y: f32) -> f32 { return select(select(0.0, 1.0, x > y), 0.5, x == y); }
fn ciou_grad_a(a: vec4<f32>, b: vec4<f32>) -> vec4<f32> {
  let c = ciou_terms(a, b);
  // ciou = iou − ρ²/c² − α·v with α constant
  let g_inter = 1.0 / c.uni + c.inter / (c.uni * c.uni);
  let g_area = -c.inter / (c.uni * c.uni);
  let g_iwr = select(0.0, g_inter * c.ih, c.iwr >= 0.0);
  let g_ihr = select(0.0, g_inter * c.iw, c.ihr >= 0.0);
  let g_rho2 = -1.0 / c.c2;
  let g_c2 = c.rho2 / (c.c2 * c.c2);
  let g_dx = g_rho2 * 0.5 * c.dx;
  let g_dy = g_rho2 * 0.5 * c.dy;
  let g_cw = 2.0 * c.cw * g_c2;
  let g_ch = 2.0 * c.ch * g_c2;
  let g_r1 = c.alpha * 2.0 * 0.40528473456935108578 * c.t / (1.0 + c.r1 * c.r1);
  let g_w1 = g_area * c.h1 + g_r1 / c.h1;
  let g_h1 = g_area * c.w1 - g_r1 * c.w1 / (c.h1 * c.h1);
  return vec4<f32>(
    -g_w1 - g_iwr * dmax_(a.x, b.x) - g_dx - g_cw * dmin_(a.x, b.x),
    -g_h1 - g_ihr * dmax_(a.y, b.y) - g_dy - g_ch * dmin_(a.y, b.y),
    g_w1 + g_iwr * dmin_(a.z, b.z) - g_dx + g_cw * dmax_(a.z, b.z),
    g_h1 + g_ihr * dmin_(a.w, b.w) - g_dy + g_ch * dmax_(a.w, b.w),
  );
}`;

/** Box q of a (B, 4, A) tensor of planes: batch q / A, anchor q % A. */
const LOAD = `    let base = (q / p.A) * 4u * p.A + q % p.A;
    let av = vec4<f32>(a[base], a[base + p.A], a[base + 2u * p.A], a[base + 3u * p.A]);
    let bv = vec4<f32>(b[base], b[base + p.A], b[base + 2u * p.A], b[base + 3u * p.A]);`;

/** out (B, 1, A) = ciou(a, b) for a, b (B, 4, A); n = B·A. */
export function ciouFwdKernel(): KernelSource {
  return defineKernel({
    name: 'ciou.fwd',
    key: 'ciou.fwd',
    workgroupSize: [CIOU_WG, 1, 1],
    bindings: [read('a'), read('b'), write('out')],
    params: PARAMS,
    body: () => `${CIOU_WGSL}
${computeEntry([CIOU_WG, 1, 1])} {
${gridStride(CIOU_WG, 'q', 'p.n', `${LOAD}
    out[q] = ciou(av, bv);`)}
}`,
  });
}

/** ga (B, 4, A) = gy (B, 1, A) · d ciou / d a. */
export function ciouBwdKernel(): KernelSource {
  return defineKernel({
    name: 'ciou.bwd',
    key: 'ciou.bwd',
    workgroupSize: [CIOU_WG, 1, 1],
    bindings: [read('a'), read('b'), read('gy'), write('ga')],
    params: PARAMS,
    body: () => `${CIOU_GRAD_WGSL}
${computeEntry([CIOU_WG, 1, 1])} {
${gridStride(CIOU_WG, 'q', 'p.n', `${LOAD}
    let g = gy[q] * ciou_grad_a(av, bv);
    ga[base] = g.x;
    ga[base + p.A] = g.y;
    ga[base + 2u * p.A] = g.z;
    ga[base + 3u * p.A] = g.w;`)}
}`,
  });
}

export const variants: VariantList = () => [ciouFwdKernel(), ciouBwdKernel()];
