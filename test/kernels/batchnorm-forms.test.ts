// The workgroup forms of the training-mode BatchNorm kernels (kernels/batchnorm.wgsl.ts): the 64-invocation tree
// (hardware adapters, SwiftShader) and one subgroup of 8 lanes with scalar or vec4 loads (lavapipe, where the op picks
// vec4 for planes of a multiple of 4 values), dispatched directly
// so each is checked on this device against a float64 reference: statistics, running stats, SiLU output, and the
// backward's parameter and input gradients. Shapes cover planes narrower than the lanes, a channel whose mean is
// 600 standard deviations from zero (where a naive one-pass variance loses digits), and channels whose first value
// is an outlier (the subgroup form's shift).
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { type Tensor, tensor } from '../../engine/tensor';
import { bnBackwardKernel, bnTrainKernel } from '../../kernels/batchnorm.wgsl';
import { closeness, randn, rng, testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

const EPS = 1e-3;
const MOMENTUM = 0.03;

interface Ref {
  mean: number[];
  varB: number[];
  rm: number[];
  rv: number[];
  y: number[];
  gw: number[];
  gb: number[];
  gx: number[];
}

/** Float64 BatchNorm + SiLU forward and backward for x [N, C, H, W], weight w, bias b, output gradient gy. */
function reference(x: number[], shape: number[], w: number[], b: number[], gy: number[]): Ref {
  const [N, C, H, W] = shape;
  const HW = H * W;
  const M = N * HW;
  const at = (n: number, c: number, h: number): number => (n * C + c) * HW + h;
  const r: Ref = { mean: [], varB: [], rm: [], rv: [], y: new Array(x.length), gw: [], gb: [], gx: new Array(x.length) };
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let h = 0; h < HW; h++) s += x[at(n, c, h)];
    const mu = s / M;
    let q = 0;
    for (let n = 0; n < N; n++) for (let h = 0; h < HW; h++) q += (x[at(n, c, h)] - mu) ** 2;
    const v = q / M;
    const inv = 1 / Math.sqrt(v + EPS);
    r.mean.push(mu);
    r.varB.push(v);
    r.rm.push(MOMENTUM * mu);
    r.rv.push(1 - MOMENTUM + (MOMENTUM * q) / (M - 1));
    let gb = 0;
    let gw = 0;
    const g: number[] = [];
    for (let n = 0; n < N; n++) {
      for (let h = 0; h < HW; h++) {
        const i = at(n, c, h);
        const xh = (x[i] - mu) * inv;
        const z = xh * w[c] + b[c];
        const sg = 1 / (1 + Math.exp(-z));
        r.y[i] = z * sg;
        const gz = gy[i] * sg * (1 + z * (1 - sg));
        g.push(gz);
        gb += gz;
        gw += gz * xh;
      }
    }
    r.gb.push(gb);
    r.gw.push(gw);
    let k = 0;
    for (let n = 0; n < N; n++) {
      for (let h = 0; h < HW; h++) {
        const i = at(n, c, h);
        r.gx[i] = w[c] * inv * (g[k++] - gb / M - (x[i] - mu) * inv * (gw / M));
      }
    }
  }
  return r;
}

const CASES: { name: string; shape: number[]; offset?: number[]; corner?: number; sigma?: number }[] = [
  { name: '[4, 6, 5, 7]', shape: [4, 6, 5, 7] },
  { name: 'planes of 3 values, 5 images (fewer values per plane than lanes)', shape: [5, 3, 1, 3] },
  { name: 'a channel 600σ from zero, 12,800 values', shape: [8, 2, 40, 40], offset: [300, -120] },
  { name: 'an outlier 200σ away as the first of 12,800 values', shape: [8, 2, 40, 40], corner: 2.2, sigma: 0.01 },
  { name: 'planes of 12 values, 3 images', shape: [3, 4, 2, 6] },
];

const FORMS: { name: string; form: { lanes?: number; vec4?: boolean } }[] = [
  { name: 'tree of 64', form: {} },
  { name: 'one subgroup of 8 lanes', form: { lanes: 8 } },
  { name: 'one subgroup of 8 lanes, vec4 loads', form: { lanes: 8, vec4: true } },
];

for (const { name, form } of FORMS) {
  // the vec4 form needs planes of a multiple of 4 values
  for (const c of CASES.filter((k) => !form.vec4 || (k.shape[2] * k.shape[3]) % 4 === 0)) {
    test(`${name}: ${c.name}`, async (ctx) => {
      if (form.lanes && !dev.features.subgroups) ctx.skip();
      const r = rng(3);
      const [N, C, H, W] = c.shape;
      const n = N * C * H * W;
      const x = randn(r, n).map((v, i) => (c.sigma ?? 0.5) * v + (c.offset?.[Math.floor(i / (H * W)) % C] ?? 0.2));
      if (c.corner !== undefined) for (let ch = 0; ch < C; ch++) x[ch * H * W] = c.corner;
      const w = randn(r, C).map((v) => 1 + 0.3 * v);
      const b = randn(r, C).map((v) => 0.2 * v);
      const gy = randn(r, n);
      const want = reference(x, c.shape, w, b, gy);
      const t = (v: number[] | Float32Array, shape: number[]): Tensor => tensor(dev, Float32Array.from(v), shape);
      const [xt, wt, bt, gyt] = [t(x, c.shape), t(w, [C]), t(b, [C]), t(gy, c.shape)];
      const [mean, var_, rm, rv, gw, gb] = [0, 0, 0, 1, 0, 0].map((v) => t(new Array(C).fill(v), [C]));
      const [y, gx] = [t(new Float32Array(n), c.shape), t(new Float32Array(n), c.shape)];
      const buf = (u: Tensor): Tensor['storage']['buf'] => u.storage.buf;
      const params = { n, C, HW: H * W, M: N * H * W, xoff: 0, eps: EPS, momentum: MOMENTUM, gyoff: 0, gybs: C * H * W, g2off: 0, g2bs: 0, roff: 0 };
      dev.dispatch(bnTrainKernel({ update: true, act: 'silu', ...form }), { x: buf(xt), mean: buf(mean), var_: buf(var_), rm: buf(rm), rv: buf(rv), wt: buf(wt), bs: buf(bt), y: buf(y) }, params, [C, 1, 1]);
      dev.dispatch(
        bnBackwardKernel({ training: true, act: 'silu', input: true, ...form }),
        { gy: buf(gyt), x: buf(xt), mean: buf(mean), var_: buf(var_), wt: buf(wt), bs: buf(bt), gw: buf(gw), gb: buf(gb), gx: buf(gx) },
        params,
        [C, 1, 1],
      );
      const got: [string, Tensor, number[], number][] = [
        ['mean', mean, want.mean, 1e-4],
        ['biased variance', var_, want.varB, 1e-4],
        ['running mean', rm, want.rm, 1e-5],
        ['running variance', rv, want.rv, 1e-5],
        ['output', y, want.y, 1e-4],
        ['weight gradient', gw, want.gw, 2e-3],
        ['bias gradient', gb, want.gb, 2e-3],
        ['input gradient', gx, want.gx, 1e-4],
      ];
      for (const [name, g, ref, tol] of got) {
        const cl = closeness(await g.data(), Float64Array.from(ref), tol, tol);
        expect(cl.ok, `${name}: ${cl.worst}`).toBe(true);
      }
      [xt, wt, bt, gyt, mean, var_, rm, rv, gw, gb, y, gx].forEach((u) => u.dispose());
    });
  }
}
