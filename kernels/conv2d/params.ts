// Geometry shared by the conv2d kernels, and the uniform parameters of the gather input-gradient kernel (the
// forward and weight-gradient kernels declare their own).
import type { ParamField } from '../common';

export const CONV_PARAMS: ParamField[] = [
  'N', 'C', 'H', 'W', 'O', 'OH', 'OW', 'KH', 'KW', 'sh', 'sw', 'ph', 'pw', 'dh', 'dw', 'cpg', 'opg', 'xoff',
  // work decomposition: tiles along the tiled axis
  'tiles',
].map((name) => ({ name, type: name === 'ph' || name === 'pw' ? 'i32' : 'u32' }) as ParamField);

/** The kernel window a conv kernel variant is specialised on: size, stride and dilation per axis. */
export interface ConvWindow {
  readonly KH: number;
  readonly KW: number;
  readonly SH: number;
  readonly SW: number;
  readonly DH: number;
  readonly DW: number;
}

/** Shapes and attributes of one conv2d call, as the kernels see them. */
export interface ConvGeometry {
  readonly N: number;
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly O: number;
  readonly OH: number;
  readonly OW: number;
  readonly KH: number;
  readonly KW: number;
  readonly sh: number;
  readonly sw: number;
  readonly ph: number;
  readonly pw: number;
  readonly dh: number;
  readonly dw: number;
  readonly groups: number;
}

export const convParams = (g: ConvGeometry, extra: { xoff: number; tiles: number }): Record<string, number> => ({
  ...g,
  cpg: g.C / g.groups,
  opg: g.O / g.groups,
  ...extra,
});

/** Adjacent columns per invocation and workgroup size of the gather input-gradient kernel. */
export const CONV_TW = 4;
export const CONV_WG = 64;

/** The kernel window of a call, for the variants specialised on it. */
export const convWindow = (g: ConvGeometry): ConvWindow => ({ KH: g.KH, KW: g.KW, SH: g.sh, SW: g.sw, DH: g.dh, DW: g.dw });
