// The conv2d weight-gradient schedules against a float64 CPU sum, on every path the planner can pick: with
// x loads shared across 8 or 4 subgroup lanes (lavapipe, SwiftShader) or without subgroups, several channel /
// kernel-row tilings, row splits that start mid-row, and geometries whose edges the column blocks must handle
// (widths that are not a multiple of the block, stride 2, dilation, over-padding, groups, 1×1 plane rows,
// input channel offsets, batch > 1).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { type Tensor, tensor } from '../../engine/tensor';
import { type Conv2dOptions, type WgradTune, convGeometry, convWgrad } from '../../engine/ops/conv2d';
import { slice } from '../../engine/ops';
import { closeness, randn, rng, testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

interface Case {
  name: string;
  x: [number, number, number, number];
  w: [number, number, number, number];
  o: Conv2dOptions;
  /** Also run the tilings that no device picks by default (compiling every variant for every case is slow). */
  extra?: boolean;
}

const CASES: Case[] = [
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
const TUNES: Record<string, WgradTune> = {
  planned: {},
  'no subgroups': { lanes: 1 },
  'subgroup lanes 4': { lanes: 4 },
  // what a device with compactKernels (SwiftShader) plans: one kernel row, blocks of SG, 4 input channels
  'compact, subgroup lanes 4': { lanes: 4, kernelRows: 1, blockColumns: 4, inChannels: 4 },
  // dense 1×1 cases run on the subgroup matmul (the others ignore it)
  'subgroup matmul 4x16': { mm: { TM: 4, TN: 16 } },
  'subgroup matmul 2x32': { mm: { TM: 2, TN: 32 } },
};
const EXTRA_TUNES: Record<string, WgradTune> = {
  'no subgroups, 2 outputs x 2 channels per invocation, blocks of 8': { lanes: 1, outChannels: 2, inChannels: 2, blockColumns: 8 },
  'one kernel row per invocation, blocks of 16': { kernelRows: 1, blockColumns: 16 },
  'splits of a few blocks (mid-row starts)': { target: 4096, inChannels: 1 },
};

/** gw[o, c, kh, kw] = Σ gy[n, o, oy, ox] · x[n, g·cpg + c, oy·sh + kh·dh − ph, ox·sw + kw·dw − pw] in float64. */
function reference(x: Float32Array, gy: Float32Array, c: Case, OH: number, OW: number): Float64Array {
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

describe('conv2d weight gradient', () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const r = rng(7);
      const [N, C, H, W] = c.x;
      // x is a batch slice of a larger tensor, so the kernel sees a nonzero input offset
      const xs = Float32Array.from(randn(r, (N + 1) * C * H * W));
      const big = tensor(dev, xs, [N + 1, C, H, W]);
      const x = slice(big, 0, 1, N + 1);
      const w = tensor(dev, new Float32Array(c.w.reduce((a, b) => a * b)), c.w);
      const g = convGeometry(x, w, null, c.o);
      const gyData = Float32Array.from(randn(r, N * g.O * g.OH * g.OW));
      const gy = tensor(dev, gyData, [N, g.O, g.OH, g.OW]);
      const want = reference(xs.subarray(C * H * W), gyData, c, g.OH, g.OW);
      const failures: string[] = [];
      for (const [name, tune] of Object.entries(c.extra ? { ...TUNES, ...EXTRA_TUNES } : TUNES)) {
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
