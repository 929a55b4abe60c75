// conv2d (NCHW input, PyTorch OIHW weight) with stride, padding, dilation, groups and optional bias.
// Forward, input gradient (dgrad) and weight gradient (wgrad) are dedicated kernels in kernels/conv2d/;
// the bias gradient is a sum of gy over N, H, W.
import { CONV_TW, CONV_WG } from '../../kernels/conv2d/params';
import { convDgradKernel } from '../../kernels/conv2d/dgrad.wgsl';
import { FLIP_WG, flipWeightKernel } from '../../kernels/conv2d/flip.wgsl';
import { WINDOW_TW, WINDOW_WG, convWindowKernel } from '../../kernels/conv2d/fwd-window.wgsl';
import type { Device } from '../device';
import { convWgradKernel } from '../../kernels/conv2d/wgrad.wgsl';
import { type ConvGeometry, convParams } from '../../kernels/conv2d/params';
import { record } from '../autograd';
import { OpError, fmtShape } from '../errors';
import { type Tensor, empty, view } from '../tensor';
import { zeros } from './creation';
import { pointwise } from './run';
import { checkFloat } from './run';
import type { DType } from '../../kernels/common';
import { copy, denseFromStart } from './layout';
import { sum } from './reduce';

export interface Conv2dOptions {
  readonly stride?: number | readonly [number, number];
  readonly padding?: number | readonly [number, number];
  readonly dilation?: number | readonly [number, number];
  readonly groups?: number;
  /** Fused epilogue for inference (forward only). */
  readonly activation?: 'none' | 'silu';
  /** f16 inputs (inference only): accumulate in f32 (default) or f16. */
  readonly accumulate?: DType;
}

const pair = (v: number | readonly [number, number] | undefined, dflt: number): [number, number] =>
  v === undefined ? [dflt, dflt] : typeof v === 'number' ? [v, v] : [v[0], v[1]];

/** Validate and compute the geometry; every error names conv2d and the shapes. */
export function convGeometry(x: Tensor, w: Tensor, b: Tensor | null, o: Conv2dOptions): ConvGeometry {
  const shapes = (): string => `input ${fmtShape(x.shape)}, weight ${fmtShape(w.shape)}${b ? `, bias ${fmtShape(b.shape)}` : ''}`;
  if (x.rank !== 4) throw new OpError('conv2d', `input must be 4-D NCHW, got ${shapes()}`);
  if (w.rank !== 4) throw new OpError('conv2d', `weight must be 4-D OIHW, got ${shapes()}`);
  const [N, C, H, W] = x.shape;
  const [O, cpg, KH, KW] = w.shape;
  const groups = o.groups ?? 1;
  const [sh, sw] = pair(o.stride, 1);
  const [ph, pw] = pair(o.padding, 0);
  const [dh, dw] = pair(o.dilation, 1);
  if (!Number.isInteger(groups) || groups < 1 || C % groups !== 0 || O % groups !== 0) {
    throw new OpError('conv2d', `groups=${groups} must divide input channels ${C} and output channels ${O} (${shapes()})`);
  }
  if (cpg !== C / groups) throw new OpError('conv2d', `weight expects ${cpg * groups} input channels for groups=${groups}, input has ${C} (${shapes()})`);
  if (b && (b.rank !== 1 || b.shape[0] !== O)) throw new OpError('conv2d', `bias must have shape [${O}] (${shapes()})`);
  if ([sh, sw, dh, dw].some((v) => !Number.isInteger(v) || v < 1) || [ph, pw].some((v) => !Number.isInteger(v) || v < 0)) {
    throw new OpError('conv2d', `invalid stride ${sh},${sw} / padding ${ph},${pw} / dilation ${dh},${dw}`);
  }
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  if (OH < 1 || OW < 1) throw new OpError('conv2d', `kernel ${KH}x${KW} (dilation ${dh}) is larger than the padded input (${shapes()})`);
  return { N, C, H, W, O, OH, OW, KH, KW, sh, sw, ph, pw, dh, dw, groups };
}

const release = (t: Tensor, orig: Tensor): void => {
  if (t !== orig) t.dispose();
};

export function conv2d(x: Tensor, w: Tensor, b: Tensor | null = null, o: Conv2dOptions = {}): Tensor {
  x.assertAlive('conv2d', 'input');
  w.assertAlive('conv2d', 'weight');
  b?.assertAlive('conv2d', 'bias');
  const dtype = checkFloat('conv2d', b ? [x, w, b] : [x, w]);
  const g = convGeometry(x, w, b, o);
  const dev = x.device;
  const y = empty(dev, [g.N, g.O, g.OH, g.OW], dtype, 'conv2d');
  // channel planes must be dense; the batch stride may be anything (a channel slice of a larger tensor)
  const planesDense = x.strides[3] === 1 && x.strides[2] === g.W && x.strides[1] === g.H * g.W;
  const xd = planesDense ? x : copy(x);
  const wd = denseFromStart(w);
  const bd = b ? denseFromStart(b) : null;
  const act = o.activation ?? 'none';
  convForward(dev, g, xd, wd, bd, y, act, dtype === 'f16' ? (o.accumulate ?? 'f32') : 'f32');
  release(xd, x);
  release(wd, w);
  if (bd && b) release(bd, b);
  if (act !== 'none') return y; // fused inference path: no gradient
  const inputs = b ? [x, w, b] : [x, w];
  return record(y, 'conv2d', inputs, [x, w], (gy, [xs, ws]) => [
    x.requiresGrad ? convDgrad(gy, ws, g) : null,
    w.requiresGrad ? convWgrad(gy, xs, g) : null,
    ...(b ? [b.requiresGrad ? sum(gy, [0, 2, 3]) : null] : []),
  ]);
}

/** The forward dispatch: the window kernel specialised on the kernel geometry, TO output channels per invocation. */
function convForward(dev: Device, g: ConvGeometry, x: Tensor, w: Tensor, b: Tensor | null, y: Tensor, act: 'none' | 'silu', acc: DType): void {
  const opg = g.O / g.groups;
  const to = ([8, 4, 2, 1] as const).find((t) => opg % t === 0)!;
  const subgroups = to > 1 && dev.subgroupMinSize >= to;
  const tilesX = Math.ceil(g.OW / WINDOW_TW);
  const tiles = g.N * g.OH * tilesX;
  const tilesPad = Math.ceil(tiles / WINDOW_WG) * WINDOW_WG;
  const octiles = g.O / to;
  dev.dispatch(
    convWindowKernel({ KH: g.KH, KW: g.KW, SH: g.sh, SW: g.sw, DH: g.dh, DW: g.dw, to, subgroups, bias: b !== null, act, ...(y.dtype === 'f16' ? { dtype: y.dtype, acc } : {}) }),
    [x.storage.buf, w.storage.buf, ...(b ? [b.storage.buf] : []), y.storage.buf],
    { N: g.N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, cpg: g.C / g.groups, opg, xoff: x.offset, xbs: g.N > 1 ? x.strides[0] : 0, tilesX, tiles, tilesPad, octiles, ph: g.ph, pw: g.pw },
    dev.grid1d(tilesPad * octiles, WINDOW_WG),
  );
}

function convDgrad(gy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const dev = gy.device;
  const ph = g.dh * (g.KH - 1) - g.ph;
  const pw = g.dw * (g.KW - 1) - g.pw;
  if (ph >= 0 && pw >= 0) {
    // The input gradient is a stride-1 forward conv of gy with the flipped, transposed weight; for stride > 1
    // gy is first spread onto a zero grid (stride apart, offset by the transposed padding), so the fast
    // forward kernel serves every case.
    const cpg = g.C / g.groups;
    const opg = g.O / g.groups;
    const wt = empty(dev, [g.C, opg, g.KH, g.KW], 'f32', 'conv2d.dgrad');
    const wd = denseFromStart(w);
    dev.dispatch(flipWeightKernel(), [wd.storage.buf, wt.storage.buf], { O: g.O, cpg, opg, KH: g.KH, KW: g.KW }, dev.grid1d(wt.size, FLIP_WG));
    release(wd, w);
    let gx: Tensor;
    if (g.sh === 1 && g.sw === 1) {
      gx = conv2d(gy, wt, null, { padding: [ph, pw], dilation: [g.dh, g.dw], groups: g.groups });
    } else {
      const Hp = g.H + g.dh * (g.KH - 1);
      const Wp = g.W + g.dw * (g.KW - 1);
      const spread = zeros(dev, [g.N, g.O, Hp, Wp]);
      const grid = view(spread, gy.shape, [g.O * Hp * Wp, Hp * Wp, g.sh * Wp, g.sw], ph * Wp + pw);
      pointwise({ op: 'conv2d.spread', expr: 'a0', inputs: [gy], shape: gy.shape, into: grid });
      grid.dispose();
      gx = conv2d(spread, wt, null, { dilation: [g.dh, g.dw], groups: g.groups });
      spread.dispose();
    }
    wt.dispose();
    return gx;
  }
  const gx = empty(dev, [g.N, g.C, g.H, g.W], 'f32', 'conv2d.dgrad');
  const gyd = denseFromStart(gy);
  const wd = denseFromStart(w);
  const tc = (g.C / g.groups) % 4 === 0 ? 4 : 1;
  const tiles = Math.ceil(g.W / CONV_TW);
  dev.dispatch(
    convDgradKernel({ tc }),
    [gyd.storage.buf, wd.storage.buf, gx.storage.buf],
    convParams(g, { xoff: 0, tiles }),
    dev.grid1d(g.N * (g.C / tc) * g.H * tiles, CONV_WG),
  );
  release(gyd, gy);
  release(wd, w);
  return gx;
}

/** Tuning knobs of the weight-gradient schedule (tests and benchmarks force paths with them). */
export interface WgradTune {
  /** Lanes sharing x loads by subgroupBroadcast; 1 = no subgroups (default: min(8, subgroupMinSize)). */
  readonly SG?: number;
  readonly TO?: number;
  readonly TC?: number;
  readonly R?: number;
  readonly B?: number;
  readonly WG?: number;
  /** Workgroups to aim for when choosing the row splits. */
  readonly target?: number;
}

/** Largest divisor of n that is at most cap. */
const divisorAtMost = (n: number, cap: number): number => {
  for (let d = Math.max(1, Math.min(n, Math.floor(cap))); d > 1; d--) if (n % d === 0) return d;
  return 1;
};

export function convWgrad(gy: Tensor, x: Tensor, g0: ConvGeometry, tune: WgradTune = {}): Tensor {
  const dev = gy.device;
  // A 1×1, stride-1, unpadded conv pairs the whole plane column for column: one long row per image.
  const flat = g0.KH === 1 && g0.KW === 1 && g0.sh === 1 && g0.sw === 1 && g0.ph === 0 && g0.pw === 0;
  const g = flat ? { ...g0, H: 1, W: g0.H * g0.W, OH: 1, OW: g0.OH * g0.OW } : g0;
  const cpg = g.C / g.groups;
  const opg = g.O / g.groups;
  const sgMin = dev.features.subgroups ? dev.subgroupMinSize : 0;
  const SG = tune.SG ?? (sgMin >= 2 ? Math.min(8, sgMin) : 1);
  // Tiles measured on lavapipe (per-lane loads cost ~20 cycles, registers spill past ~36 accumulators): with
  // shared x loads one output channel per lane, all kernel rows and ~36 accumulators; a 1×1 reuses nothing
  // across taps, so it takes 2 × 16. Without subgroups every lane loads its own x: more output channels per
  // lane and short blocks keep the live values down.
  const k1 = g.KH === 1 && g.KW === 1;
  // A compiler that is slow on long unrolled code (SwiftShader: 50 s for the default 3×3 variant, 0.3 s for
  // this one) gets one kernel row per invocation (the rows become a dispatch dimension), short blocks and 4 input
  // channels: about a ninth of the code.
  if (dev.compactKernels) tune = { R: 1, B: Math.max(SG, 2), TC: 4, ...tune };
  const R = divisorAtMost(g.KH, tune.R ?? g.KH);
  const TO = divisorAtMost(opg, tune.TO ?? (SG > 1 ? (k1 ? 2 : 1) : k1 ? 8 : 4));
  const accs = SG > 1 ? (k1 ? 32 : 36) : k1 ? 32 : 72;
  const TC = divisorAtMost(cpg, tune.TC ?? Math.max(1, Math.floor(accs / (TO * R * g.KW))));
  const B = tune.B ?? (SG > 1 ? Math.max(8, SG) : 2);
  // one lane per TO output channels of a group, in as few workgroups of at most 64 as fit, sized to a multiple
  // of SG (whole subgroups) with the fewest idle lanes
  const lanes = opg / TO;
  const unit = Math.max(SG, 4);
  const WG = tune.WG ?? Math.ceil(lanes / Math.ceil(lanes / 64) / unit) * unit;
  const ocb = Math.ceil(lanes / WG);
  const variant = { KW: g.KW, SW: g.sw, DW: g.dw, PW: g.pw, R, TO, TC, B, SG, WG };
  const khb = g.KH / R;
  const nct = cpg / TC;
  const rows = g.N * g.OH;
  // input columns that meet an output column through some tap (the rest is padding)
  const cols = Math.min(g.W, (g.OW - 1) * g.sw + (g.KW - 1) * g.dw - g.pw + 1);
  const nblk = Math.max(1, Math.ceil(cols / (B * g.sw)));
  const steps = rows * nblk;
  const base = g.groups * ocb * nct * khb;
  // Enough workgroups to keep every core busy; each split adds a partial weight to sum afterwards.
  const target = tune.target ?? 64;
  const chunk = Math.ceil(steps / Math.max(1, Math.min(Math.ceil(target / base), steps)));
  const splits = Math.ceil(steps / chunk);
  const wshape = [g.O, cpg, g.KH, g.KW];
  const part = empty(dev, splits > 1 ? [splits, ...wshape] : wshape, 'f32', 'conv2d.wgrad');
  const gyd = denseFromStart(gy);
  const xd = x.isContiguous ? x : copy(x);
  const tiles = base * splits;
  dev.dispatch(
    convWgradKernel(variant),
    [gyd.storage.buf, xd.storage.buf, part.storage.buf],
    { N: g.N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, KH: g.KH, sh: g.sh, dh: g.dh, ph: g.ph, cpg, opg, groups: g.groups, xoff: xd.offset, khb, nct, ocb, tiles, rows, nblk, chunk },
    dev.grid1d(tiles, 1),
  );
  release(gyd, gy);
  release(xd, x);
  if (splits === 1) return part;
  const gw = sum(part, 0);
  part.dispose();
  return gw;
}
