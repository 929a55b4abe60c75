// conv2d, checked in one place: PyTorch fixtures (test/fixtures/gen/ops.py), the float64 CPU reference on random
// shapes (every path the plan picks, the fused epilogue, non-contiguous operands), finite-difference gradients
// (every geometry and the input-gradient phases), every forward tiling and weight-gradient schedule the planner or
// the tile search can pick, a metamorphic case (a batch equals its images convolved one by one) and memory
// (repeated forward + backward leaves nothing behind). The f16 and subgroup-matrix paths: test/kernels/conv-f16.test.ts
// and test/subgroup-matrix/conv.test.ts.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { type Tensor, tensor, tidy } from '../../engine/tensor';
import * as ops from '../../engine/ops';
import { slice } from '../../engine/ops';
import { type Conv2dOptions, type FwdTune, type WgradTune, convForwardTuned, convGeometry, convWgrad } from '../../engine/ops/conv2d';
import { closeness, loadFixture, randn, rng, testDevice } from '../helpers';
import * as ref from '../reference/ops';
import type { NdArray } from '../reference/ops';
import { type Rand, normal, toGpu } from '../reference/data';
import { TOL, runOpCase } from '../shared/op-cases';
import { type GradCase, type Pair, expectClose as check, gradCases } from './checks';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

const worst = new Map<string, number>();
const gradWorst = new Map<string, number>();
afterAll(() => {
  console.log(`conv2d max abs error: vs PyTorch / float64 ${[...worst].map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}; gradients vs finite differences ${[...gradWorst].map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ')}`);
});

// ---- PyTorch fixtures ------------------------------------------------------------------------------------------

describe('PyTorch fixtures', () => {
  const fx = loadFixture('ops/conv2d.json');
  for (const c of fx.cases) {
    test(c.name, async () => {
      const [atol, rtol] = TOL['conv2d.json'];
      await runOpCase(dev, c, atol, rtol, expect, worst);
    });
  }
});

// ---- float64 CPU reference -------------------------------------------------------------------------------------

const CONV = [1e-4, 1e-5] as const; // up to 64·9 = 576 products per output
const up = (a: NdArray): Tensor => toGpu(dev, a);
const expectClose = (op: string, tol: readonly [number, number], build: (r: Rand) => Pair[], seed = 1): Promise<void> => check(dev, worst, op, tol, build, seed);

interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  bias?: boolean;
  o: ref.ConvOptions;
}

describe('float64 CPU reference on random shapes', () => {
  const cases: ConvCase[] = [
    { name: '1x1', x: [2, 16, 9, 7], w: [8, 16, 1, 1], bias: true, o: {} },
    { name: '3x3 s1 p1', x: [2, 8, 11, 9], w: [12, 8, 3, 3], bias: true, o: { padding: [1, 1] } },
    { name: '3x3 s2 p1', x: [2, 8, 13, 11], w: [16, 8, 3, 3], o: { stride: [2, 2], padding: [1, 1] } },
    { name: 'groups 4 (2 outputs per group)', x: [2, 16, 10, 9], w: [8, 4, 3, 3], bias: true, o: { padding: [1, 1], groups: 4 } },
    { name: 'groups 4 (4 outputs per group)', x: [2, 8, 10, 9], w: [16, 2, 3, 3], o: { padding: [1, 1], groups: 4 } },
    { name: '5x5 p2', x: [1, 6, 12, 10], w: [8, 6, 5, 5], bias: true, o: { padding: [2, 2] } },
    { name: 'depthwise 3x3 s2', x: [2, 12, 9, 11], w: [12, 1, 3, 3], bias: true, o: { stride: [2, 2], padding: [1, 1], groups: 12 } },
    { name: 'dilation 2', x: [2, 4, 15, 13], w: [8, 4, 3, 3], o: { padding: [2, 2], dilation: [2, 2] } },
    { name: 'asymmetric 3x5, stride (2,1), padding (0,2), dilation (1,2)', x: [2, 3, 12, 14], w: [5, 3, 3, 5], bias: true, o: { stride: [2, 1], padding: [0, 2], dilation: [1, 2] } },
    { name: '64 -> 64 channels on 20x20', x: [1, 64, 20, 20], w: [64, 64, 3, 3], bias: true, o: { padding: [1, 1] } },
    { name: '32 -> 64 channels on odd 13x11, batch 2', x: [2, 32, 13, 11], w: [64, 32, 3, 3], bias: true, o: { padding: [1, 1] } },
    { name: 'odd output channels (7), no padding', x: [3, 5, 8, 6], w: [7, 5, 3, 3], o: {} },
    // widths of a multiple of 4: the window kernel loads the input as aligned vec4s
    { name: '3x3 s1 p1, 16 wide (vec4 window loads)', x: [2, 8, 10, 16], w: [16, 8, 3, 3], bias: true, o: { padding: [1, 1] } },
    { name: '3x3 s2 p1, 16 wide (vec4 window loads)', x: [2, 8, 9, 16], w: [8, 8, 3, 3], o: { stride: [2, 2], padding: [1, 1] } },
    { name: '5x5 p2, 12 wide (vec4 window loads)', x: [1, 6, 7, 12], w: [8, 6, 5, 5], bias: true, o: { padding: [2, 2] } },
    { name: '3x3 no padding, 8 wide (vec4 window loads)', x: [2, 4, 6, 8], w: [4, 4, 3, 3], o: {} },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      await expectClose('conv2d', CONV, (r) => {
        const x = normal(r, c.x);
        const w = ref.scale(normal(r, c.w), 0.2);
        const b = c.bias ? normal(r, [c.w[0]]) : null;
        return [[ops.conv2d(up(x), up(w), b ? up(b) : null, c.o), ref.conv2d(x, w, b, c.o)]];
      });
    });
  }

  test('fused SiLU epilogue equals silu(conv)', async () => {
    await expectClose('conv2d', CONV, (r) => {
      const x = normal(r, [2, 8, 9, 7]);
      const w = ref.scale(normal(r, [8, 8, 3, 3]), 0.2);
      const b = normal(r, [8]);
      const o = { padding: [1, 1] as [number, number] };
      return [[ops.conv2d(up(x), up(w), up(b), { ...o, activation: 'silu' }), ref.unary('silu', ref.conv2d(x, w, b, o)), 'conv2d(silu)']];
    });
  });

  test('non-contiguous input (NHWC permuted to NCHW), an offset batch slice, a channel slice, a permuted weight', async () => {
    await expectClose('conv2d', CONV, (r) => {
      const nhwc = normal(r, [2, 9, 7, 8]);
      const w = ref.scale(normal(r, [8, 8, 3, 3]), 0.2);
      const o = { padding: [1, 1] as [number, number], stride: [2, 2] as [number, number] };
      const xs = normal(r, [3, 8, 9, 7]);
      const hwio = normal(r, [3, 3, 8, 8]);
      const x16 = normal(r, [2, 12, 10, 16]);
      const oihw = (t: Tensor): Tensor => ops.permute(t, [3, 2, 0, 1]);
      return [
        [ops.conv2d(up(xs), oihw(up(hwio)), null, o), ref.conv2d(xs, ref.permute(hwio, [3, 2, 0, 1]), null, o)],
        [ops.conv2d(ops.permute(up(nhwc), [0, 3, 1, 2]), up(w), null, o), ref.conv2d(ref.permute(nhwc, [0, 3, 1, 2]), w, null, o)],
        [ops.conv2d(ops.slice(up(xs), 0, 1, 3), up(w), null, o), ref.conv2d(ref.slice(xs, 0, 1, 3), w, null, o)],
        // a channel slice of a 16-wide map: vec4 window loads from an offset of 4·10·16 values
        [ops.conv2d(ops.slice(up(x16), 1, 4, 12), up(w), null, o), ref.conv2d(ref.slice(x16, 1, 4, 12), w, null, o)],
      ];
    });
  });
});

// ---- finite-difference gradients ------------------------------------------------------------------------------

gradCases(() => dev, gradWorst, 'finite-difference gradients', (r) => {
  const conv = (x: number[], w: number[], bias: boolean, o: ref.ConvOptions): GradCase => ({
    op: 'conv2d',
    inputs: [normal(r, x), ref.scale(normal(r, w), 0.3), ...(bias ? [normal(r, [w[0]])] : [])],
    gpu: ([xt, wt, bt]) => ops.conv2d(xt, wt, bt ?? null, o),
    cpu: ([xa, wa, ba]) => ref.conv2d(xa, wa, ba ?? null, o),
  });
  return [
    conv([2, 8, 7, 6], [8, 4, 3, 3], true, { stride: [2, 2], padding: [1, 1], groups: 2 }), // 4-wide tiles, wgrad splits
    conv([1, 6, 9, 8], [9, 2, 3, 3], true, { padding: [2, 2], dilation: [2, 2], groups: 3 }), // scalar tiles
    conv([2, 4, 6, 5], [4, 1, 3, 3], false, { stride: [2, 1], padding: [1, 0], groups: 4 }), // depthwise
    conv([2, 5, 4, 3], [6, 5, 1, 1], false, {}), // 1x1
    conv([1, 3, 7, 7], [4, 3, 5, 5], true, { padding: [2, 2] }), // 5x5
    conv([2, 3, 8, 7], [4, 3, 3, 3], true, { stride: [2, 2], padding: [1, 1], dilation: [2, 1] }),
    // input-gradient phases: stride 3 (three tap sets per axis), a kernel smaller than the stride (pixels no tap
    // reaches), a 4×4 kernel at stride 2, no padding at odd sizes, and padding past the kernel (negative phase padding)
    conv([1, 4, 8, 7], [4, 4, 3, 3], false, { stride: [3, 3], padding: [1, 1] }),
    conv([2, 3, 5, 6], [4, 3, 1, 1], false, { stride: [2, 2] }),
    conv([1, 4, 9, 8], [8, 4, 4, 4], false, { stride: [2, 2], padding: [1, 1] }),
    // 8-wide maps: vec4 window loads in the forward and in the input gradient's phases (gy 8 and 4 wide)
    conv([2, 4, 5, 8], [4, 4, 3, 3], true, { padding: [1, 1] }),
    conv([1, 4, 6, 16], [4, 4, 3, 3], false, { stride: [2, 2], padding: [1, 1] }),
    conv([1, 4, 9, 7], [4, 4, 3, 3], false, { stride: [2, 2] }),
    conv([1, 3, 4, 5], [4, 3, 1, 1], false, { padding: [1, 1] }),
    {
      op: 'conv2d',
      inputs: [normal(r, [2, 5, 6, 4]), ref.scale(normal(r, [4, 4, 3, 3]), 0.3)],
      gpu: ([x, w]) => ops.conv2d(ops.permute(x, [0, 3, 1, 2]), w, null, { padding: [1, 1] }), // NHWC view as input
      cpu: ([x, w]) => ref.conv2d(ref.permute(x, [0, 3, 1, 2]), w, null, { padding: [1, 1] }),
    },
  ];
});

gradCases(() => dev, gradWorst, 'finite-difference gradients, sampled coordinates of larger convs', (r) => [
  {
    op: 'conv2d',
    inputs: [normal(r, [2, 16, 13, 11]), ref.scale(normal(r, [16, 16, 3, 3]), 0.1), normal(r, [16])],
    sample: 16,
    gpu: ([x, w, b]) => ops.conv2d(x, w, b, { padding: [1, 1] }),
    cpu: ([x, w, b]) => ref.conv2d(x, w, b, { padding: [1, 1] }),
  },
  {
    op: 'conv2d',
    inputs: [normal(r, [1, 64, 20, 20]), ref.scale(normal(r, [64, 64, 3, 3]), 0.05)],
    sample: 6,
    gpu: ([x, w]) => ops.conv2d(x, w, null, { padding: [1, 1], stride: [2, 2] }),
    cpu: ([x, w]) => ref.conv2d(x, w, null, { padding: [1, 1], stride: [2, 2] }),
  },
]);

// ---- every forward tiling --------------------------------------------------------------------------------------

const pair = (v: number | undefined, d: number): [number, number] => [v ?? d, v ?? d];

interface TilingCase {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  o: { stride?: number; padding?: number; groups?: number };
}
const TILING_CASES: TilingCase[] = [
  { name: '3x3 p1, width 13 (no tile width divides it)', x: [2, 8, 5, 13], w: [16, 8, 3, 3], o: { padding: 1 } },
  { name: '3x3 s2 p1, odd width', x: [1, 8, 9, 19], w: [8, 8, 3, 3], o: { stride: 2, padding: 1 } },
  { name: '3x3 groups 2', x: [1, 8, 6, 10], w: [8, 4, 3, 3], o: { padding: 1, groups: 2 } },
  { name: '3x3 p1, 32 outputs in 2 groups of 16', x: [2, 8, 7, 9], w: [32, 4, 3, 3], o: { padding: 1, groups: 2 } },
  { name: '1x1 (matmul path), 3 images, 37 pixels', x: [3, 24, 1, 37], w: [40, 24, 1, 1], o: {} },
  { name: '1x1 stride 2 (window path)', x: [1, 8, 7, 9], w: [16, 8, 1, 1], o: { stride: 2 } },
];
const FWD_TUNES: Record<string, FwdTune> = {
  'window 4 columns': { columns: 4 },
  'window 8 columns': { columns: 8 },
  'window 12 columns': { columns: 12 },
  'window 4 channels x 8 columns': { outChannels: 4, columns: 8 },
  'window 16 channels x 4 columns (two weight loads per tap)': { outChannels: 16, columns: 4 },
  'window 16 channels x 8 columns': { outChannels: 16, columns: 8 },
  'matmul 4x16': { mm: { TM: 4, TN: 16 } },
  'matmul 2x32': { mm: { TM: 2, TN: 32 } },
  'matmul 4x24': { mm: { TM: 4, TN: 24 } },
  'matmul 8x16, k unrolled by 2': { mm: { TM: 8, TN: 16, KU: 2 } },
  'matmul subgroup lanes 4': { mm: { SG: 4, TM: 4, TN: 16 } },
};

describe('every forward tiling matches the float64 reference', () => {
  for (const c of TILING_CASES) {
    test(c.name, async () => {
      const r = rng(11);
      const xa = ref.nd(c.x, randn(r, c.x.reduce((a, b) => a * b)));
      const wa = ref.nd(c.w, randn(r, c.w.reduce((a, b) => a * b)));
      const o: Conv2dOptions = c.o;
      const want = ref.conv2d(xa, wa, null, { stride: pair(c.o.stride, 1), padding: pair(c.o.padding, 0), groups: c.o.groups ?? 1 });
      const x = tensor(dev, Float32Array.from(xa.data), c.x);
      const w = tensor(dev, Float32Array.from(wa.data), c.w);
      const g = convGeometry(x, w, null, o);
      const failures: string[] = [];
      let ran = 0;
      for (const [name, tune] of Object.entries(FWD_TUNES)) {
        // the matmul tilings apply to dense 1×1 convs on devices with subgroups of ≥ their lane count
        if (tune.mm && (c.w[2] !== 1 || (c.o.stride ?? 1) !== 1 || dev.subgroupMinSize < (tune.mm.SG ?? 8))) continue;
        if (tune.outChannels && (c.w[0] / (c.o.groups ?? 1)) % tune.outChannels !== 0) continue;
        if (tune.outChannels === 16 && dev.subgroupMinSize < 8) continue; // needs 8-lane subgroups
        const y: Tensor = convForwardTuned(x, w, g, tune);
        const cl = closeness(await y.data(), want.data, 1e-4, 1e-5);
        y.dispose();
        ran++;
        if (!cl.ok) failures.push(`${name}: max abs err ${cl.maxAbs.toExponential(2)}; worst ${cl.worst}`);
      }
      x.dispose();
      w.dispose();
      expect(failures).toEqual([]);
      expect(ran).toBeGreaterThanOrEqual(4);
    });
  }
});

// ---- every weight-gradient schedule ----------------------------------------------------------------------------

interface WgradCase {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  o: Conv2dOptions;
  /** Also run the tilings that no device picks by default (compiling every variant for every case is slow). */
  extra?: boolean;
}

const WGRAD_CASES: WgradCase[] = [
  { name: '3x3 p1, width 13 (not a block multiple)', x: [2, 8, 7, 13], w: [16, 8, 3, 3], o: { padding: 1 }, extra: true },
  { name: '3x3 p1, width 5 (narrower than a block)', x: [1, 4, 6, 5], w: [8, 4, 3, 3], o: { padding: 1 } },
  { name: '3x3 s2 p1, odd width', x: [2, 8, 11, 21], w: [8, 8, 3, 3], o: { stride: 2, padding: 1 } },
  { name: '3x3 s2 p1 groups 2', x: [2, 8, 9, 17], w: [8, 4, 3, 3], o: { stride: 2, padding: 1, groups: 2 }, extra: true },
  { name: '3x3 groups 4, 4 outputs per group', x: [1, 16, 10, 19], w: [16, 4, 3, 3], o: { padding: 1, groups: 4 } },
  { name: 'depthwise 3x3 s2', x: [2, 6, 9, 11], w: [6, 1, 3, 3], o: { stride: 2, padding: 1, groups: 6 } },
  { name: '3x3 dilation 2 p2', x: [1, 4, 12, 17], w: [8, 4, 3, 3], o: { padding: 2, dilation: 2 } },
  { name: '3x5 stride (2,1) padding (0,2) dilation (1,2)', x: [2, 3, 12, 14], w: [5, 3, 3, 5], o: { stride: [2, 1], padding: [0, 2], dilation: [1, 2] }, extra: true },
  { name: '5x5 p2, 3 input channels, 7 outputs', x: [1, 3, 9, 10], w: [7, 3, 5, 5], o: { padding: 2 } },
  { name: '3x3 no padding', x: [3, 5, 8, 12], w: [6, 5, 3, 3], o: {} },
  { name: '3x3 padding 3 (taps entirely in the padding)', x: [1, 4, 4, 5], w: [4, 4, 3, 3], o: { padding: 3 } },
  { name: '1x1 (one row per image)', x: [2, 16, 5, 7], w: [12, 16, 1, 1], o: {}, extra: true },
  { name: '1x1 groups 4', x: [2, 16, 3, 9], w: [8, 4, 1, 1], o: { groups: 4 } },
  { name: '1x1 stride 2', x: [2, 8, 7, 9], w: [8, 8, 1, 1], o: { stride: 2 } },
  { name: '1x1 padding 1', x: [1, 8, 4, 6], w: [4, 8, 1, 1], o: { padding: 1 } },
  { name: '3x3 72 outputs (two workgroups of output channels)', x: [1, 8, 6, 10], w: [72, 8, 3, 3], o: { padding: 1 } },
];

// what lavapipe (subgroups of 8), SwiftShader (4) and a device without subgroups get
const WGRAD_TUNES: Record<string, WgradTune> = {
  planned: {},
  'no subgroups': { lanes: 1 },
  'subgroup lanes 4': { lanes: 4 },
  // what a device with compactKernels (SwiftShader) plans: one kernel row, blocks of SG, 4 input channels
  'compact, subgroup lanes 4': { lanes: 4, kernelRows: 1, blockColumns: 4, inChannels: 4 },
  // dense 1×1 cases run on the subgroup matmul (the others ignore it)
  'subgroup matmul 4x16': { mm: { TM: 4, TN: 16 } },
  'subgroup matmul 2x32': { mm: { TM: 2, TN: 32 } },
};
const WGRAD_EXTRA_TUNES: Record<string, WgradTune> = {
  'no subgroups, 2 outputs x 2 channels per invocation, blocks of 8': { lanes: 1, outChannels: 2, inChannels: 2, blockColumns: 8 },
  'one kernel row per invocation, blocks of 16': { kernelRows: 1, blockColumns: 16 },
  'splits of a few blocks (mid-row starts)': { target: 4096, inChannels: 1 },
};

/** gw[o, c, kh, kw] = Σ gy[n, o, oy, ox] · x[n, g·cpg + c, oy·sh + kh·dh − ph, ox·sw + kw·dw − pw] in float64. */
function wgradReference(x: Float32Array, gy: Float32Array, c: WgradCase, OH: number, OW: number): Float64Array {
  const [N, C, H, W] = c.x;
  const [O, cpg, KH, KW] = c.w;
  const pair = (v: number | readonly [number, number] | undefined, d: number): [number, number] =>
    v === undefined ? [d, d] : typeof v === 'number' ? [v, v] : [v[0], v[1]];
  const [sh, sw] = pair(c.o.stride, 1);
  const [ph, pw] = pair(c.o.padding, 0);
  const [dh, dw] = pair(c.o.dilation, 1);
  const opg = O / (c.o.groups ?? 1);
  const out = new Float64Array(O * cpg * KH * KW);
  for (let o = 0; o < O; o++) {
    const cb = Math.floor(o / opg) * cpg;
    for (let ci = 0; ci < cpg; ci++) {
      for (let kh = 0; kh < KH; kh++) {
        for (let kw = 0; kw < KW; kw++) {
          let s = 0;
          for (let n = 0; n < N; n++) {
            for (let oy = 0; oy < OH; oy++) {
              const iy = oy * sh + kh * dh - ph;
              if (iy < 0 || iy >= H) continue;
              for (let ox = 0; ox < OW; ox++) {
                const ix = ox * sw + kw * dw - pw;
                if (ix < 0 || ix >= W) continue;
                s += gy[((n * O + o) * OH + oy) * OW + ox] * x[((n * C + cb + ci) * H + iy) * W + ix];
              }
            }
          }
          out[((o * cpg + ci) * KH + kh) * KW + kw] = s;
        }
      }
    }
  }
  return out;
}

describe('every weight-gradient schedule matches a float64 sum', () => {
  for (const c of WGRAD_CASES) {
    test(c.name, async () => {
      const r = rng(7);
      const [N, C, H, W] = c.x;
      // x is a batch and channel slice of a larger tensor (as a chunk of a Conv's output is): the kernel sees an
      // input offset and a batch stride of (C + 1)·H·W
      const xs = Float32Array.from(randn(r, (N + 1) * (C + 1) * H * W));
      const big = tensor(dev, xs, [N + 1, C + 1, H, W]);
      const batch = slice(big, 0, 1, N + 1);
      const x = slice(batch, 1, 1, C + 1);
      batch.dispose();
      const plane = H * W;
      const xDense = new Float32Array(N * C * plane);
      for (let n = 0; n < N; n++) xDense.set(xs.subarray(((n + 1) * (C + 1) + 1) * plane, ((n + 1) * (C + 1) + 1 + C) * plane), n * C * plane);
      const w = tensor(dev, new Float32Array(c.w.reduce((a, b) => a * b)), c.w);
      const g = convGeometry(x, w, null, c.o);
      const gyData = Float32Array.from(randn(r, N * g.O * g.OH * g.OW));
      const gy = tensor(dev, gyData, [N, g.O, g.OH, g.OW]);
      const want = wgradReference(xDense, gyData, c, g.OH, g.OW);
      const failures: string[] = [];
      for (const [name, tune] of Object.entries(c.extra ? { ...WGRAD_TUNES, ...WGRAD_EXTRA_TUNES } : WGRAD_TUNES)) {
        if (tune.lanes && tune.lanes > 1 && !(dev.features.subgroups && dev.subgroupMinSize >= tune.lanes)) continue;
        const gw: Tensor = convWgrad(gy, x, g, tune);
        expect(gw.shape).toEqual(c.w);
        const cl = closeness(await gw.data(), want, 1e-4, 1e-5);
        gw.dispose();
        if (!cl.ok) failures.push(`${name}: max abs err ${cl.maxAbs.toExponential(2)}; worst ${cl.worst}`);
      }
      for (const t of [gy, w, x, big]) t.dispose();
      expect(failures).toEqual([]);
    });
  }
});

// ---- metamorphic: a batch is its images ------------------------------------------------------------------------

test('a batch convolved at once equals its images convolved one by one (forward and both gradients)', async () => {
  const r = rng(21);
  const o: Conv2dOptions = { stride: 2, padding: 1 };
  const xs = Float32Array.from(randn(r, 3 * 8 * 11 * 13));
  const ws = Float32Array.from(randn(r, 16 * 8 * 9)).map((v) => 0.2 * v);
  const run = (images: number[]): Promise<Float32Array[]> => {
    const out = tidy(dev, () => {
      const x = tensor(dev, xs.subarray(images[0] * 8 * 143, (images[images.length - 1] + 1) * 8 * 143), [images.length, 8, 11, 13], { requiresGrad: true });
      const w = tensor(dev, ws, [16, 8, 3, 3], { requiresGrad: true });
      const y = ops.conv2d(x, w, null, o);
      ops.sum(ops.mul(y, y)).backward();
      return [y.data(), x.grad!.data(), w.grad!.data(), x, w];
    });
    const [y, gx, gw, x, w] = out as [Promise<Float32Array>, Promise<Float32Array>, Promise<Float32Array>, Tensor, Tensor];
    return Promise.all([y, gx, gw]).finally(() => [x, w].forEach((t) => t.dispose()));
  };
  const [y, gx, gw] = await run([0, 1, 2]);
  const parts = await Promise.all([[0], [1], [2]].map(run));
  const cat = (k: number): Float32Array => Float32Array.from(parts.flatMap((p) => [...p[k]]));
  expect(closeness(y, cat(0), 1e-6, 1e-6).ok, 'forward').toBe(true);
  expect(closeness(gx, cat(1), 1e-6, 1e-6).ok, 'input gradient').toBe(true);
  // the weight gradient sums over the batch: the batch's equals the sum of the images'
  const sumW = parts[0][2].map((v, i) => v + parts[1][2][i] + parts[2][2][i]);
  const c = closeness(gw, sumW, 1e-4, 1e-5);
  expect(c.ok, `weight gradient: ${c.worst}`).toBe(true);
});

// ---- memory ----------------------------------------------------------------------------------------------------

test('repeated forward + backward leaves no tensor and no live byte behind', async () => {
  const r = rng(3);
  const w = tensor(dev, Float32Array.from(randn(r, 16 * 8 * 9)), [16, 8, 3, 3], { requiresGrad: true });
  const b = tensor(dev, Float32Array.from(randn(r, 16)), [16], { requiresGrad: true });
  const step = (): void =>
    tidy(dev, () => {
      const x = tensor(dev, Float32Array.from(randn(r, 2 * 8 * 12 * 12)), [2, 8, 12, 12], { requiresGrad: true });
      ops.sum(ops.conv2d(x, w, b, { padding: 1, stride: 2 })).backward();
    });
  step();
  await dev.sync();
  const first = dev.memory();
  for (let i = 0; i < 5; i++) step();
  await dev.sync();
  const after = dev.memory();
  expect(after.liveTensors).toBe(first.liveTensors);
  expect(after.liveBytes).toBe(first.liveBytes);
  [w, b].forEach((t) => t.dispose());
});
