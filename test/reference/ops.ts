// Naive float64 CPU reference implementations of every engine op, written for readability rather than speed.
// Tensors are plain `NdArray`s (a row-major Float64Array with an explicit shape); nothing here shares code with
// the GPU kernels except the scalar formulas of the elementwise table (UNARY/BINARY `ref`). Semantics follow
// PyTorch: NumPy broadcasting, NCHW activations, OIHW conv weights.
import { BINARY, UNARY, type BinaryOp, type UnaryOp } from '../../engine/ops/elementwise';

export interface NdArray {
  readonly shape: number[];
  readonly data: Float64Array;
}

// ---- shapes and indexing ---------------------------------------------------------------------------------------

export const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** An array of the given shape, filled from `data` (or zeros). */
export function nd(shape: readonly number[], data?: ArrayLike<number>): NdArray {
  const n = numel(shape);
  if (data && data.length !== n) throw new Error(`nd: ${data.length} values for shape [${shape}]`);
  return { shape: [...shape], data: data ? Float64Array.from(data) : new Float64Array(n) };
}

/** Row-major strides. */
export function stridesOf(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) st[i] = st[i + 1] * shape[i + 1];
  return st;
}

/** Flat index -> multi-index. */
function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = flat % shape[i];
    flat = Math.floor(flat / shape[i]);
  }
  return idx;
}

/** Multi-index -> flat index. */
function ravel(idx: readonly number[], shape: readonly number[]): number {
  let flat = 0;
  for (let i = 0; i < shape.length; i++) flat = flat * shape[i] + idx[i];
  return flat;
}

const normAxis = (axis: number, rank: number): number => (axis < 0 ? axis + rank : axis);

// ---- elementwise with NumPy broadcasting ---------------------------------------------------------------------

export function broadcastShape(...shapes: (readonly number[])[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    s.forEach((d, i) => {
      const j = rank - s.length + i;
      if (d !== 1 && out[j] !== 1 && out[j] !== d) throw new Error(`broadcast: [${shapes.join('] vs [')}]`);
      if (d !== 1) out[j] = d;
    });
  }
  return out;
}

/** The element of `x` that broadcasts to position `idx` of a larger output. */
function broadcastAt(x: NdArray, idx: readonly number[]): number {
  const off = idx.length - x.shape.length;
  const own = x.shape.map((d, i) => (d === 1 ? 0 : idx[off + i]));
  return x.data[ravel(own, x.shape)];
}

/** Apply `f` elementwise to broadcast inputs. */
export function mapN(inputs: readonly NdArray[], f: (...v: number[]) => number): NdArray {
  const shape = broadcastShape(...inputs.map((t) => t.shape));
  const out = nd(shape);
  for (let i = 0; i < out.data.length; i++) {
    const idx = unravel(i, shape);
    out.data[i] = f(...inputs.map((t) => broadcastAt(t, idx)));
  }
  return out;
}

export const unary = (op: UnaryOp, x: NdArray, s0 = 0, s1 = 0): NdArray => mapN([x], (v) => UNARY[op].ref(v, s0, s1));
export const binary = (op: BinaryOp, a: NdArray, b: NdArray): NdArray => mapN([a, b], BINARY[op].ref);
export const where = (cond: NdArray, a: NdArray, b: NdArray): NdArray => mapN([cond, a, b], (c, u, v) => (c !== 0 ? u : v));
export const clamp = (x: NdArray, lo: number, hi: number): NdArray => unary('clamp', x, lo, hi);
export const powScalar = (x: NdArray, e: number): NdArray => unary('powScalar', x, e);
export const scale = (x: NdArray, a: number, b = 0): NdArray => unary('scale', x, a, b);

// ---- reductions ----------------------------------------------------------------------------------------------

function normAxes(axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  return (typeof axes === 'number' ? [axes] : [...axes]).map((a) => normAxis(a, rank));
}

/**
 * Fold the values of each group of the reduced `axes` into one number. Values reach `fold` in row-major order of
 * the reduced coordinates (so for one axis, position k in the list is index k along that axis).
 */
export function reduce(x: NdArray, axes: number | readonly number[] | undefined, keepdim: boolean, fold: (vals: number[]) => number): NdArray {
  const ax = normAxes(axes, x.shape.length);
  const kept = x.shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const groups: number[][] = Array.from({ length: numel(kept) }, () => []);
  for (let i = 0; i < x.data.length; i++) {
    const idx = unravel(i, x.shape).map((v, d) => (ax.includes(d) ? 0 : v));
    groups[ravel(idx, kept)].push(x.data[i]);
  }
  const shape = keepdim ? kept : x.shape.filter((_, i) => !ax.includes(i));
  return nd(shape, groups.map(fold));
}

const total = (vs: number[]): number => vs.reduce((a, b) => a + b, 0);
const maxOf = (vs: number[]): number => vs.reduce((a, b) => Math.max(a, b), -Infinity);
const lse = (vs: number[]): number => {
  const m = maxOf(vs);
  return m + Math.log(total(vs.map((v) => Math.exp(v - m))));
};

export const sum = (x: NdArray, axes?: number | readonly number[], keepdim = false): NdArray => reduce(x, axes, keepdim, total);

export function mean(x: NdArray, axes?: number | readonly number[], keepdim = false): NdArray {
  return reduce(x, axes, keepdim, (vs) => total(vs) / vs.length);
}

export const max = (x: NdArray, axis: number, keepdim = false): NdArray => reduce(x, axis, keepdim, maxOf);

/** Index of the first maximum along `axis`. */
export const argmax = (x: NdArray, axis: number, keepdim = false): NdArray =>
  reduce(x, axis, keepdim, (vs) => vs.indexOf(maxOf(vs)));

export const logsumexp = (x: NdArray, axes: number | readonly number[], keepdim = false): NdArray => reduce(x, axes, keepdim, lse);

export const logSoftmax = (x: NdArray, axis: number): NdArray => binary('sub', x, logsumexp(x, axis, true));

export const softmax = (x: NdArray, axis: number): NdArray => unary('exp', logSoftmax(x, axis));

// ---- matmul --------------------------------------------------------------------------------------------------

/** [..., M, K] · [..., K, N] -> [..., M, N] with broadcast batch dims. */
export function matmul(a: NdArray, b: NdArray): NdArray {
  const [M, K] = a.shape.slice(-2);
  const [K2, N] = b.shape.slice(-2);
  if (K !== K2) throw new Error(`matmul: inner dims ${K} vs ${K2}`);
  const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const out = nd([...batch, M, N]);
  const batchOffset = (t: NdArray, bi: readonly number[]): number => {
    const tb = t.shape.slice(0, -2);
    const off = bi.length - tb.length;
    return ravel(tb.map((d, i) => (d === 1 ? 0 : bi[off + i])), tb) * numel(t.shape.slice(-2));
  };
  for (let p = 0; p < numel(batch); p++) {
    const bi = unravel(p, batch);
    const ao = batchOffset(a, bi);
    const bo = batchOffset(b, bi);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += a.data[ao + m * K + k] * b.data[bo + k * N + n];
        out.data[(p * M + m) * N + n] = acc;
      }
    }
  }
  return out;
}

// ---- convolution ---------------------------------------------------------------------------------------------

export interface ConvOptions {
  stride?: [number, number];
  padding?: [number, number];
  dilation?: [number, number];
  groups?: number;
}

/** NCHW input, OIHW weight ([O, C/groups, KH, KW]), optional bias [O]. */
export function conv2d(x: NdArray, w: NdArray, bias: NdArray | null, o: ConvOptions = {}): NdArray {
  const [N, C, H, W] = x.shape;
  const [O, cpg, KH, KW] = w.shape;
  const [sh, sw] = o.stride ?? [1, 1];
  const [ph, pw] = o.padding ?? [0, 0];
  const [dh, dw] = o.dilation ?? [1, 1];
  const groups = o.groups ?? 1;
  if (cpg * groups !== C) throw new Error(`conv2d: weight [${w.shape}] vs input [${x.shape}] with groups ${groups}`);
  const opg = O / groups;
  const OH = Math.floor((H + 2 * ph - dh * (KH - 1) - 1) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - dw * (KW - 1) - 1) / sw) + 1;
  const out = nd([N, O, OH, OW]);
  for (let n = 0; n < N; n++) {
    for (let oc = 0; oc < O; oc++) {
      const g = Math.floor(oc / opg);
      for (let oy = 0; oy < OH; oy++) {
        for (let ox = 0; ox < OW; ox++) {
          let acc = bias ? bias.data[oc] : 0;
          for (let c = 0; c < cpg; c++) {
            const ic = g * cpg + c;
            for (let ky = 0; ky < KH; ky++) {
              const iy = oy * sh - ph + ky * dh;
              if (iy < 0 || iy >= H) continue;
              for (let kx = 0; kx < KW; kx++) {
                const ix = ox * sw - pw + kx * dw;
                if (ix < 0 || ix >= W) continue;
                acc += x.data[((n * C + ic) * H + iy) * W + ix] * w.data[((oc * cpg + c) * KH + ky) * KW + kx];
              }
            }
          }
          out.data[((n * O + oc) * OH + oy) * OW + ox] = acc;
        }
      }
    }
  }
  return out;
}

// ---- batch norm ----------------------------------------------------------------------------------------------

/** Per-channel mean and variance over N, H, W: biased (used to normalise) and unbiased (for running stats). */
export function channelStats(x: NdArray): { mean: NdArray; var: NdArray; varUnbiased: NdArray } {
  const m = mean(x, [0, 2, 3]);
  const count = x.data.length / x.shape[1];
  const sq = reduce(x, [0, 2, 3], false, (vs) => {
    const mu = total(vs) / vs.length;
    return total(vs.map((v) => (v - mu) ** 2));
  });
  return { mean: m, var: scale(sq, 1 / count), varUnbiased: scale(sq, 1 / (count - 1)) };
}

export interface BatchNormOptions {
  training: boolean;
  runningMean?: NdArray;
  runningVar?: NdArray;
  eps?: number;
}

/** y = (x - mean) / sqrt(var + eps) * weight + bias with batch stats (training) or running stats (eval). */
export function batchNorm2d(x: NdArray, weight: NdArray | null, bias: NdArray | null, o: BatchNormOptions): NdArray {
  const C = x.shape[1];
  const st = o.training ? channelStats(x) : { mean: o.runningMean!, var: o.runningVar! };
  const eps = o.eps ?? 1e-5;
  const chan = (t: NdArray): NdArray => nd([1, C, 1, 1], t.data);
  const w = weight ?? nd([C], new Array<number>(C).fill(1));
  const b = bias ?? nd([C]);
  const invStd = unary('powScalar', scale(chan(st.var), 1, eps), -0.5);
  const xhat = binary('mul', binary('sub', x, chan(st.mean)), invStd);
  return binary('add', binary('mul', xhat, chan(w)), chan(b));
}

// ---- pooling and resampling ----------------------------------------------------------------------------------

export interface PoolOptions {
  kernel: [number, number];
  stride?: [number, number];
  padding?: [number, number];
}

/** Visit every output window of NCHW pooling: `fold` sees the in-bounds values and the window's corner. */
function pool2d(x: NdArray, o: PoolOptions, fold: (vals: number[], y0: number, x0: number) => number): NdArray {
  const [N, C, H, W] = x.shape;
  const [KH, KW] = o.kernel;
  const [sh, sw] = o.stride ?? o.kernel;
  const [ph, pw] = o.padding ?? [0, 0];
  const OH = Math.floor((H + 2 * ph - KH) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - KW) / sw) + 1;
  const out = nd([N, C, OH, OW]);
  for (let plane = 0; plane < N * C; plane++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        const y0 = oy * sh - ph;
        const x0 = ox * sw - pw;
        const vals: number[] = [];
        for (let iy = Math.max(y0, 0); iy < Math.min(y0 + KH, H); iy++) {
          for (let ix = Math.max(x0, 0); ix < Math.min(x0 + KW, W); ix++) vals.push(x.data[(plane * H + iy) * W + ix]);
        }
        out.data[(plane * OH + oy) * OW + ox] = fold(vals, y0, x0);
      }
    }
  }
  return out;
}

/** Max over each window; padding never wins (it is -inf). */
export const maxPool2d = (x: NdArray, o: PoolOptions): NdArray => pool2d(x, o, maxOf);

/**
 * Mean over each window. PyTorch's divisor with count_include_pad: the window clipped to the padded input
 * (so windows hanging past the padding count less); without it: the in-bounds values only.
 */
export function avgPool2d(x: NdArray, o: PoolOptions & { countIncludePad?: boolean }): NdArray {
  const [, , H, W] = x.shape;
  const [KH, KW] = o.kernel;
  const [ph, pw] = o.padding ?? [0, 0];
  return pool2d(x, o, (vs, y0, x0) => {
    if (o.countIncludePad === false) return total(vs) / vs.length;
    const rows = Math.min(y0 + KH, H + ph) - y0;
    const cols = Math.min(x0 + KW, W + pw) - x0;
    return total(vs) / (rows * cols);
  });
}

/**
 * PyTorch legacy 'nearest': src = min(floor(dst * scale), in - 1), the product taken in float32 as PyTorch does,
 * with scale = in/out (rounded to float32) for a size, 1/scale_factor for a scale factor.
 */
export function upsampleNearest(x: NdArray, o: { scale: number | [number, number] } | { size: [number, number] }): NdArray {
  const [N, C, H, W] = x.shape;
  let OH: number, OW: number, scaleH: number, scaleW: number;
  if ('size' in o) {
    [OH, OW] = o.size;
    [scaleH, scaleW] = [Math.fround(H / OH), Math.fround(W / OW)];
  } else {
    const [fh, fw] = typeof o.scale === 'number' ? [o.scale, o.scale] : o.scale;
    [OH, OW] = [Math.floor(H * fh), Math.floor(W * fw)];
    [scaleH, scaleW] = [Math.fround(1 / fh), Math.fround(1 / fw)];
  }
  const src = (d: number, s: number, n: number): number => Math.min(Math.floor(Math.fround(d * s)), n - 1);
  const out = nd([N, C, OH, OW]);
  for (let plane = 0; plane < N * C; plane++) {
    for (let oy = 0; oy < OH; oy++) {
      for (let ox = 0; ox < OW; ox++) {
        out.data[(plane * OH + oy) * OW + ox] = x.data[(plane * H + src(oy, scaleH, H)) * W + src(ox, scaleW, W)];
      }
    }
  }
  return out;
}

// ---- layout --------------------------------------------------------------------------------------------------

/** Build an array of `shape` whose element at multi-index idx is `get(idx)`. */
function generate(shape: readonly number[], get: (idx: number[]) => number): NdArray {
  const out = nd(shape);
  for (let i = 0; i < out.data.length; i++) out.data[i] = get(unravel(i, shape));
  return out;
}

export function permute(x: NdArray, dims: readonly number[]): NdArray {
  const d = dims.map((a) => normAxis(a, x.shape.length));
  return generate(d.map((a) => x.shape[a]), (idx) => {
    const src = new Array<number>(idx.length);
    d.forEach((a, i) => (src[a] = idx[i]));
    return x.data[ravel(src, x.shape)];
  });
}

export function transpose(x: NdArray, dim0: number, dim1: number): NdArray {
  const d = [...x.shape.keys()];
  const [a, b] = [normAxis(dim0, d.length), normAxis(dim1, d.length)];
  [d[a], d[b]] = [d[b], d[a]];
  return permute(x, d);
}

/** Same data, new shape (one -1 allowed). */
export function reshape(x: NdArray, shape: readonly number[]): NdArray {
  const known = numel(shape.filter((d) => d !== -1));
  return nd(shape.map((d) => (d === -1 ? x.data.length / known : d)), x.data);
}

/** Elements [start, end) along `axis`. */
export function slice(x: NdArray, axis: number, start: number, end: number): NdArray {
  const a = normAxis(axis, x.shape.length);
  const shape = x.shape.map((d, i) => (i === a ? end - start : d));
  return generate(shape, (idx) => x.data[ravel(idx.map((v, i) => (i === a ? v + start : v)), x.shape)]);
}

export function concat(xs: readonly NdArray[], axis: number): NdArray {
  const a = normAxis(axis, xs[0].shape.length);
  const shape = xs[0].shape.map((d, i) => (i === a ? total(xs.map((t) => t.shape[a])) : d));
  return generate(shape, (idx) => {
    let k = idx[a];
    for (const t of xs) {
      if (k < t.shape[a]) return t.data[ravel(idx.map((v, i) => (i === a ? k : v)), t.shape)];
      k -= t.shape[a];
    }
    throw new Error('concat: index out of range');
  });
}

/** Broadcast to `shape` (a copy). */
export const expand = (x: NdArray, shape: readonly number[]): NdArray => generate(shape, (idx) => broadcastAt(x, idx));

/** Σ a·b over all elements (the weighted loss used by the gradient checks). */
export const dot = (a: NdArray, b: NdArray): number => total(Array.from(a.data, (v, i) => v * b.data[i]));
