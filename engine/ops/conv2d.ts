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
import { checkF32 } from './run';
import { copy, denseFromStart } from './layout';
import { sum } from './reduce';

export interface Conv2dOptions {
  readonly stride?: number | readonly [number, number];
  readonly padding?: number | readonly [number, number];
  readonly dilation?: number | readonly [number, number];
  readonly groups?: number;
  /** Fused epilogue for inference (forward only). */
  readonly activation?: 'none' | 'silu';
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
  checkF32('conv2d', b ? [x, w, b] : [x, w]);
  const g = convGeometry(x, w, b, o);
  const dev = x.device;
  const y = empty(dev, [g.N, g.O, g.OH, g.OW], 'f32', 'conv2d');
  // channel planes must be dense; the batch stride may be anything (a channel slice of a larger tensor)
  const planesDense = x.strides[3] === 1 && x.strides[2] === g.W && x.strides[1] === g.H * g.W;
  const xd = planesDense ? x : copy(x);
  const wd = denseFromStart(w);
  const bd = b ? denseFromStart(b) : null;
  const act = o.activation ?? 'none';
  convForward(dev, g, xd, wd, bd, y, act);
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
function convForward(dev: Device, g: ConvGeometry, x: Tensor, w: Tensor, b: Tensor | null, y: Tensor, act: 'none' | 'silu'): void {
  const opg = g.O / g.groups;
  const to = ([8, 4, 2, 1] as const).find((t) => opg % t === 0)!;
  const subgroups = to > 1 && dev.subgroupMinSize >= to;
  const tilesX = Math.ceil(g.OW / WINDOW_TW);
  const tiles = g.N * g.OH * tilesX;
  const tilesPad = Math.ceil(tiles / WINDOW_WG) * WINDOW_WG;
  const octiles = g.O / to;
  dev.dispatch(
    convWindowKernel({ KH: g.KH, KW: g.KW, SH: g.sh, SW: g.sw, DH: g.dh, DW: g.dw, to, subgroups, bias: b !== null, act }),
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
    convParams(g, { xoff: 0, tiles, rows: 0, chunk: 0 }),
    dev.grid1d(g.N * (g.C / tc) * g.H * tiles, CONV_WG),
  );
  release(gyd, gy);
  release(wd, w);
  return gx;
}

function convWgrad(gy: Tensor, x: Tensor, g: ConvGeometry): Tensor {
  const dev = gy.device;
  const cpg = g.C / g.groups;
  const opg = g.O / g.groups;
  const to = opg % 4 === 0 ? 4 : 1;
  const tc = cpg % 4 === 0 ? 4 : 1;
  const per = (g.O / to) * (cpg / tc) * g.KH * g.KW;
  const rows = g.N * g.OH;
  // Enough invocations to keep every core busy, each with at least a few rows of work.
  const splits = Math.max(1, Math.min(Math.ceil(4096 / per), Math.ceil(rows / 2)));
  const chunk = Math.ceil(rows / splits);
  const wshape = [g.O, cpg, g.KH, g.KW];
  const part = empty(dev, splits > 1 ? [splits, ...wshape] : wshape, 'f32', 'conv2d.wgrad');
  const gyd = denseFromStart(gy);
  const xd = x.isContiguous ? x : copy(x);
  dev.dispatch(
    convWgradKernel({ to, tc }),
    [gyd.storage.buf, xd.storage.buf, part.storage.buf],
    convParams(g, { xoff: xd.offset, tiles: splits, rows, chunk }),
    dev.grid1d(per * splits, CONV_WG),
  );
  release(gyd, gy);
  release(xd, x);
  if (splits === 1) return part;
  const gw = sum(part, 0);
  part.dispose();
  return gw;
}
