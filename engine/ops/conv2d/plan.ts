// Which algorithm and tiling runs a conv: one function per direction, each returning a discriminated plan.
// The tiling comes from `tune` when a caller forces one (tests, benchmarks, the tile search), else from the
// device's tile search: a measured choice when cached, else the rule below.
//   forward      window (the window kernel) | matmul (dense 1×1, f32, subgroup matmul) | gemm-sgmat (f16, groups 1)
//   input grad   matmul | gemm-sgmat (1×1 as Wᵀ·gy) | phases (forward convs with flipped sub-kernels) | gather
//   weight grad  window (the sliding-window wgrad kernel) | matmul (dense 1×1) | gemm-sgmat (f16, groups 1)
import type { ConvWgradVariant } from '../../../kernels/conv2d/wgrad.wgsl';
import { type DType, byVec4 } from '../../../kernels/common';
import type { Device } from '../../device';
import { OpError } from '../../errors';
import type { TileBench } from '../../tile-search';
import type { MatmulTune, SgmatTune } from '../matmul';
import { type ConvGeometry, type OutLayout, flattened, isDenseLayout, isPointwise, shapeKey } from './geometry';

/** Tiling of the forward conv. */
export interface FwdTune {
  /** Window kernel: output channels per invocation (1, 2, 4, 8 or 16; must divide the channels per group). */
  readonly outChannels?: 1 | 2 | 4 | 8 | 16;
  /** Window kernel: output columns per invocation (4, 8 or 12). */
  readonly columns?: 4 | 8 | 12;
  /** Tiling of the subgroup matmul that dense 1×1 convs run on (outChannels or columns force the window kernel). */
  readonly mm?: MatmulTune;
  /** Run on the subgroup matrices (f16, groups 1), with this tiling. */
  readonly sgmat?: SgmatTune;
}

export type ForwardPlan =
  /** `g` is the geometry the kernel walks: a pointwise conv into dense rows is one long row per image (`flat`). */
  | { readonly kind: 'window'; readonly g: ConvGeometry; readonly flat: boolean; readonly outChannels: 1 | 2 | 4 | 8 | 16; readonly columns: 4 | 8 | 12; readonly subgroups: boolean }
  | { readonly kind: 'matmul'; readonly g: ConvGeometry; readonly tune: MatmulTune }
  /** `flat`: a dense pointwise conv, a plain product over `g` (flattened); else the implicit GEMM over im2col(x). */
  | { readonly kind: 'gemm-sgmat'; readonly g: ConvGeometry; readonly flat: boolean; readonly tune: SgmatTune };

const channelTile = (opg: number): 1 | 2 | 4 | 8 => ([8, 4, 2, 1] as const).find((t) => opg % t === 0)!;

export function planForward(
  dev: Device, g0: ConvGeometry, dtype: DType, out: OutLayout, tune: FwdTune | undefined, bench: () => TileBench<FwdTune>,
): ForwardPlan {
  const flat = isPointwise(g0) && g0.H === g0.OH && g0.W === g0.OW && out.col === 1 && out.row === g0.OW;
  const dense = isDenseLayout(g0, out);
  const g = flat ? flattened(g0) : g0;
  const matmulOk = flat && dense && g.groups === 1 && dtype === 'f32' && dev.subgroupMinSize >= 4;
  const sgmatOk = g.groups === 1 && dtype === 'f16' && dev.subgroupMatrix !== null;
  const opg = g.O / g.groups;
  const t = tune ?? forwardTiling(dev, g0, g, matmulOk, sgmatOk, opg, dtype, bench);
  if (sgmatOk && t.sgmat) return { kind: 'gemm-sgmat', g, flat: flat && dense, tune: t.sgmat };
  if (matmulOk && t.outChannels === undefined && t.columns === undefined) return { kind: 'matmul', g, tune: t.mm ?? {} };
  const outChannels = t.outChannels ?? channelTile(opg);
  if (opg % outChannels !== 0) throw new OpError('conv2d', `tile of ${outChannels} output channels does not divide ${opg} channels per group`);
  const subgroups = outChannels > 1 && dev.subgroupMinSize >= Math.min(outChannels, 8);
  if (outChannels === 16 && !subgroups) throw new OpError('conv2d', 'a tile of 16 output channels needs subgroups of at least 8 lanes');
  return { kind: 'window', g, flat, outChannels, columns: t.columns ?? 4, subgroups };
}

/**
 * Rule and candidates of the forward tiling. With subgroups of ≥ 8 lanes and 16 output channels per group: 16
 * channels per invocation (two weight loads per tap) over 4 columns, 8 on stride-1 maps at least 64 wide;
 * otherwise the widest column tile that pads a row by at most 20 % (stride 2 spills past 8 columns). Dense 1×1
 * convs take the subgroup matmul, f16 convs with groups 1 the subgroup matrices. Compact-kernel devices keep 4 columns.
 */
function forwardTiling(
  dev: Device, g0: ConvGeometry, g: ConvGeometry, matmulOk: boolean, sgmatOk: boolean, opg: number, dtype: DType, bench: () => TileBench<FwdTune>,
): FwdTune {
  const outChannels = channelTile(opg);
  const widths: (4 | 8 | 12)[] = dev.compactKernels ? [4] : g.sw > 1 ? [8, 4] : [12, 8, 4];
  const columns = widths.find((w) => Math.ceil(g.OW / w) * w <= 1.2 * g.OW) ?? 4;
  const wide = !dev.compactKernels && opg % 16 === 0 && dev.subgroupMinSize >= 8;
  const windows: FwdTune[] = [
    ...(wide ? [{ outChannels: 16, columns: 4 } as const, { outChannels: 16, columns: 8 } as const] : []),
    ...widths.map((w): FwdTune => ({ outChannels, columns: w })),
  ];
  const window: FwdTune = wide ? { outChannels: 16, columns: g.sw === 1 && g.OW >= 64 ? 8 : 4 } : { outChannels, columns };
  const rule: FwdTune = sgmatOk ? { sgmat: {} } : matmulOk ? { mm: { TM: 4, TN: 16 } } : window;
  const candidates: FwdTune[] = dev.compactKernels
    ? [rule]
    : sgmatOk
      ? [rule, { sgmat: { TM: 1, TN: 4 } }, { sgmat: { TN: 4, WN: 1 } }, window]
      : matmulOk
        ? [rule, { mm: { TM: 2, TN: 32 } }, { mm: { TM: 4, TN: 24 } }, ...windows.slice(0, 2)]
        : windows;
  return dev.tiles.choose(shapeKey('conv2d.fwd', g0, dtype), rule, candidates, bench);
}

/** One phase of a strided input gradient: the taps (first k0, J of them, padding) reaching residue (ry, rx). */
export interface Phase {
  readonly ry: number;
  readonly rx: number;
  readonly th: { readonly k0: number; readonly J: number; readonly pad: number };
  readonly tw: { readonly k0: number; readonly J: number; readonly pad: number };
}

export type DgradPlan =
  | { readonly kind: 'matmul' }
  | { readonly kind: 'gemm-sgmat' }
  | { readonly kind: 'phases'; readonly phases: readonly Phase[] }
  | { readonly kind: 'gather' };

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
 * Input gradient: a dense 1×1 is Wᵀ·gy; otherwise one stride-1 forward conv of gy per residue of the input position
 * mod the stride (s² phases, each with only the taps that reach it; one phase at stride 1, with all taps flipped).
 * Strided and dilated at once takes the gather kernel.
 */
export function planDgrad(dev: Device, g: ConvGeometry, dtype: DType): DgradPlan {
  if ((g.sh > 1 || g.sw > 1) && (g.dh > 1 || g.dw > 1)) return { kind: 'gather' };
  const sgmat = dtype === 'f16' && dev.subgroupMatrix !== null;
  if (isPointwise(g) && g.groups === 1) {
    if (sgmat) return { kind: 'gemm-sgmat' };
    if (dtype === 'f32' && dev.subgroupMinSize >= 4) return { kind: 'matmul' };
  }
  const phases: Phase[] = [];
  for (let ry = 0; ry < Math.min(g.sh, g.H); ry++) {
    for (let rx = 0; rx < Math.min(g.sw, g.W); rx++) {
      // dilation only with stride 1: every tap reaches every pixel, spaced by the dilation
      const th = g.sh === 1 ? { k0: 0, J: g.KH, pad: g.dh * (g.KH - 1) - g.ph } : phaseTaps(ry, g.sh, g.KH, g.ph);
      const tw = g.sw === 1 ? { k0: 0, J: g.KW, pad: g.dw * (g.KW - 1) - g.pw } : phaseTaps(rx, g.sw, g.KW, g.pw);
      phases.push({ ry, rx, th, tw });
    }
  }
  return { kind: 'phases', phases };
}

/** Tiling of the weight gradient. */
export interface WgradTune {
  /** Lanes sharing x loads by subgroupBroadcast; 1 = no subgroups (default: min(8, subgroupMinSize)). */
  readonly lanes?: number;
  /** Output channels per invocation. */
  readonly outChannels?: number;
  /** Input channels per invocation. */
  readonly inChannels?: number;
  /** Kernel rows per invocation (the rest become a dispatch dimension). */
  readonly kernelRows?: number;
  /** Output columns a block of the sliding window covers. */
  readonly blockColumns?: number;
  /** Invocations per workgroup. */
  readonly workgroup?: number;
  /** Workgroups to aim for when choosing the row splits (each split is a partial weight summed afterwards; default 64, 8 on a software adapter). */
  readonly target?: number;
  /** Window kernel: read gy as aligned vec4s where the layout allows (default true; false for A/B timing). */
  readonly vec4?: boolean;
  /** Run a dense 1×1 on the subgroup matmul instead (gy[n] · x[n]ᵀ per image, summed over the batch). */
  readonly mm?: MatmulTune;
  /** The same product of f16 operands on the subgroup matrices (im2col for k > 1), with this tiling. */
  readonly sgmat?: SgmatTune;
}

export type WgradPlan =
  /** The window kernel's variant and its grid: `splits` partial weights over `tiles` workgroups. */
  | {
      readonly kind: 'window'; readonly g: ConvGeometry; readonly variant: ConvWgradVariant;
      readonly khb: number; readonly nct: number; readonly ocb: number; readonly rows: number; readonly nblk: number;
      readonly chunk: number; readonly splits: number; readonly tiles: number;
    }
  | { readonly kind: 'matmul'; readonly g: ConvGeometry; readonly tune: MatmulTune }
  | { readonly kind: 'gemm-sgmat'; readonly g: ConvGeometry; readonly flat: boolean; readonly tune: SgmatTune };

/** Largest divisor of n that is at most cap. */
const divisorAtMost = (n: number, cap: number): number => {
  for (let d = Math.max(1, Math.min(n, Math.floor(cap))); d > 1; d--) if (n % d === 0) return d;
  return 1;
};

export function planWgrad(dev: Device, g0: ConvGeometry, dtype: DType, tune: WgradTune | undefined, bench: () => TileBench<WgradTune>): WgradPlan {
  const flat = isPointwise(g0);
  const g = flat ? flattened(g0) : g0;
  const matmulOk = flat && g.groups === 1 && dev.subgroupMinSize >= 4 && dtype === 'f32';
  const sgmatOk = g.groups === 1 && dtype === 'f16' && dev.subgroupMatrix !== null;
  const t = tune ?? wgradTiling(dev, g0, matmulOk, sgmatOk, dtype, bench);
  if (sgmatOk && t.sgmat) return { kind: 'gemm-sgmat', g, flat, tune: t.sgmat };
  if (matmulOk && t.mm) return { kind: 'matmul', g, tune: t.mm };
  return windowSchedule(dev, g, dtype, t);
}

/**
 * Rule and candidates of the weight-gradient tiling: the window schedule below, except that a dense 1×1 with at
 * least 64 channels in and out runs on the subgroup matmul (with fewer the product has too few tiles for its
 * long k loop), and f16 with groups 1 on the subgroup matrices.
 */
function wgradTiling(dev: Device, g: ConvGeometry, matmulOk: boolean, sgmatOk: boolean, dtype: DType, bench: () => TileBench<WgradTune>): WgradTune {
  if (dev.compactKernels) return {};
  const rule: WgradTune = sgmatOk ? { sgmat: {} } : matmulOk && g.C >= 64 && g.O >= 64 ? { mm: { TM: 4, TN: 16 } } : {};
  const candidates: WgradTune[] = [{}, { blockColumns: 16 }, { kernelRows: 1, blockColumns: 16 }, { target: 256 }];
  if (matmulOk) candidates.push({ mm: { TM: 4, TN: 16 } }, { mm: { TM: 2, TN: 32 } });
  if (sgmatOk) candidates.push({ sgmat: {} }, { sgmat: { TM: 1, TN: 4 } });
  return dev.tiles.choose(shapeKey('conv2d.wgrad', g, dtype), rule, candidates, bench);
}

/**
 * The window kernel's schedule. With shared x loads (subgroups): one output channel per lane, all kernel rows and
 * ~36 accumulators (registers spill past that); a 1×1 reuses nothing across taps, so 2 × 16. Without subgroups
 * every lane loads its own x: more output channels per lane and short blocks keep the live values down.
 * Compact-kernel devices (slow on long unrolled code) get one kernel row per invocation, short blocks and 4
 * input channels.
 */
function windowSchedule(dev: Device, g: ConvGeometry, dtype: DType, t0: WgradTune): WgradPlan {
  const cpg = g.C / g.groups;
  const opg = g.O / g.groups;
  const sgMin = dev.features.subgroups ? dev.subgroupMinSize : 0;
  const SG = t0.lanes ?? (sgMin >= 2 ? Math.min(8, sgMin) : 1);
  const k1 = g.KH === 1 && g.KW === 1;
  const t = dev.compactKernels ? { kernelRows: 1, blockColumns: Math.max(SG, 2), inChannels: 4, ...t0 } : t0;
  const R = divisorAtMost(g.KH, t.kernelRows ?? g.KH);
  const TO = divisorAtMost(opg, t.outChannels ?? (SG > 1 ? (k1 ? 2 : 1) : k1 ? 8 : 4));
  const accs = SG > 1 ? (k1 ? 32 : 36) : k1 ? 32 : 72;
  const TC = divisorAtMost(cpg, t.inChannels ?? Math.max(1, Math.floor(accs / (TO * R * g.KW))));
  const B = t.blockColumns ?? (SG > 1 ? Math.max(8, SG) : 2);
  // one lane per TO output channels of a group, in as few workgroups of at most 64 as fit, sized to a multiple
  // of SG (whole subgroups) with the fewest idle lanes
  const lanes = opg / TO;
  const unit = Math.max(SG, 4);
  const WG = t.workgroup ?? Math.ceil(lanes / Math.ceil(lanes / 64) / unit) * unit;
  const ocb = Math.ceil(lanes / WG);
  // gy is dense from offset 0: its rows can be read as aligned vec4s when they and the blocks are multiples of 4
  const vec4 = byVec4(g.OW, B) && t.vec4 !== false;
  const variant: ConvWgradVariant = { KW: g.KW, SW: g.sw, DW: g.dw, PW: g.pw, R, TO, TC, B, SG, WG, ...(dtype === 'f16' ? { dtype } : {}), ...(vec4 ? { vec4 } : {}) };
  const khb = g.KH / R;
  const nct = cpg / TC;
  const rows = g.N * g.OH;
  // input columns that meet an output column through some tap (the rest is padding)
  const cols = Math.min(g.W, (g.OW - 1) * g.sw + (g.KW - 1) * g.dw - g.pw + 1);
  const nblk = Math.max(1, Math.ceil(cols / (B * g.sw)));
  const steps = rows * nblk;
  const base = g.groups * ocb * nct * khb;
  // enough workgroups to keep every core busy; each split adds a partial weight and a dispatch to sum them. A
  // software adapter runs workgroups on a few CPU threads: 8 keep them busy (measured on lavapipe, 2 cores: as fast
  // as 64 or faster, and most weight gradients of a training step need no split, so no sum, at all)
  const target = t.target ?? (dev.software ? 8 : 64);
  const chunk = Math.ceil(steps / Math.max(1, Math.min(Math.ceil(target / base), steps)));
  const splits = Math.ceil(steps / chunk);
  return { kind: 'window', g, variant, khb, nct, ocb, rows, nblk, chunk, splits, tiles: base * splits };
}
