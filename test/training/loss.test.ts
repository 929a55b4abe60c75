// The detection loss against the official implementation (fixtures: test/fixtures/gen/yolov9_train.py, run
// against the official code): loss items and level-map gradients from the same predictions, the assigner's
// decisions, and — through the whole model from the official checkpoints — every parameter's gradient.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { type Tensor, tensor, tidy } from '../../engine/tensor';
import { readSafetensors } from '../../models/io/safetensors';
import { type HostTensor, toFloat32 } from '../../models/io/dtypes';
import { DetectionModel, loadStateDict, readWeightFile, seededRandom } from '../../models';
import type { ModelOutput } from '../../models/yolo';
import { detectionLoss } from '../../training/loss/detection-loss';
import { assign, packTargets } from '../../training/loss/assigner';
import { closeness, testDevice } from '../helpers';

const FX = (f: string): string => fileURLToPath(new URL(`../fixtures/yolov9/${f}`, import.meta.url));
const read = (f: string) => readSafetensors(new Uint8Array(readFileSync(FX(f))), f).tensors;

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

const up = (h: HostTensor, grad = false): Tensor => tensor(dev, toFloat32(h), [...h.shape], { requiresGrad: grad });
const relErr = (got: ArrayLike<number>, want: ArrayLike<number>): number => {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num = Math.max(num, Math.abs(got[i] - want[i]));
    den = Math.max(den, Math.abs(want[i]));
  }
  return num / Math.max(den, 1e-12);
};

for (const name of ['gelan-t', 'yolov9-t'] as const) {
  describe(`${name} loss vs official`, () => {
    const fx = read(`train/loss-${name}.safetensors`);
    const branches = name === 'yolov9-t' ? ['aux', 'main'] : ['main'];
    const levelKey = (b: string, l: number): string => `pred.${b}.p${l + 3}`;

    test('loss items and level-map gradients from the same predictions (1e-4 relative)', async () => {
      const targets = toFloat32(fx.get('targets')!);
      const reads: Promise<Float32Array>[] = [];
      const grads: [string, Promise<Float32Array>][] = [];
      tidy(dev, () => {
        const lv = branches.map((b) => [0, 1, 2].map((l) => up(fx.get(levelKey(b, l))!, true)));
        const out: ModelOutput = name === 'yolov9-t' ? { aux: { levels: lv[0], y: null }, main: { levels: lv[1], y: null } } : { aux: null, main: { levels: lv[0], y: null } };
        const { loss, items } = detectionLoss(out, targets, [8, 16, 32], 80);
        loss.backward();
        reads.push(loss.data(), items.data());
        branches.forEach((b, bi) => lv[bi].forEach((t, l) => grads.push([`grad.${levelKey(b, l)}`, t.grad!.data()])));
      });
      const [loss, items] = await Promise.all(reads);
      const wantLoss = toFloat32(fx.get('f64.loss')!)[0];
      const wantItems = toFloat32(fx.get('f64.loss_items')!);
      // float32 sums over B·A·nc terms against the float64 official result
      expect(Math.abs(loss[0] - wantLoss) / wantLoss, `loss ${loss[0]} vs ${wantLoss}`).toBeLessThan(1e-4);
      wantItems.forEach((w, i) => expect(Math.abs(items[i] - w) / w, `item ${i}: ${items[i]} vs ${w}`).toBeLessThan(1e-4));
      for (const [k, p] of grads) {
        const want = fx.get(k.replace('grad.pred.p', 'grad.pred.p'));
        expect(want, k).toBeDefined();
        expect(relErr(await p, toFloat32(want!)), k).toBeLessThan(1e-4);
      }
      console.log(`${name}: loss ${loss[0].toFixed(5)} (official f64 ${wantLoss.toFixed(5)}), items ${Array.from(items).map((v) => v.toFixed(5)).join(' ')}`);
    });

    test('assigner decisions: foreground, assigned gt and target scores', async () => {
      const targets = toFloat32(fx.get('targets')!);
      const anchors = toFloat32(fx.get('assign.anchor_points')!);
      const stride = toFloat32(fx.get('assign.stride_tensor')!);
      const A = stride.length;
      const anchorsCf = new Float32Array(2 * A);
      for (let a = 0; a < A; a++) {
        anchorsCf[a] = anchors[2 * a];
        anchorsCf[A + a] = anchors[2 * a + 1];
      }
      for (const b of branches) {
        const res = tidy(dev, () => {
          const lv = [0, 1, 2].map((l) => up(fx.get(levelKey(b, l))!));
          const pred = (() => {
            const { concat, reshape } = opsFor();
            return concat(lv.map((t) => reshape(t, [2, 144, -1])), 2);
          })();
          // the official pd_bboxes (pixels, (B, A, 4)) → our (B, 4, A) grid units
          const pd = toFloat32(fx.get(`assign.${b}.pd_bboxes`)!);
          const pbox = new Float32Array(2 * 4 * A);
          for (let i = 0; i < 2; i++) for (let a = 0; a < A; a++) for (let k = 0; k < 4; k++) pbox[(i * 4 + k) * A + a] = pd[(i * A + a) * 4 + k] / stride[a];
          const gt = packTargets(dev, targets, 2, 320, 320);
          const t = assign(pred, tensor(dev, pbox, [2, 4, A]), tensor(dev, anchorsCf, [1, 2, A]), tensor(dev, stride, [1, 1, A]), gt, 80);
          return { fg: t.fg.data(), idx: t.gtIndex.data(), w: t.weight.data() };
        });
        const fg = await res.fg;
        const idx = await res.idx;
        const w = await res.w;
        const wantFg = toFloat32(fx.get(`assign.${b}.fg_mask`)!);
        const wantIdx = toFloat32(fx.get(`assign.${b}.target_gt_idx`)!);
        const wantScore = toFloat32(fx.get(`f64.assign.${b}.target_score`)!);
        expect(Array.from(fg)).toEqual(Array.from(wantFg));
        for (let i = 0; i < fg.length; i++) if (fg[i]) expect(idx[i], `anchor ${i}`).toBe(wantIdx[i]);
        const c = closeness(w, wantScore, 1e-6, 1e-4);
        expect(c.ok, `${b} target scores: ${c.worst}`).toBe(true);
      }
    });

    test('parameter gradients through the whole model from the official checkpoint (2e-3 relative)', async () => {
      const w = readWeightFile(new Uint8Array(readFileSync(FX(`${name}.pt`))), `${name}.pt`);
      const m = new DetectionModel(dev, w.config!, seededRandom(0));
      loadStateDict(m, w.tensors, `${name}.pt`);
      m.train();
      // images are stored as uint8; the network input is images / 255 (train.py)
      const im = fx.get('images')!;
      const images = tensor(dev, toFloat32(im).map((v) => v / 255), [...im.shape]);
      const out = tidy(dev, () => {
        const o = m.forward(images);
        const { loss, items } = detectionLoss(o, toFloat32(fx.get('targets')!), m.head.strides, m.nc);
        loss.backward();
        return { loss: loss.data(), items: items.data() };
      });
      const loss = (await out.loss)[0];
      const items = await out.items;
      const wantLoss = toFloat32(fx.get('f64model.loss')!)[0];
      const wantItems = toFloat32(fx.get('f64model.loss_items')!);
      // the float64 official model run; our forward is float32 through ~60 layers
      expect(Math.abs(loss - wantLoss) / wantLoss, `loss ${loss} vs ${wantLoss}`).toBeLessThan(1e-4);
      wantItems.forEach((w, i) => expect(Math.abs(items[i] - w) / w, `item ${i}: ${items[i]} vs ${w}`).toBeLessThan(1e-4));
      const params = new Map([...m.namedParameters()]);
      let worst = 0;
      let worstKey = '';
      let checked = 0;
      for (const [k, h] of fx) {
        if (!k.startsWith('f64model.gradstat.') || k.endsWith('__all__')) continue;
        const key = k.slice('f64model.gradstat.'.length);
        const p = params.get(key);
        expect(p, key).toBeDefined();
        const [norm] = toFloat32(h);
        const g = p!.grad ? await p!.grad.data() : new Float32Array(p!.size);
        const ours = Math.sqrt(g.reduce((s, v) => s + v * v, 0));
        const e = Math.abs(ours - norm) / Math.max(norm, 1e-8);
        if (norm > 1e-6 && e > worst) {
          worst = e;
          worstKey = key;
        }
        checked++;
      }
      for (const [k, h] of fx) {
        if (!k.startsWith('f64model.grad.param.')) continue;
        const key = k.slice('f64model.grad.param.'.length);
        const e = relErr(await params.get(key)!.grad!.data(), toFloat32(h));
        if (e > worst) {
          worst = e;
          worstKey = key;
        }
        checked++;
      }
      console.log(`${name}: ${checked} parameter gradients checked, worst relative error ${worst.toExponential(2)} (${worstKey})`);
      expect(checked).toBeGreaterThan(100);
      expect(worst, worstKey).toBeLessThan(2e-3);
      images.dispose();
      m.dispose();
    });
  });
}

function opsFor() {
  // local import keeps the test's top-level imports short
  return { concat: concatOp, reshape: reshapeOp };
}
import { concat as concatOp, reshape as reshapeOp } from '../../engine/ops';
