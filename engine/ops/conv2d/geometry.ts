// conv2d's shapes: the options, the validated geometry, and where an output is written.
import type { ConvGeometry } from '../../../kernels/conv2d/params';
import type { DType } from '../../../kernels/common';
import { OpError, fmtShape } from '../../errors';
import type { Tensor } from '../../tensor';

export type { ConvGeometry };

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
export const isPointwise = (g: ConvGeometry): boolean => g.KH === 1 && g.KW === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 && g.pw === 0;

/** A pointwise conv over whole planes seen as one long row per image (no tile is cut by a row end). */
export const flattened = (g: ConvGeometry): ConvGeometry => ({ ...g, H: 1, W: g.H * g.W, OH: 1, OW: g.OH * g.OW });

/** Where the forward kernel writes: offset and strides (batch, channel, row, column) of its output. */
export interface OutLayout {
  readonly off: number;
  readonly bs: number;
  readonly ch: number;
  readonly row: number;
  readonly col: number;
}

export const denseLayout = (g: ConvGeometry, off = 0): OutLayout => ({ off, bs: g.O * g.OH * g.OW, ch: g.OH * g.OW, row: g.OW, col: 1 });

export const isDenseLayout = (g: ConvGeometry, out: OutLayout): boolean =>
  out.off === 0 && out.bs === g.O * g.OH * g.OW && out.ch === g.OH * g.OW && out.row === g.OW && out.col === 1;

/** Tile-search key of a conv problem. */
export const shapeKey = (op: string, g: ConvGeometry, dtype: DType): string =>
  `${op} ${g.N}x${g.C}x${g.H}x${g.W}>${g.O}x${g.OH}x${g.OW} k${g.KH}x${g.KW} s${g.sh},${g.sw} p${g.ph},${g.pw} d${g.dh},${g.dw} g${g.groups} ${dtype}`;
