// The f16 inference path per kernel: the window conv with f16 storage (f32 and f16 accumulation) against a
// float64 CPU reference on the same f16-rounded operands, and the data-movement/elementwise kernels of a fused
// model's forward in f16 against their f32 runs. Tolerances come from f16's unit roundoff u = 2^-11.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { type Tensor, noGrad, tensor, tidy } from '../../engine/tensor';
import { add, avgPool2d, cast, concat, conv2d, maxPool2d, silu, slice, upsampleNearest } from '../../engine/ops';
import { createDevice } from '../../engine/create-device';
import { createModel, fuseModel } from '../../models';
import type { DType } from '../../kernels/common';
import { randn, rng, testDevice } from '../helpers';

const U = 2 ** -11;

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

/** float64 conv (+ bias, SiLU) and, per output, Σ|w·x| (the scale of the accumulation's rounding error). */
function convRef(x: Float32Array, w: Float32Array, b: Float32Array, [N, C, H, W]: number[], [O, cpg, K]: number[], s: number, pad: number, groups: number) {
  const OH = Math.floor((H + 2 * pad - K) / s) + 1;
  const OW = Math.floor((W + 2 * pad - K) / s) + 1;
  const y = new Float64Array(N * O * OH * OW);
  const mag = new Float64Array(y.length);
  const opg = O / groups;
  for (let n = 0; n < N; n++)
    for (let o = 0; o < O; o++)
      for (let oy = 0; oy < OH; oy++)
        for (let ox = 0; ox < OW; ox++) {
          let acc = b[o];
          let m = Math.abs(b[o]);
          for (let ci = 0; ci < cpg; ci++) {
            const c = Math.floor(o / opg) * cpg + ci;
            for (let kh = 0; kh < K; kh++)
              for (let kw = 0; kw < K; kw++) {
                const iy = oy * s + kh - pad;
                const ix = ox * s + kw - pad;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                const p = w[((o * cpg + ci) * K + kh) * K + kw] * x[((n * C + c) * H + iy) * W + ix];
                acc += p;
                m += Math.abs(p);
              }
          }
          const i = ((n * O + o) * OH + oy) * OW + ox;
          y[i] = acc / (1 + Math.exp(-acc));
          mag[i] = m;
        }
  return { y, mag };
}

// [N, C, H, W, O, K, stride, groups]: GELAN's 3×3, strided 3×3, 1×1 and the head's grouped 3×3
const CASES = [
  [1, 16, 12, 12, 16, 3, 1, 1],
  [2, 8, 13, 11, 16, 3, 2, 1],
  [1, 32, 9, 9, 24, 1, 1, 1],
  [1, 16, 10, 10, 16, 3, 1, 4],
] as const;

for (const acc of ['f32', 'f16'] as const satisfies readonly DType[]) {
  test(`f16 conv+bias+SiLU, ${acc} accumulation, matches float64 within f16 rounding`, async () => {
    if (!dev.features.f16) return console.log('skipped: this adapter has no shader-f16');
    const r = rng(11);
    for (const [N, C, H, W, O, K, s, groups] of CASES) {
      const cpg = C / groups;
      const pad = (K - 1) / 2;
      const [xs, ws, bs, ys] = await Promise.all(noGrad(dev, () =>
        tidy(dev, () => {
          const x = tensor(dev, randn(r, N * C * H * W), [N, C, H, W], { dtype: 'f16' });
          const w = tensor(dev, randn(r, O * cpg * K * K).map((v) => v / Math.sqrt(cpg * K * K)), [O, cpg, K, K], { dtype: 'f16' });
          const b = tensor(dev, randn(r, O).map((v) => v * 0.1), [O], { dtype: 'f16' });
          const y = conv2d(x, w, b, { stride: s, padding: pad, groups, activation: 'silu', accumulate: acc });
          expect(y.dtype).toBe('f16');
          return [x.data(), w.data(), b.data(), y.data()];
        }),
      ));
      const ref = convRef(xs, ws, bs, [N, C, H, W], [O, cpg, K], s, pad, groups);
      // output rounding (WGSL may round f32→f16 to either neighbour: 2u·|y|) plus the accumulation: f32 sums add ~n·2^-24·Σ|wx|; f16 sums round each partial
      // sum to u, a random walk of n = cpg·K² steps bounded here by 2·√n·u·Σ|wx|
      const n = cpg * K * K;
      const accTol = acc === 'f32' ? 1e-6 : 2 * Math.sqrt(n) * U;
      let worst = 0;
      ref.y.forEach((v, i) => {
        const tol = 2 * U * Math.abs(v) + accTol * ref.mag[i] + 1e-7;
        const err = Math.abs(ys[i] - v);
        worst = Math.max(worst, err / tol);
        if (err > tol) expect.fail(`case ${[N, C, H, W, O, K, s, groups]} out ${i}: got ${ys[i]}, float64 ${v}, tolerance ${tol}`);
      });
      console.log(`conv f16/${acc} [${[N, C, H, W, O, K, s, groups]}]: worst error ${(worst * 100).toFixed(1)}% of tolerance`);
    }
  });
}

test('f16 pool, upsample, concat, slice copy and add match their f32 runs on the same values', async () => {
  if (!dev.features.f16) return console.log('skipped: this adapter has no shader-f16');
  const r = rng(5);
  const data = randn(r, 2 * 6 * 10 * 10);
  const run = (dtype: DType): Promise<Float32Array>[] =>
    noGrad(dev, () =>
      tidy(dev, () => {
        // both runs see the same f16-rounded values
        const x0 = cast(tensor(dev, data, [2, 6, 10, 10], { dtype: 'f16' }), dtype);
        const [a, b] = [slice(x0, 1, 0, 3), slice(x0, 1, 3, 6)];
        const outs: Tensor[] = [
          maxPool2d(x0, { kernel: 5, stride: 1, padding: 2 }),
          maxPool2d(x0, { kernel: 3, stride: 2, padding: 1 }),
          avgPool2d(x0, { kernel: 2, stride: 1, padding: 0 }),
          upsampleNearest(x0, { scale: 2 }),
          concat([b, a, x0], 1),
          add(a, b),
          silu(x0),
        ];
        outs.forEach((t) => expect(t.dtype).toBe(dtype));
        return outs.map((t) => t.data());
      }),
    );
  const h = await Promise.all(run('f16'));
  const f = await Promise.all(run('f32'));
  // max pool, upsample and concat move values: exact; avg pool, add and SiLU compute in f32 and round once (2u)
  const exact = [0, 1, 3, 4];
  h.forEach((got, k) => {
    got.forEach((v, i) => {
      const ref = f[k][i];
      const tol = exact.includes(k) ? 0 : 2 * U * Math.abs(ref) + 2 ** -24;
      if (Math.abs(v - ref) > tol) expect.fail(`output ${k} element ${i}: f16 ${v}, f32 ${ref}`);
    });
  });
});

test('f16 ops refuse to mix dtypes, naming the op; they record gradients (mixed-precision training)', () => {
  if (!dev.features.f16) return console.log('skipped: this adapter has no shader-f16');
  tidy(dev, () => {
    const x = tensor(dev, [1, 2, 3, 4], [1, 1, 2, 2], { dtype: 'f16', requiresGrad: true });
    const w = tensor(dev, [1], [1, 1, 1, 1], { dtype: 'f16' });
    const w32 = tensor(dev, [1], [1, 1, 1, 1]);
    expect(() => conv2d(x, w32)).toThrow(/conv2d.*mixes f16 and f32/);
    const y = conv2d(x, w);
    expect(y.dtype).toBe('f16');
    expect(y.requiresGrad).toBe(true);
    expect(add(x, x).requiresGrad).toBe(true);
  });
});

test('fuseModel to f16 on a device without shader-f16 is refused with the feature named, model untouched', async () => {
  const plain = await createDevice({ features: [] });
  try {
    expect(plain.features.f16).toBe(false);
    const m = createModel(plain, 'gelan-shapes', { seed: 0 });
    expect(() => fuseModel(m, { dtype: 'f16' })).toThrow(/shader-f16/);
    // nothing was folded: the model still runs in f32 and can be fused as before
    expect(fuseModel(m).foldedBn).toBeGreaterThan(0);
    expect(m.dtype).toBe('f32');
    m.dispose();
  } finally {
    plain.dispose();
  }
});
