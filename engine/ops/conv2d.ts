// conv2d (NCHW input, PyTorch OIHW weight) with stride, padding, dilation, groups and optional bias.
// Forward, input gradient (dgrad) and weight gradient (wgrad) are dedicated kernels in kernels/conv2d/;
// the bias gradient is a sum of gy over N, H, W.
import { CONV_TW, CONV_WG } from '../../kernels/conv2d/params';
import { convDgradKernel } from '../../kernels/conv2d/dgrad.wgsl';
import { FLIP_WG, flipWeightKernel } from '../../kernels/conv2d/flip.wgsl';
import { WINDOW_WG, convWindowKernel } from '../../kernels/conv2d/fwd-window.wgsl';
import type { Device } from '../device';
import { convWgradKernel } from '../../kernels/conv2d/wgrad.wgsl';
import { type ConvGeometry, convParams, convWindow } from '../../kernels/conv2d/params';
import { record } from '../autograd';
import { OpError, fmtShape } from '../errors';
import { type Tensor, empty } from '../tensor';
import { zeros } from './creation';
import { checkFloat } from './run';
import type { DType } from '../../kernels/common';
import { copy, denseFromStart } from './layout';
import { sum } from './reduce';
import { convert } from './run';
import { type MatmulTune, type SgmatTune, matmulDispatch, matmulTiles, sgmatDispatch, sgmatMatmul, sgmatVariant } from './matmul';

/** Options of conv2d(): stride, padding, dilation and groups as in PyTorch. */
export interface Conv2dOptions {
  readonly stride?: number | readonly [number, number];
  readonly padding?: number | readonly [number, number];
  readonly dilation?: number | readonly [number, number];
  readonly groups?: number;
  /** Fused epilogue for inference (forward only). */
  readonly activation?: 'none' | 'silu';
  /** f16 inputs: accumulate the forward in f32 (default) or f16. */
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

/** A 1×1, stride-1, unpadded conv: each output pixel reads only its own input pixel (a matmul per image). */
const isPointwise = (g: ConvGeometry): boolean => g.KH === 1 && g.KW === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0;

/**
 * f32 partial results summed over their first dim (images or row splits), in `dtype`: f16 weights (mixed
 * precision) get their gradient in f16, summed in f32 first. `part` is consumed.
 */
function sumParts(part: Tensor, n: number, dtype: DType): Tensor {
  const total = n === 1 ? part : sum(part, 0);
  if (total !== part) part.dispose();
  if (dtype === total.dtype) return total;
  const narrow = convert(total, dtype);
  total.dispose();
  return narrow;
}

const release = (t: Tensor, orig: Tensor): void => {
  if (t !== orig) t.dispose();
};

/** 2-D convolution of x [N, C, H, W] with w [O, C/groups, kh, kw] and an optional bias [O] (torch.nn.functional.conv2d). */
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

/** Where the forward kernel writes: offset and strides (batch, channel, row, column) of its output. */
interface OutLayout {
  readonly off: number;
  readonly bs: number;
  readonly ch: number;
  readonly row: number;
  readonly col: number;
}

const denseLayout = (g: ConvGeometry, off = 0): OutLayout => ({ off, bs: g.O * g.OH * g.OW, ch: g.OH * g.OW, row: g.OW, col: 1 });

/** Tiling of the forward kernel (tests, benchmarks and the tile search force variants with it). */
export interface FwdTune {
  /** Output channels per invocation (1, 2, 4, 8 or 16; must divide the channels per group). */
  readonly TO?: 1 | 2 | 4 | 8 | 16;
  /** Output columns per invocation (4, 8 or 12). */
  readonly TW?: 4 | 8 | 12;
  /** Tiling of the subgroup matmul that dense 1×1 convs run on (TO or TW force the window kernel instead). */
  readonly mm?: MatmulTune;
  /** Run on the subgroup matrices (f16, groups 1, dense output), with this tiling. */
  readonly sgmat?: SgmatTune;
}

/**
 * The forward dispatch: the window kernel specialised on the kernel geometry, TO output channels × TW columns per
 * invocation. The geometry is taken as given (the input-gradient phases use negative padding and explicit output
 * sizes). A 1×1, stride-1, unpadded conv into dense rows runs over each plane as one long row, so no tile is cut
 * by a row end; with groups 1 and subgroups it is a matmul per image, W[O×C] · X[C×HW], on the subgroup matmul
 * (X loads shared across lanes). The tiling is `tune` when given, else the device's tile search decides.
 */
function convForward(
  dev: Device, g0: ConvGeometry, x: Tensor, w: Tensor, b: Tensor | null, y: Tensor, act: 'none' | 'silu', acc: DType,
  out: OutLayout = denseLayout(g0, y.offset), tune?: FwdTune,
): void {
  const flat = isPointwise(g0) && g0.H === g0.OH && g0.W === g0.OW && out.col === 1 && out.row === g0.OW;
  const g = flat ? { ...g0, H: 1, W: g0.H * g0.W, OH: 1, OW: g0.OH * g0.OW } : g0;
  const dense = out.off === 0 && out.bs === g0.O * g0.OH * g0.OW && out.ch === g0.OH * g0.OW && out.row === g0.OW && out.col === 1;
  const matmulOk = flat && dense && g.groups === 1 && y.dtype === 'f32' && dev.subgroupMinSize >= 4;
  const sgmatOk = g.groups === 1 && y.dtype === 'f16' && dev.subgroupMatrix !== null;
  const opg = g.O / g.groups;
  const t = tune ?? forwardTiles(dev, g0, g, matmulOk, sgmatOk, opg, y.dtype, acc);
  const epilogue = { bias: b ? b.storage.buf : null, act };
  // a 1×1 conv over dense planes is W[O×C] · X[C×HW] per image
  const pointwise = { bshape: [g.N], abst: [0], bbst: [g.N > 1 ? x.strides[0] : 0], brank: 1, M: g.O, N: g.OW, K: g.C, asm_: g.C, ask: 1, bsk: g.OW, bsn: 1, aoff: w.offset, boff: x.offset };
  if (sgmatOk && t.sgmat) {
    if (flat && dense) {
      sgmatMatmul(dev, w.storage.buf, x.storage.buf, y.storage.buf, pointwise, 'f16', epilogue, t.sgmat);
      return;
    }
    // implicit GEMM: W[O × C·KH·KW] · im2col(x)[C·KH·KW × OH·OW] per image, the im2col gathered while staging,
    // written through the output layout (the input gradient's phases fill every s-th pixel)
    const N = g0.OH * g0.OW;
    const v = sgmatVariant(dev, g0.O, N, { b: convWindow(g0), out: 'f16', bias: b !== null, act }, t.sgmat);
    sgmatDispatch(
      dev, v, [w.storage.buf, x.storage.buf, ...(b ? [b.storage.buf] : []), y.storage.buf],
      {
        K: g0.C * g0.KH * g0.KW, aoff: w.offset, abs: 0, boff: x.offset, xbs: g0.N > 1 ? x.strides[0] : 0, H: g0.H, W: g0.W, OW: g0.OW, ph: g0.ph, pw: g0.pw,
        yoff: out.off, ybs: out.bs, ych: out.ch, yrow: out.row, ycol: out.col,
      },
      g0.O, N, g0.N,
    );
    return;
  }
  if (matmulOk && t.TO === undefined && t.TW === undefined) {
    matmulDispatch(dev, w.storage.buf, x.storage.buf, y.storage.buf, pointwise, epilogue, t.mm);
    return;
  }
  const to = t.TO ?? channelTile(opg);
  if (opg % to !== 0) throw new OpError('conv2d', `tile of ${to} output channels does not divide ${opg} channels per group`);
  const tw = t.TW ?? 4;
  const subgroups = to > 1 && dev.subgroupMinSize >= Math.min(to, 8);
  if (to === 16 && !subgroups) throw new OpError('conv2d', 'a tile of 16 output channels needs subgroups of at least 8 lanes');
  const tilesX = Math.ceil(g.OW / tw);
  const tiles = g.N * g.OH * tilesX;
  const tilesPad = Math.ceil(tiles / WINDOW_WG) * WINDOW_WG;
  const octiles = g.O / to;
  dev.dispatch(
    convWindowKernel({ ...convWindow(g), to, tw, subgroups, bias: b !== null, act, ...(y.dtype === 'f16' ? { dtype: y.dtype, acc } : {}) }),
    [x.storage.buf, w.storage.buf, ...(b ? [b.storage.buf] : []), y.storage.buf],
    {
      N: g.N, C: g.C, H: g.H, W: g.W, O: g.O, OH: g.OH, OW: g.OW, cpg: g.C / g.groups, opg, xoff: x.offset, xbs: g.N > 1 ? x.strides[0] : 0,
      tilesX, tiles, tilesPad, octiles, ph: g.ph, pw: g.pw, yoff: out.off, ybs: out.bs, ych: flat ? g.OW : out.ch, yrow: flat ? g.OW : out.row, ycol: out.col,
    },
    dev.grid1d(tilesPad * octiles, WINDOW_WG),
  );
}

const channelTile = (opg: number): 1 | 2 | 4 | 8 => ([8, 4, 2, 1] as const).find((t) => opg % t === 0)!;

/**
 * Rule and candidates of the forward tiling, resolved by the device's tile search. Rules (measured on lavapipe,
 * A/B in one process): with subgroups of ≥ 8 lanes and 16 output channels per group, 16 channels per invocation
 * (two weight loads per tap feed 16 channels: 10–30 % faster than 8 on the 3×3 GELAN shapes) over 4 columns, 8 on
 * stride-1 maps at least 64 wide; otherwise the widest column tile that pads a row by at most 20 % (12 columns
 * reuse a 3×3 window best; stride 2 spills past 8). The matmul path takes 4 rows × 16 columns per lane.
 * Compact-kernel devices keep 4 columns.
 */
function forwardTiles(dev: Device, g0: ConvGeometry, g: ConvGeometry, matmulOk: boolean, sgmatOk: boolean, opg: number, dtype: DType, acc: DType): FwdTune {
  const TO = channelTile(opg);
  const widths: (4 | 8 | 12)[] = dev.compactKernels ? [4] : g.sw > 1 ? [8, 4] : [12, 8, 4];
  const TW = widths.find((w) => Math.ceil(g.OW / w) * w <= 1.2 * g.OW) ?? 4;
  const wide = !dev.compactKernels && opg % 16 === 0 && dev.subgroupMinSize >= 8;
  const windows: FwdTune[] = [
    ...(wide ? [{ TO: 16, TW: 4 } as const, { TO: 16, TW: 8 } as const] : []),
    ...widths.map((w): FwdTune => ({ TO, TW: w })),
  ];
  const window: FwdTune = wide ? { TO: 16, TW: g.sw === 1 && g.OW >= 64 ? 8 : 4 } : { TO, TW };
  const rule: FwdTune = sgmatOk ? { sgmat: {} } : matmulOk ? { mm: { TM: 4, TN: 16 } } : window;
  const candidates: FwdTune[] = dev.compactKernels
    ? [rule]
    : sgmatOk
      ? [rule, { sgmat: { TM: 1, TN: 4 } }, { sgmat: { TN: 4, WN: 1 } }, window]
      : matmulOk
        ? [rule, { mm: { TM: 2, TN: 32 } }, { mm: { TM: 4, TN: 24 } }, ...windows.slice(0, 2)]
        : windows;
  const key = `conv2d.fwd ${g0.N}x${g0.C}x${g0.H}x${g0.W}>${g0.O}x${g0.OH}x${g0.OW} k${g0.KH}x${g0.KW} s${g0.sh},${g0.sw} p${g0.ph},${g0.pw} d${g0.dh},${g0.dw} g${g0.groups} ${dtype}`;
  return dev.tiles.choose(key, rule, candidates, () => {
    const x = empty(dev, [g0.N, g0.C, g0.H, g0.W], dtype, 'conv2d.tile-search');
    const w = empty(dev, [g0.O, g0.C / g0.groups, g0.KH, g0.KW], dtype, 'conv2d.tile-search');
    const y = empty(dev, [g0.N, g0.O, g0.OH, g0.OW], dtype, 'conv2d.tile-search');
    return {
      run: (choice: FwdTune) => convForward(dev, g0, x, w, null, y, 'none', acc, denseLayout(g0), choice),
      dispose: () => [x, w, y].forEach((t) => t.dispose()),
    };
  });
}

/** Forward conv with a forced tiling, for the tile search and A/B benchmarks (dense output, no autograd). */
export function convForwardTuned(x: Tensor, w: Tensor, g: ConvGeometry, tune?: FwdTune, y?: Tensor): Tensor {
  const out = y ?? empty(x.device, [g.N, g.O, g.OH, g.OW], x.dtype, 'conv2d');
  convForward(x.device, g, x, w, null, out, 'none', 'f32', denseLayout(g, out.offset), tune);
  return out;
}

/**
 * The taps of one kernel axis that reach input positions ≡ r (mod s): k0, k0 + s, … (J of them), and the padding
 * of the stride-1 conv over gy that sums them (negative when the first tap lies past the start).
 */
function phaseTaps(r: number, s: number, K: number, p: number): { k0: number; J: number; pad: number } {
  const k0 = (r + p) % s;
  const J = k0 < K ? Math.ceil((K - k0) / s) : 0;
  return { k0, J, pad: J - 1 - (r + p - k0) / s };
}

/**
 * Input gradient. With stride 1 it is a forward conv of gy with the flipped, transposed weight. With stride s it
 * splits into s² phases by the input position's residue mod s: each phase is a stride-1 forward conv of gy with
 * the taps that reach it, written onto every s-th pixel of gx, so no multiply meets a structural zero (spreading
 * gy onto a zero grid wasted three quarters of a stride-2 conv). Strided and dilated at once falls back to the
 * gather kernel.
 */
function convDgrad(gy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const dev = gy.device;
  const dtype = gy.dtype;
  if ((g.sh > 1 || g.sw > 1) && (g.dh > 1 || g.dw > 1)) {
    if (dtype === 'f32') return convDgradGather(gy, w, g);
    // the gather kernel is f32-only: widen, compute, narrow (strided and dilated at once is rare)
    const [gy32, w32] = [gy, w].map((t) => convert(t, 'f32'));
    const gx32 = convDgradGather(gy32, w32, g);
    const gx = convert(gx32, dtype);
    [gy32, w32, gx32].forEach((t) => t.dispose());
    return gx;
  }
  const cpg = g.C / g.groups;
  const opg = g.O / g.groups;
  const gyd = denseFromStart(gy);
  const wd = denseFromStart(w);
  const sgmat = dtype === 'f16' && dev.subgroupMatrix !== null;
  if (isPointwise(g) && g.groups === 1 && ((dtype === 'f32' && dev.subgroupMinSize >= 4) || sgmat)) {
    // gx[n] = Wᵀ[C×O] · gy[n][O×HW]: the transpose is a matter of strides, no flipped copy of the weight
    const HW = g.H * g.W;
    const gx = empty(dev, [g.N, g.C, g.H, g.W], dtype, 'conv2d.dgrad');
    const L = { bshape: [g.N], abst: [0], bbst: [g.O * HW], brank: 1, M: g.C, N: HW, K: g.O, asm_: 1, ask: g.C, bsk: HW, bsn: 1, aoff: wd.offset, boff: gyd.offset };
    if (sgmat) sgmatMatmul(dev, wd.storage.buf, gyd.storage.buf, gx.storage.buf, L, 'f16');
    else matmulDispatch(dev, wd.storage.buf, gyd.storage.buf, gx.storage.buf, L, undefined, matmulTiles(dev, L));
    release(gyd, gy);
    release(wd, w);
    return gx;
  }
  const phases = [];
  for (let ry = 0; ry < Math.min(g.sh, g.H); ry++) {
    for (let rx = 0; rx < Math.min(g.sw, g.W); rx++) {
      // dilation only with stride 1: every tap reaches every pixel, spaced by the dilation
      const th = g.sh === 1 ? { k0: 0, J: g.KH, pad: g.dh * (g.KH - 1) - g.ph } : phaseTaps(ry, g.sh, g.KH, g.ph);
      const tw = g.sw === 1 ? { k0: 0, J: g.KW, pad: g.dw * (g.KW - 1) - g.pw } : phaseTaps(rx, g.sw, g.KW, g.pw);
      phases.push({ ry, rx, th, tw });
    }
  }
  // a kernel smaller than the stride leaves some phases without taps: their pixels get no gradient
  const gx = phases.every((ph) => ph.th.J > 0 && ph.tw.J > 0) ? empty(dev, [g.N, g.C, g.H, g.W], dtype, 'conv2d.dgrad') : zeros(dev, [g.N, g.C, g.H, g.W], dtype);
  for (const { ry, rx, th, tw } of phases) {
    if (th.J === 0 || tw.J === 0) continue;
    const wt = empty(dev, [g.C, opg, th.J, tw.J], dtype, 'conv2d.dgrad');
    dev.dispatch(
      flipWeightKernel(dtype),
      [wd.storage.buf, wt.storage.buf],
      { O: g.O, cpg, opg, KH: g.KH, KW: g.KW, k0h: th.k0, k0w: tw.k0, sh: g.sh, sw: g.sw, JH: th.J, JW: tw.J },
      dev.grid1d(wt.size, FLIP_WG),
    );
    const pg: ConvGeometry = {
      N: g.N, C: g.O, H: g.OH, W: g.OW, O: g.C, OH: Math.ceil((g.H - ry) / g.sh), OW: Math.ceil((g.W - rx) / g.sw),
      KH: th.J, KW: tw.J, sh: 1, sw: 1, ph: th.pad, pw: tw.pad, dh: g.sh === 1 ? g.dh : 1, dw: g.sw === 1 ? g.dw : 1, groups: g.groups,
    };
    convForward(dev, pg, gyd, wt, null, gx, 'none', 'f32', { off: ry * g.W + rx, bs: g.C * g.H * g.W, ch: g.H * g.W, row: g.sh * g.W, col: g.sw });
    wt.dispose();
  }
  release(gyd, gy);
  release(wd, w);
  return gx;
}

/** The general input gradient: a gather over the output positions and taps that read each input pixel. */
function convDgradGather(gy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const dev = gy.device;
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
  /**
   * Run a dense 1×1 weight gradient on the subgroup matmul instead (gy[n] · x[n]ᵀ per image, summed over the
   * batch), with this tiling.
   */
  readonly mm?: MatmulTune;
  /** The same product of f16 operands on the subgroup matrices (f32 partial sums), with this tiling. */
  readonly sgmat?: SgmatTune;
}

/** Largest divisor of n that is at most cap. */
const divisorAtMost = (n: number, cap: number): number => {
  for (let d = Math.max(1, Math.min(n, Math.floor(cap))); d > 1; d--) if (n % d === 0) return d;
  return 1;
};

/**
 * Rule and candidates of the weight-gradient schedule, resolved by the device's tile search. Rule: the planned
 * schedule below (measured on lavapipe), except that a dense 1×1 with at least 64 channels in and out runs on the
 * subgroup matmul (A/B: 256→256 at 20×20 2.5 → 1.5 ms; with 16–24 channels the product has too few tiles for its
 * long k loop and the planned kernel is 1.5–4× faster).
 */
function wgradTiles(dev: Device, g: ConvGeometry, matmulOk: boolean, sgmatOk: boolean, dtype: DType): WgradTune {
  if (dev.compactKernels) return {};
  const rule: WgradTune = sgmatOk ? { sgmat: {} } : matmulOk && g.C >= 64 && g.O >= 64 ? { mm: { TM: 4, TN: 16 } } : {};
  const candidates: WgradTune[] = [{}, { B: 16 }, { R: 1, B: 16 }, { target: 256 }];
  if (matmulOk) candidates.push({ mm: { TM: 4, TN: 16 } }, { mm: { TM: 2, TN: 32 } });
  if (sgmatOk) candidates.push({ sgmat: {} }, { sgmat: { TM: 1, TN: 4 } });
  const key = `conv2d.wgrad ${g.N}x${g.C}x${g.H}x${g.W}>${g.O}x${g.OH}x${g.OW} k${g.KH}x${g.KW} s${g.sh},${g.sw} p${g.ph},${g.pw} d${g.dh},${g.dw} g${g.groups} ${dtype}`;
  return dev.tiles.choose(key, rule, candidates, () => {
    const x = empty(dev, [g.N, g.C, g.H, g.W], dtype, 'conv2d.tile-search');
    const gy = empty(dev, [g.N, g.O, g.OH, g.OW], dtype, 'conv2d.tile-search');
    return {
      run: (choice: WgradTune) => convWgrad(gy, x, g, choice).dispose(),
      dispose: () => [x, gy].forEach((t) => t.dispose()),
    };
  });
}

/** Weight gradient; the tiling is `tune` when given, else the device's tile search decides. */
export function convWgrad(gy: Tensor, x: Tensor, g0: ConvGeometry, tune?: WgradTune): Tensor {
  const dev = gy.device;
  // A 1×1, stride-1, unpadded conv pairs the whole plane column for column: one long row per image.
  const flat = isPointwise(g0);
  const g = flat ? { ...g0, H: 1, W: g0.H * g0.W, OH: 1, OW: g0.OH * g0.OW } : g0;
  const dtype = gy.dtype;
  const matmulOk = flat && g.groups === 1 && dev.subgroupMinSize >= 4 && dtype === 'f32';
  const sgmatOk = g.groups === 1 && dtype === 'f16' && dev.subgroupMatrix !== null;
  tune ??= wgradTiles(dev, g0, matmulOk, sgmatOk, dtype);
  if ((matmulOk && tune.mm) || (sgmatOk && tune.sgmat)) {
    // gw[O × C·KH·KW] = Σ_n gy[n][O × OH·OW] · im2col(x[n])ᵀ[OH·OW × C·KH·KW]: one product per image, then the
    // sum over the batch; a 1×1 pairs planes column for column, so im2col(x[n]) is x[n] itself
    const gyd = denseFromStart(gy);
    const xd = x.isContiguous ? x : copy(x);
    const wshape = [g.O, g.C, g.KH, g.KW];
    const part = empty(dev, g.N > 1 ? [g.N, ...wshape] : wshape, 'f32', 'conv2d.wgrad');
    if (!flat) {
      const N = g.C * g.KH * g.KW;
      const v = sgmatVariant(dev, g.O, N, { b: { ...convWindow(g), wgrad: true }, out: 'f32', bias: false, act: 'none' }, tune.sgmat);
      sgmatDispatch(
        dev, v, [gyd.storage.buf, xd.storage.buf, part.storage.buf],
        {
          K: g.OH * g.OW, aoff: gyd.offset, abs: g.O * g.OH * g.OW, boff: xd.offset, xbs: g.N > 1 ? xd.strides[0] : 0, H: g.H, W: g.W, OW: g.OW, ph: g.ph, pw: g.pw,
          yoff: 0, ybs: 0, ych: 0, yrow: 0, ycol: 0,
        },
        g.O, N, g.N,
      );
    } else {
      const L = { bshape: [g.N], abst: [g.O * g.OW], bbst: [xd.strides[0]], brank: 1, M: g.O, N: g.C, K: g.OW, asm_: g.OW, ask: 1, bsk: 1, bsn: g.OW, aoff: gyd.offset, boff: xd.offset };
      if (sgmatOk && tune.sgmat) sgmatMatmul(dev, gyd.storage.buf, xd.storage.buf, part.storage.buf, L, 'f32', undefined, tune.sgmat);
      else matmulDispatch(dev, gyd.storage.buf, xd.storage.buf, part.storage.buf, L, undefined, tune.mm);
    }
    release(gyd, gy);
    release(xd, x);
    return sumParts(part, g.N, dtype);
  }
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
  const variant = { KW: g.KW, SW: g.sw, DW: g.dw, PW: g.pw, R, TO, TC, B, SG, WG, ...(dtype === 'f16' ? { dtype } : {}) };
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
  return sumParts(part, splits, dtype);
}
