// The official hand-made assigner cases and CIoU pairs (test/fixtures/yolov9/train/assigner-cases.safetensors,
// made by running utils/tal/assigner.py and utils/metrics.bbox_iou): the CIoU three ways — the official float64
// value, training/loss/ciou.ts (op-composed with gradients for both boxes, and its kernels for the first box's) and
// the assigner kernel's WGSL ciou() — and the
// TaskAlignedAssigner's decisions on cases built to hit its edge rules (topk cuts, competing gts, a gt with no
// anchor centre inside, padding rows, no gts at all).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { tensor, tidy } from '../../engine/tensor';
import { runKernel, sum, transpose } from '../../engine/ops';
import { computeEntry, defineKernel, flatIndex, read, write } from '../../kernels/common';
import { CIOU_WGSL } from '../../kernels/ciou.wgsl';
import { readSafetensors } from '../../models/io/safetensors';
import { toFloat32 } from '../../models/io/dtypes';
import { ciou } from '../../training/loss/ciou';
import { assign } from '../../training/loss/assigner';
import { closeness, testDevice } from '../helpers';

const FILE = 'assigner-cases.safetensors';
const fx = readSafetensors(new Uint8Array(readFileSync(fileURLToPath(new URL(`../fixtures/yolov9/train/${FILE}`, import.meta.url)))), FILE).tensors;
const get = (k: string): Float32Array => {
  const t = fx.get(k);
  if (!t) throw new Error(`${FILE} has no tensor ${k}`);
  return toFloat32(t);
};
const shapeOf = (k: string): readonly number[] => fx.get(k)!.shape;

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

/** The assigner's WGSL ciou(a, b) over N box pairs, through the engine's custom-kernel entry point. */
const ciouProbe = defineKernel({
  name: 'test.ciou',
  key: 'test.ciou',
  workgroupSize: [64, 1, 1],
  bindings: [read('a'), read('b'), write('out')],
  params: [{ name: 'n', type: 'u32' }],
  body: () => `${CIOU_WGSL}
${computeEntry([64, 1, 1])} {
  let i = ${flatIndex(64)};
  if (i >= p.n) { return; }
  out[i] = ciou(vec4<f32>(a[4u * i], a[4u * i + 1u], a[4u * i + 2u], a[4u * i + 3u]), vec4<f32>(b[4u * i], b[4u * i + 1u], b[4u * i + 2u], b[4u * i + 3u]));
}`,
});

describe('CIoU: official bbox_iou, ciou.ts and the WGSL ciou() agree', () => {
  const b1 = get('ciou.box1');
  const b2 = get('ciou.box2');
  const n = b1.length / 4;
  const want = get('f64.ciou.ciou');

  test('the WGSL ciou() of the assigner kernel (float64 official, 1e-6 + 1e-5 relative)', async () => {
    const out = tidy(dev, () => {
      const o = tensor(dev, new Float32Array(n), [n]);
      runKernel(ciouProbe, { a: tensor(dev, b1, [n, 4]), b: tensor(dev, b2, [n, 4]), out: o }, { n }, { invocations: n });
      return o;
    });
    const got = await out.data();
    out.dispose();
    const c = closeness(got, want, 1e-6, 1e-5);
    console.log(`WGSL ciou vs official f64 over ${n} pairs: max abs ${c.maxAbs.toExponential(2)}`);
    expect(c.ok, c.worst).toBe(true);
  });

  test('ciou.ts: values and gradients of both boxes (float64 official, 1e-6 + 1e-5 / 1e-5 + 1e-4 relative)', async () => {
    const r = tidy(dev, () => {
      // (n, 4) rows → (1, 4, n) planes
      const a = tensor(dev, b1, [1, n, 4], { requiresGrad: true });
      const b = tensor(dev, b2, [1, n, 4], { requiresGrad: true });
      const v = ciou(transpose(a, 1, 2), transpose(b, 1, 2));
      sum(v).backward();
      return { v: v.data(), ga: a.grad!.data(), gb: b.grad!.data(), a, b };
    });
    const cv = closeness(await r.v, want, 1e-6, 1e-5);
    const ca = closeness(await r.ga, get('f64.ciou.grad_box1'), 1e-5, 1e-4);
    const cb = closeness(await r.gb, get('f64.ciou.grad_box2'), 1e-5, 1e-4);
    r.a.dispose();
    r.b.dispose();
    console.log(`ciou.ts vs official f64: value ${cv.maxAbs.toExponential(2)}, d/dbox1 ${ca.maxAbs.toExponential(2)}, d/dbox2 ${cb.maxAbs.toExponential(2)}`);
    expect(cv.ok, `value: ${cv.worst}`).toBe(true);
    expect(ca.ok, `d/dbox1: ${ca.worst}`).toBe(true);
    expect(cb.ok, `d/dbox2: ${cb.worst}`).toBe(true);
  });
});

test('ciou.ts as the loss runs it (one kernel each way, gradient of the first boxes): values and gradients (float64 official, 1e-6 + 1e-5 / 1e-5 + 1e-4 relative)', async () => {
  const b1 = get('ciou.box1');
  const b2 = get('ciou.box2');
  const n = b1.length / 4;
  const r = tidy(dev, () => {
    const a = tensor(dev, b1, [1, n, 4], { requiresGrad: true });
    const b = tensor(dev, b2, [1, n, 4]);
    const v = ciou(transpose(a, 1, 2), transpose(b, 1, 2));
    sum(v).backward();
    return { v: v.data(), ga: a.grad!.data(), a };
  });
  const cv = closeness(await r.v, get('f64.ciou.ciou'), 1e-6, 1e-5);
  const ca = closeness(await r.ga, get('f64.ciou.grad_box1'), 1e-5, 1e-4);
  r.a.dispose();
  console.log(`ciou kernels vs official f64: value ${cv.maxAbs.toExponential(2)}, d/dbox1 ${ca.maxAbs.toExponential(2)}`);
  expect(cv.ok, `value: ${cv.worst}`).toBe(true);
  expect(ca.ok, `d/dbox1: ${ca.worst}`).toBe(true);
});

describe('TaskAlignedAssigner hand cases', () => {
  const stride = get('stride_tensor');
  const anc = get('anc_points');
  const A = stride.length;
  const NC = 4;

  for (const name of ['case0', 'case1', 'case2']) {
    test(`${name}: foreground, assigned gt, target scores and boxes`, async () => {
      const [B, M] = shapeOf(`${name}.gt_bboxes`);
      const scores = get(`${name}.pd_scores`); // (B, A, nc) sigmoid scores
      const pd = get(`${name}.pd_bboxes`); // (B, A, 4) xyxy pixels
      // our inputs: (B, 64 + nc, A) logits (the 64 DFL channels unused by the assigner), (B, 4, A) grid-unit
      // boxes, (1, 2, A) grid-unit anchors, (B, M', 5) gt rows [cls, xyxy] with a mask (M' ≥ 1)
      const pred = new Float32Array(B * (64 + NC) * A);
      const pbox = new Float32Array(B * 4 * A);
      for (let i = 0; i < B; i++) {
        for (let a = 0; a < A; a++) {
          for (let c = 0; c < NC; c++) {
            const s = scores[(i * A + a) * NC + c];
            pred[(i * (64 + NC) + 64 + c) * A + a] = Math.log(s / (1 - s));
          }
          for (let k = 0; k < 4; k++) pbox[(i * 4 + k) * A + a] = pd[(i * A + a) * 4 + k] / stride[a];
        }
      }
      const anchors = new Float32Array(2 * A);
      for (let a = 0; a < A; a++) [anchors[a], anchors[A + a]] = [anc[2 * a] / stride[a], anc[2 * a + 1] / stride[a]];
      const Mp = Math.max(M, 1);
      const gtRows = new Float32Array(B * Mp * 5);
      const gtMask = new Float32Array(B * Mp);
      if (M > 0) {
        const gb = get(`${name}.gt_bboxes`);
        const gl = get(`${name}.gt_labels`);
        const gm = get(`${name}.mask_gt`);
        for (let i = 0; i < B * M; i++) {
          gtRows.set([gl[i], ...gb.subarray(4 * i, 4 * i + 4)], 5 * i);
          gtMask[i] = gm[i];
        }
      }
      const out = tidy(dev, () => {
        const gt = { boxes: tensor(dev, gtRows, [B, Mp, 5]), mask: tensor(dev, gtMask, [B, Mp]), maxPerImage: Mp };
        const t = assign(tensor(dev, pred, [B, 64 + NC, A]), tensor(dev, pbox, [B, 4, A]), tensor(dev, anchors, [1, 2, A]), tensor(dev, stride, [1, 1, A]), gt, NC);
        return { fg: t.fg.data(), idx: t.gtIndex.data(), scores: t.scores.data(), boxes: t.boxes.data(), keep: [t.fg, t.gtIndex, t.scores, t.boxes, t.weight, t.twohot] };
      });
      const [fg, idx, sc, bx] = await Promise.all([out.fg, out.idx, out.scores, out.boxes]);
      out.keep.forEach((t) => t.dispose());
      const wantFg = get(`${name}.fg_mask`);
      expect(Array.from(fg), 'foreground mask').toEqual(Array.from(wantFg));
      const wantScores = get(`${name}.target_scores`); // (B, A, nc)
      const wantBoxes = get(`${name}.target_bboxes`); // (B, A, 4) pixels
      const wantIdx = M > 0 ? get(`${name}.target_gt_idx`) : null;
      const ourScores = new Float32Array(B * A * NC);
      for (let i = 0; i < B; i++) for (let a = 0; a < A; a++) for (let c = 0; c < NC; c++) ourScores[(i * A + a) * NC + c] = sc[(i * NC + c) * A + a];
      const cs = closeness(ourScores, wantScores, 1e-6, 1e-4);
      expect(cs.ok, `target scores: ${cs.worst}`).toBe(true);
      let fgCount = 0;
      for (let i = 0; i < B; i++) {
        for (let a = 0; a < A; a++) {
          if (!fg[i * A + a]) continue;
          fgCount++;
          expect(idx[i * A + a], `image ${i} anchor ${a}: assigned gt`).toBe(wantIdx![i * A + a]);
          for (let k = 0; k < 4; k++) {
            const ours = bx[(i * 4 + k) * A + a] * stride[a];
            expect(Math.abs(ours - wantBoxes[(i * A + a) * 4 + k]), `image ${i} anchor ${a}: box coordinate ${k}`).toBeLessThan(1e-4);
          }
        }
      }
      console.log(`${name}: B=${B} M=${M}, ${fgCount} foreground anchors of ${B * A}, target scores max abs ${cs.maxAbs.toExponential(2)}`);
    });
  }
});
