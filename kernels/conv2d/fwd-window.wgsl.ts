// conv2d forward specialised on the kernel geometry (KH, KW, stride, dilation are compile-time constants).
// Each invocation computes TO output channels × TW adjacent output columns. Per input channel and kernel row
// it loads the input window once — (TW−1)·SW + (KW−1)·DW + 1 values — and takes every tap's operand from
// those registers, so a 3×3 tap costs no input load at all. With subgroups, the TO weights of a tap are one
// load per lane, shared with subgroupBroadcast (nearly free on llvmpipe, where loads are the bottleneck).
// A workgroup never straddles two output-channel tiles (tiles are padded per channel tile), so all lanes of a
// subgroup share the weights they broadcast.
// The output is addressed through strides (batch, channel, row, column) and an offset, so a caller can write
// into a strided view: the stride-s input gradient writes each of its s² phases onto every s-th pixel.
// With `flip`, the weight is read as the input gradient's phase kernel straight from the forward conv's weight
// (transposed channels, taps reversed and spaced by the stride; see WeightFlip), so no flipped copy is made.
import { type DType, type KernelSource, type ParamField, type VariantList, byVec4, defineKernel, read, variantKey, write } from '../common';
import type { ConvWindow } from './params';

export interface ConvWindowVariant extends ConvWindow {
  /** Output channels per invocation (divides channels per group); with subgroups, 16 takes two weight loads per tap. */
  readonly to: 1 | 2 | 4 | 8 | 16;
  /** Adjacent output columns per invocation, a multiple of 4 (default 4). */
  readonly tw?: number;
  /** Share weight loads across the subgroup (needs the subgroups feature and subgroup size ≥ min(to, 8)). */
  readonly subgroups: boolean;
  readonly bias: boolean;
  readonly act: 'none' | 'silu';
  /** Storage type of input, weight, bias and output (default f32; f16 needs shader-f16). */
  readonly dtype?: DType;
  /** Type of the loaded operands and accumulators (default: dtype). */
  readonly acc?: DType;
  /** Read Wt as a forward weight through FLIP_PARAMS: the input gradient's phase kernel, in place. */
  readonly flip?: boolean;
  /**
   * Load the input window as aligned vec4s; the value is the column padding (0–4), which then must equal p.pw. Needs
   * the input width, offset and batch stride to be multiples of 4. llvmpipe loads storage lane by lane whatever the
   * width, so a 3×3 row window of 4 columns costs 3 loads instead of 6 (of 8 columns: 4 instead of 10).
   */
  readonly vec4Pad?: number;
}

/** Whether the window kernel can load x [N, C, H, W] (at `offset`, batch stride `bs`) as aligned vec4s with column padding `pw`. */
export const windowVec4 = (W: number, offset: number, bs: number, pw: number): boolean =>
  byVec4(W, offset, bs) && Number.isInteger(pw) && pw >= 0 && pw <= 4;

export const WINDOW_WG = 64;

export const WINDOW_PARAMS: ParamField[] = [
  'N', 'C', 'H', 'W', 'O', 'OH', 'OW', 'cpg', 'opg', 'xoff', 'xbs', 'tilesX', 'tiles', 'tilesPad', 'octiles',
  // output layout: offset and strides of batch, channel, row and column
  'yoff', 'ybs', 'ych', 'yrow', 'ycol',
].map(
  (name) => ({ name, type: 'u32' }) as ParamField,
).concat([
  { name: 'ph', type: 'i32' },
  { name: 'pw', type: 'i32' },
]);

/**
 * The phase kernel of an input gradient as a view of the forward weight W[O, cpg, KH, KW] (groups g): tap (jh, jw)
 * of phase output channel c = g·cpg + ci and input channel oj is W[g·opg + oj, ci, k0h + sh·(JH−1−jh), k0w +
 * sw·(JW−1−jw)], i.e. ((g·wopg + oj)·wcpg + ci)·wKK + wtap0 − jh·wkh − jw·wkw.
 */
export const FLIP_PARAMS: ParamField[] = ['wcpg', 'wopg', 'wKK', 'wtap0', 'wkh', 'wkw'].map((name) => ({ name, type: 'u32' }) as ParamField);

export function convWindowKernel(v: ConvWindowVariant): KernelSource {
  const st = v.dtype ?? 'f32';
  const bindings = [read('X', v.vec4Pad === undefined ? st : `vec4<${st}>`), read('Wt', st), ...(v.bias ? [read('Bs', st)] : []), write('Y', st)];
  return defineKernel({
    name: 'conv2d.fwd',
    key: variantKey('conv2d.fwd.window', v),
    workgroupSize: [WINDOW_WG, 1, 1],
    bindings,
    params: v.flip ? [...WINDOW_PARAMS, ...FLIP_PARAMS] : WINDOW_PARAMS,
    enable: v.subgroups ? ['subgroups'] : [],
    body: () => windowBody(v),
  });
}

/** WGSL after the declarations: one invocation computes `to` output channels × `tw` columns of one row. */
function windowBody(v: ConvWindowVariant): string {
  const TW = v.tw ?? 4;
  const WIN = (TW - 1) * v.SW + (v.KW - 1) * v.DW + 1;
  const J = [...Array(v.to).keys()];
  const T = [...Array(TW).keys()];
  // accumulators: one vec4 per output channel and group of 4 columns
  const Q = [...Array(TW / 4).keys()];
  const K = [...Array(WIN).keys()];
  const st = v.dtype ?? 'f32';
  const A = v.acc ?? st;
  // operands are converted on load, so with f16 storage the math runs in the accumulator type
  const ld = (e: string): string => (A === st ? e : `${A}(${e})`);
  const KK = v.KH * v.KW;
  // lanes sharing one weight load, and loads per tap
  const L = Math.min(v.to, 8);
  const H = [...Array(v.to / L).keys()];
  const scalarWindow = (): string =>
    K.map((k) => `      let c${k} = ix0 + ${k};\n      let v${k} = select(${A}(0.0), ${ld(`X[xr + u32(clamp(c${k}, 0, i32(p.W) - 1))]`)}, rowOk && c${k} >= 0 && c${k} < i32(p.W));`).join('\n');
  // Window column k lies at 4·(ox0·SW/4) − P4 + (P4 − pw + k): vec4 u_j covers the 4 columns from the aligned base plus
  // 4j. Each vec4 is wholly inside or outside the row (W is a multiple of 4), so one test masks the padding.
  const vec4Window = (pw: number): string => {
    const P4 = 4 * Math.ceil(pw / 4);
    const at = (k: number): number => P4 - pw + k;
    const js = [...Array((at(WIN - 1) >> 2) - (at(0) >> 2) + 1).keys()].map((j) => j + (at(0) >> 2));
    return `      let xr4 = xr / 4u;
      let vb0 = i32(ox0 * ${v.SW}u / 4u) - ${P4 / 4};
${js.map((j) => `      let q${j} = vb0 + ${j};\n      let u${j} = select(vec4<${A}>(0.0), ${A === st ? '' : `vec4<${A}>`}(X[xr4 + u32(clamp(q${j}, 0, i32(p.W / 4u) - 1))]), rowOk && q${j} >= 0 && q${j} < i32(p.W / 4u));`).join('\n')}
${K.map((k) => `      let v${k} = u${at(k) >> 2}[${at(k) & 3}];`).join('\n')}`;
  };
  // Kernel rows are a runtime loop (SwiftShader's compiler is slow on them unrolled);
  // the columns of a row are unrolled so every tap reads the window registers.
  const row: string[] = [];
  row.push(`    for (var kh = 0u; kh < ${v.KH}u; kh++) {
      let iy = i32(oy * ${v.SH}u + kh * ${v.DH}u) - p.ph;
      let rowOk = iy >= 0 && iy < i32(p.H);
      let xr = xc + u32(clamp(iy, 0, i32(p.H) - 1)) * p.W;
      let tap0 = kh * ${v.flip ? 'p.wkh' : `${v.KW}u`};
${v.vec4Pad === undefined ? scalarWindow() : vec4Window(v.vec4Pad)}`);
  for (let kw = 0; kw < v.KW; kw++) {
    const xv = (q: number): string => `vec4<${A}>(${[0, 1, 2, 3].map((t) => `v${(4 * q + t) * v.SW + kw * v.DW}`).join(', ')})`;
    const at = (base: string): string => (v.flip ? `${base} - tap0 - ${kw}u * p.wkw` : `${base} + tap0 + ${kw}u`);
    const weights = v.subgroups
      ? `${H.map((h) => `      let wl${kw}_${h} = ${ld(`Wt[${at(`wl${h}`)}]`)};`).join('\n')}\n${J.map((j) => `      let w${j}_${kw} = subgroupBroadcast(wl${kw}_${Math.floor(j / L)}, ${j % L}u);`).join('\n')}`
      : J.map((j) => `      let w${j}_${kw} = ${ld(`Wt[${at(`wb${j}`)}]`)};`).join('\n');
    row.push(`${weights}
${Q.map((q) => `      let xv${kw}_${q} = ${xv(q)};`).join('\n')}
${J.flatMap((j) => Q.map((q) => `      acc${j}_${q} += w${j}_${kw} * xv${kw}_${q};`)).join('\n')}`);
  }
  row.push('    }');
  const taps = row;
  // first tap of output channel oc and input channel ci in Wt (a flipped view: the phase kernel's first tap)
  const wAt = (oc: string): string =>
    v.flip ? `(((${oc}) / p.wcpg * p.wopg + ci) * p.wcpg + (${oc}) % p.wcpg) * p.wKK + p.wtap0` : `((${oc}) * p.cpg + ci) * ${KK}u`;
  const epilogue = (j: number, t: number): string => {
    let e = `acc${j}_${t >> 2}[${t & 3}]${v.bias ? ` + ${ld(`Bs[oc0 + ${j}u]`)}` : ''}`;
    if (v.act === 'silu') e = `silu_(${e})`;
    return A === st ? e : `${st}(${e})`;
  };
  return `fn silu_(x: ${A}) -> ${A} { return x / (1.0 + exp(-x)); }
@compute @workgroup_size(${WINDOW_WG}, 1, 1)
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>${v.subgroups ? ', @builtin(subgroup_invocation_id) lane: u32' : ''}) {
  let id = gid.x + gid.y * (nwg.x * ${WINDOW_WG}u);
  let octile = min(id / p.tilesPad, p.octiles - 1u);
  let t = id % p.tilesPad;
  let valid = t < p.tiles && id / p.tilesPad < p.octiles;
  let tt = min(t, p.tiles - 1u);
  let oxt = tt % p.tilesX;
  let oy = (tt / p.tilesX) % p.OH;
  let n = tt / (p.tilesX * p.OH);
  let oc0 = octile * ${v.to}u;
  let ox0 = oxt * ${TW}u;
  let cbase = (oc0 / p.opg) * p.cpg;
  let ix0 = i32(ox0 * ${v.SW}u) - p.pw;
${J.flatMap((j) => Q.map((q) => `  var acc${j}_${q} = vec4<${A}>(0.0);`)).join('\n')}
  for (var ci = 0u; ci < p.cpg; ci++) {
    let xc = p.xoff + n * p.xbs + (cbase + ci) * p.H * p.W;
${v.subgroups ? H.map((h) => `    let wl${h} = ${wAt(`oc0 + ${h * L}u + lane % ${L}u`)};`).join('\n') : J.map((j) => `    let wb${j} = ${wAt(`oc0 + ${j}u`)};`).join('\n')}
${taps.join('\n')}
  }
  if (!valid) { return; }
${J.map(
  (j) => `  {
    let yb = p.yoff + n * p.ybs + (oc0 + ${j}u) * p.ych + oy * p.yrow + ox0 * p.ycol;
${T.map((t) => `    if (ox0 + ${t}u < p.OW) { Y[yb + ${t}u * p.ycol] = ${epilogue(j, t)}; }`).join('\n')}
  }`,
).join('\n')}
}`;
}

/**
 * The geometries GELAN uses (plus 5×5 and dilation), 1/4/8 output channels with and without subgroups, with and
 * without the bias+SiLU epilogue; with f16, f16 storage accumulating in f32 and in f16; the flipped weight reads.
 */
export const variants: VariantList = (caps) => {
  const out: KernelSource[] = [];
  const stores: { dtype?: 'f16'; acc?: DType }[] = [{}, ...(caps.f16 ? [{ dtype: 'f16', acc: 'f32' } as const, { dtype: 'f16', acc: 'f16' } as const] : [])];
  for (const [K, S, D] of [[1, 1, 1], [3, 1, 1], [3, 2, 1], [5, 1, 1], [3, 1, 2]] as const) {
    for (const to of [1, 4, 8] as const) {
      for (const subgroups of to > 1 && caps.subgroups ? [false, true] : [false]) {
        for (const act of ['none', 'silu'] as const) {
          for (const st of stores) out.push(convWindowKernel({ KH: K, KW: K, SH: S, SW: S, DH: D, DW: D, to, subgroups, bias: act === 'silu', act, ...st }));
        }
      }
    }
  }
  // aligned vec4 window loads (the common paddings)
  for (const [K, S, pad] of [[1, 1, 0], [3, 1, 1], [3, 2, 1], [5, 1, 2]] as const) {
    for (const to of caps.subgroups ? ([8, 16] as const) : ([4] as const)) {
      for (const tw of [4, 8]) out.push(convWindowKernel({ KH: K, KW: K, SH: S, SW: S, DH: 1, DW: 1, to, tw, subgroups: caps.subgroups, bias: true, act: 'silu', vec4Pad: pad }));
    }
  }
  // the input gradient's phase kernels read in place: stride 1 (3×3) and a stride-2 3×3's phases (2×2, 2×1, 1×1)
  for (const [KH, KW] of [[3, 3], [2, 2], [2, 1], [1, 1]] as const) {
    for (const to of caps.subgroups ? ([1, 16] as const) : ([1, 4] as const)) {
      out.push(convWindowKernel({ KH, KW, SH: 1, SW: 1, DH: 1, DW: 1, to, subgroups: to > 1 && caps.subgroups, bias: false, act: 'none', flip: true }));
    }
  }
  return out;
};
