// The box and class terms of the detection loss for one branch, per anchor, from the head's raw output pred
// (B, 4·bins + nc, A): the 4 × bins DFL logits of each side (bins = the head's reg_max, 16 in the official
// heads) and the nc class logits. Three kernels over the B·A anchors
// instead of ~80 elementwise dispatches forward and backward:
//   decode   pbox (B, 4, A) = anchor ∓ Σ_j softmax(x_s)_j · j, the boxes the assigner ranks (no gradient)
//   fwd      parts (3, B·A): (1 − CIoU(pbox, target box))·w, Σ_c BCE(x_c, t_c), ¼·Σ_s CE(x_s, two-hot_s)·w
//   bwd      d pred from the upstream gradients of the three sums (box, cls, dfl): cls σ(x) − t; DFL ¼·w·(p − t);
//            box through the CIoU gradient, the decode (∓1 per side) and the expectation (p_j·(j − d_s))
// with w the anchor's weight (Σ of its target scores; 0 in the background). The caller divides the sums by S.
import { type KernelSource, type ParamField, type VariantList, checkInt, computeEntry, defineKernel, gridStride, read, write } from './common';
import { CIOU_GRAD_WGSL, CIOU_WGSL } from './ciou.wgsl';

export const BOX_LOSS_WG = 64;
const PARAMS: ParamField[] = ['n', 'A', 'nc', 'no'].map((name) => ({ name, type: 'u32' }) as ParamField);

/** Anchor q → batch bi, anchor ai, the base index of its column in pred, and its grid point (ax, ay). */
const HEAD = `    let bi = q / p.A;
    let ai = q % p.A;
    let pc = bi * p.no * p.A + ai;
    let ax = anchors[ai];
    let ay = anchors[p.A + ai];`;

/** Side s of the anchor: max logit m, Σ exp(x − m) → se, and the expected bin d (all over the `bins` bins). */
const side = (bins: number): string => `fn side_(pc: u32, s: u32) -> vec3<f32> {
  var m = pred[pc + s * ${bins}u * p.A];
  for (var j = 1u; j < ${bins}u; j++) { m = max(m, pred[pc + (s * ${bins}u + j) * p.A]); }
  var se = 0.0;
  var sd = 0.0;
  for (var j = 0u; j < ${bins}u; j++) {
    let e = exp(pred[pc + (s * ${bins}u + j) * p.A] - m);
    se += e;
    sd += e * f32(j);
  }
  return vec3<f32>(m, se, sd / se);
}
fn decode_(pc: u32, ax: f32, ay: f32) -> vec4<f32> {
  return vec4<f32>(ax - side_(pc, 0u).z, ay - side_(pc, 1u).z, ax + side_(pc, 2u).z, ay + side_(pc, 3u).z);
}`;

/** The target box of anchor column q in (B, 4, A) planes. */
const TBOX = `    let tb = bi * 4u * p.A + ai;
    let tbox = vec4<f32>(tboxes[tb], tboxes[tb + p.A], tboxes[tb + 2u * p.A], tboxes[tb + 3u * p.A]);
    let w = weight[q];`;

function kernel(name: string, bins: number, bindings: ReturnType<typeof read>[], body: string, extra: string): KernelSource {
  checkInt(name, 'bins', bins, 2);
  return defineKernel({
    name,
    key: `${name}:${bins}`,
    workgroupSize: [BOX_LOSS_WG, 1, 1],
    bindings,
    params: PARAMS,
    body: () => `${extra}\n${computeEntry([BOX_LOSS_WG, 1, 1])} {\n${gridStride(BOX_LOSS_WG, 'q', 'p.n', body)}\n}`,
  });
}

/** See the header; `bins` is the head's reg_max. */
export function boxDecodeKernel(bins: number): KernelSource {
  return kernel('boxloss.decode', bins, [read('pred'), read('anchors'), write('pbox')], `${HEAD}
    let b = decode_(pc, ax, ay);
    let o = bi * 4u * p.A + ai;
    pbox[o] = b.x;
    pbox[o + p.A] = b.y;
    pbox[o + 2u * p.A] = b.z;
    pbox[o + 3u * p.A] = b.w;`, side(bins));
}

const TARGETS = [read('tscores'), read('tboxes'), read('weight'), read('twohot')];

/** See the header; `bins` is the head's reg_max. */
export function boxLossFwdKernel(bins: number): KernelSource {
  return kernel('boxloss.fwd', bins, [read('pred'), read('anchors'), ...TARGETS, write('parts')], `${HEAD}
${TBOX}
    var pb = vec4<f32>(0.0);
    var dfl = 0.0;
    for (var s = 0u; s < 4u; s++) {
      let st = side_(pc, s);
      pb[s] = st.z;
      // CE against the two-hot target: logsumexp − Σ_j x_j·t_j
      var xt = 0.0;
      for (var j = 0u; j < ${bins}u; j++) { xt += pred[pc + (s * ${bins}u + j) * p.A] * twohot[((bi * 4u + s) * ${bins}u + j) * p.A + ai]; }
      dfl += st.x + log(st.y) - xt;
    }
    let box = vec4<f32>(ax - pb.x, ay - pb.y, ax + pb.z, ay + pb.w);
    var bce = 0.0;
    for (var c = 0u; c < p.nc; c++) {
      let x = pred[pc + (${4 * bins}u + c) * p.A];
      let t = tscores[(bi * p.nc + c) * p.A + ai];
      bce += max(x, 0.0) - x * t + log(1.0 + exp(-abs(x)));
    }
    parts[q] = (1.0 - ciou(box, tbox)) * w;
    parts[p.n + q] = bce;
    parts[2u * p.n + q] = dfl * 0.25 * w;`, `${side(bins)}\n${CIOU_WGSL}`);
}

/** See the header; `bins` is the head's reg_max. */
export function boxLossBwdKernel(bins: number): KernelSource {
  return kernel('boxloss.bwd', bins, [read('pred'), read('anchors'), ...TARGETS, read('gsum'), write('gpred')], `${HEAD}
${TBOX}
    let gbox = gsum[0];
    let gcls = gsum[1];
    let gdfl = gsum[2] * 0.25 * w;
    var sides: array<vec3<f32>, 4>;
    for (var s = 0u; s < 4u; s++) { sides[s] = side_(pc, s); }
    let box = vec4<f32>(ax - sides[0].z, ay - sides[1].z, ax + sides[2].z, ay + sides[3].z);
    // d/d pbox of (1 − CIoU)·w, then d/d (expected bin of each side): pbox = (ax − d0, ay − d1, ax + d2, ay + d3)
    let gp = -gbox * w * ciou_grad_a(box, tbox);
    let gd = vec4<f32>(-gp.x, -gp.y, gp.z, gp.w);
    for (var s = 0u; s < 4u; s++) {
      let st = sides[s];
      for (var j = 0u; j < ${bins}u; j++) {
        let i = pc + (s * ${bins}u + j) * p.A;
        let pj = exp(pred[i] - st.x) / st.y;
        let t = twohot[((bi * 4u + s) * ${bins}u + j) * p.A + ai];
        gpred[i] = gdfl * (pj - t) + gd[s] * pj * (f32(j) - st.z);
      }
    }
    for (var c = 0u; c < p.nc; c++) {
      let i = pc + (${4 * bins}u + c) * p.A;
      let x = pred[i];
      gpred[i] = gcls * (1.0 / (1.0 + exp(-x)) - tscores[(bi * p.nc + c) * p.A + ai]);
    }`, `${side(bins)}\n${CIOU_GRAD_WGSL}`);
}

/** The official heads' reg_max. */
const OFFICIAL_BINS = 16;
export const variants: VariantList = () => [boxDecodeKernel(OFFICIAL_BINS), boxLossFwdKernel(OFFICIAL_BINS), boxLossBwdKernel(OFFICIAL_BINS)];
