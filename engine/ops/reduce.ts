// Reductions: sum/mean over any axes, max/argmax along an axis, softmax, log-softmax, logsumexp.
// Axes that form one contiguous block reduce in place; separate runs of a dense tensor reduce one run at a time;
// other sets are permuted to the end first (one copy).
import { byVec4 } from '../../kernels/common';
import { type ReduceOp, REDUCE_WG, reduceKernel, scatterArgKernel } from '../../kernels/reduce.wgsl';
import { record } from '../tape';
import { OpError, fmtShape } from '../errors';
import { type Shape, normAxes, normAxis, numel, sameShape } from '../shape';
import { type Tensor, empty } from '../tensor';
import { checkF32, checkFloat, convert } from './run';
import { copy, denseFromStart, expand, permute, reshape } from './layout';
import { exp, mul, scale, sub } from './elementwise';

interface Rows {
  /** Dense source (x itself or a permuted copy to dispose). */
  readonly src: Tensor;
  readonly owned: boolean;
  readonly outer: number;
  readonly R: number;
  readonly inner: number;
}

/** Lay `x` out as [outer, R, inner] with the reduced axes (sorted) merged into R. */
function rows(x: Tensor, axes: readonly number[]): Rows {
  const contiguousBlock = axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
  if (contiguousBlock) {
    const src = x.isContiguous ? x : copy(x);
    const a0 = axes[0];
    const a1 = axes[axes.length - 1];
    return {
      src,
      owned: src !== x,
      outer: numel(x.shape.slice(0, a0)),
      R: numel(x.shape.slice(a0, a1 + 1)),
      inner: numel(x.shape.slice(a1 + 1)),
    };
  }
  const kept = [...x.shape.keys()].filter((i) => !axes.includes(i));
  const p = permute(x, [...kept, ...axes]);
  const src = copy(p);
  p.dispose();
  return { src, owned: true, outer: numel(kept.map((i) => x.shape[i])), R: numel(axes.map((i) => x.shape[i])), inner: 1 };
}

/** Launch a reduce kernel over [outer, R, inner]; returns the row results (shape [outer*inner]) or full output. */
function launch(op: ReduceOp, r: Rows, outShape: Shape, splits = 1): { out: Tensor; out2: Tensor | null } {
  const dev = r.src.device;
  const nrows = r.outer * r.inner;
  const mode = nrows < 1024 && r.R >= 256 ? 'group' : 'thread';
  const out = empty(dev, outShape, 'f32', op);
  const out2 = op === 'argmax' ? empty(dev, outShape, 'f32', op) : null;
  const chunk = Math.ceil(r.R / splits);
  const params = { outer: r.outer, R: r.R, inner: r.inner, inOff: r.src.offset, chunk, splits };
  const bufs = { x: r.src.storage.buf, out: out.storage.buf, ...(out2 ? { out2: out2.storage.buf } : {}) };
  // sums of rows of a multiple of 4 (the weight gradient's partials): four adjacent rows per invocation, as vec4s
  if (mode === 'thread' && op === 'sum' && byVec4(r.inner, r.src.offset)) {
    dev.dispatch(reduceKernel({ op, mode, vec4: true }), bufs, { ...params, inner: r.inner / 4, inOff: r.src.offset / 4 }, dev.grid1d(nrows / 4, REDUCE_WG));
  } else if (mode === 'thread') dev.dispatch(reduceKernel({ op, mode }), bufs, params, dev.grid1d(nrows, REDUCE_WG));
  else {
    const g = dev.grid1d(nrows, 1);
    dev.dispatch(reduceKernel({ op, mode }), bufs, params, [g[0], g[1], splits]);
  }
  return { out, out2 };
}

/**
 * Sum or max of the reduced axes; large single rows are reduced in two passes (splits, then their results). Axes in
 * separate runs of a dense tensor (a bias gradient's N, H, W) are reduced one run at a time, innermost first,
 * instead of permuting a copy of the whole tensor.
 */
function reduceAxes(op: 'sum' | 'max', x: Tensor, axes: readonly number[]): Tensor {
  let last = axes.length - 1;
  while (last > 0 && axes[last] === axes[last - 1] + 1) last--;
  if (last > 0 && x.isContiguous) {
    const inner = reduceAxes(op, x, axes.slice(last));
    // the remaining axes keep their positions: every reduced one lies after them
    const out = reduceAxes(op, inner, axes.slice(0, last));
    inner.dispose();
    return out;
  }
  const r = rows(x, axes);
  const outShape = x.shape.filter((_, i) => !axes.includes(i));
  const nrows = r.outer * r.inner;
  const splits = nrows < 64 && r.R > 16384 ? Math.min(256, Math.ceil(r.R / 8192)) : 1;
  let out: Tensor;
  if (splits > 1) {
    const partial = launch(op, r, [r.outer * r.inner, splits], splits).out;
    out = launch(op, { src: partial, owned: true, outer: nrows, R: splits, inner: 1 }, outShape).out;
    partial.dispose();
  } else {
    out = launch(op, r, outShape).out;
  }
  if (r.owned) r.src.dispose();
  return out;
}

const keptShape = (shape: Shape, axes: readonly number[]): number[] => shape.map((d, i) => (axes.includes(i) ? 1 : d));

/** Broadcast a reduced gradient (reduced dims removed or kept) back to `shape` as a dense tensor. */
function broadcastBack(gy: Tensor, shape: Shape, axes: readonly number[]): Tensor {
  const k = reshape(gy, keptShape(shape, axes));
  const e = expand(k, shape);
  const g = copy(e);
  k.dispose();
  e.dispose();
  return g;
}

/** Sum over `axes` (all when omitted); `keepdim` keeps them as size 1. */
export function sum(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  x.assertAlive('sum');
  checkFloat('sum', [x]);
  const ax = normAxes('sum', axes, x.rank);
  let y: Tensor;
  if (ax.length === 0) y = copy(x);
  else {
    // f16 input (mixed-precision gradients): summed in f32, the result stored back in f16
    const xf = x.dtype === 'f32' ? x : convert(x, 'f32');
    const r = reduceAxes('sum', xf, ax);
    if (xf !== x) xf.dispose();
    const rd = x.dtype === 'f32' ? r : convert(r, x.dtype);
    if (rd !== r) r.dispose();
    y = keepdim ? reshape(rd, keptShape(x.shape, ax)) : rd;
    if (y !== rd) rd.dispose();
  }
  return record(y, 'sum', [x], [], (gy) => [broadcastBack(gy, x.shape, ax)]);
}

/** Mean over `axes` (all when omitted); `keepdim` keeps them as size 1. */
export function mean(x: Tensor, axes?: number | readonly number[], keepdim = false): Tensor {
  const ax = normAxes('mean', axes, x.rank);
  const s = sum(x, ax, keepdim);
  const n = numel(ax.map((a) => x.shape[a]));
  const y = scale(s, 1 / n);
  s.dispose();
  return y;
}

/** Sum `g` down to `shape` (the inverse of broadcasting). Returns `g` itself when nothing is reduced. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const off = g.rank - shape.length;
  if (off < 0) throw new OpError('sumTo', `cannot reduce ${fmtShape(g.shape)} to ${fmtShape(shape)}`);
  const axes = [...g.shape.keys()].filter((i) => i < off || (shape[i - off] === 1 && g.shape[i] !== 1));
  const s = sum(g, axes, true);
  const r = reshape(s, shape);
  s.dispose();
  return r;
}

function along(op: string, x: Tensor, axis: number): { a: number; r: Rows } {
  x.assertAlive(op);
  checkF32(op, [x]);
  const a = normAxis(op, axis, x.rank);
  if (x.shape[a] === 0) throw new OpError(op, `cannot reduce an empty axis ${axis} of ${fmtShape(x.shape)}`);
  return { a, r: rows(x, [a]) };
}

/** Max along `axis` with the index of the first maximum (indices as float32). Values are differentiable. */
export function maxWithIndices(x: Tensor, axis: number, keepdim = false): { values: Tensor; indices: Tensor } {
  const { a, r } = along('max', x, axis);
  const shape = keepdim ? keptShape(x.shape, [a]) : x.shape.filter((_, i) => i !== a);
  const { out, out2 } = launch('argmax', r, shape);
  if (r.owned) r.src.dispose();
  const indices = out2!;
  const values = record(out, 'max', [x], [indices], (gy, [idx]) => {
    const gx = empty(gy.device, x.shape, 'f32', 'max.grad');
    const gyd = denseFromStart(gy);
    gy.device.dispatch(scatterArgKernel(), { gy: gyd.storage.buf, idx: idx.storage.buf, gx: gx.storage.buf }, { outer: r.outer, R: r.R, inner: r.inner }, gy.device.grid1d(numel(x.shape), REDUCE_WG));
    if (gyd !== gy) gyd.dispose();
    return [gx];
  });
  return { values, indices };
}

/** Maximum along `axis`. */
export function max(x: Tensor, axis: number, keepdim = false): Tensor {
  const { values, indices } = maxWithIndices(x, axis, keepdim);
  indices.dispose(); // the gradient keeps its own view
  return values;
}

/** Index of the maximum along `axis` (no gradient). */
export function argmax(x: Tensor, axis: number, keepdim = false): Tensor {
  const { a, r } = along('argmax', x, axis);
  const shape = keepdim ? keptShape(x.shape, [a]) : x.shape.filter((_, i) => i !== a);
  const { out, out2 } = launch('argmax', r, shape);
  if (r.owned) r.src.dispose();
  out.dispose();
  return out2!;
}

/** Softmax-like ops run on a dense copy whose reduced axis is in place, then the gradient is composed. */
function fullRow(op: 'softmax' | 'logsoftmax', x: Tensor, axis: number): Tensor {
  const { r } = along(op, x, axis);
  const { out } = launch(op, r, x.shape);
  if (r.owned) r.src.dispose();
  return out;
}

/** Softmax along `axis`. */
export function softmax(x: Tensor, axis: number): Tensor {
  const a = normAxis('softmax', axis, x.rank);
  const y = fullRow('softmax', x, a);
  return record(y, 'softmax', [x], [y], (gy, [y]) => {
    // gx = y * (gy - sum(gy * y, axis))
    const gyy = mul(gy, y);
    const s = sum(gyy, a, true);
    const d = sub(gy, s);
    const gx = mul(y, d);
    [gyy, s, d].forEach((t) => t.dispose());
    return [gx];
  });
}

/** log(softmax(x)) along `axis`, computed stably. */
export function logSoftmax(x: Tensor, axis: number): Tensor {
  const a = normAxis('logSoftmax', axis, x.rank);
  const y = fullRow('logsoftmax', x, a);
  return record(y, 'logSoftmax', [x], [y], (gy, [y]) => {
    // gx = gy - exp(y) * sum(gy, axis)
    const s = sum(gy, a, true);
    const e = exp(y);
    const t = mul(e, s);
    const gx = sub(gy, t);
    [s, e, t].forEach((u) => u.dispose());
    return [gx];
  });
}

/** log Σ eˣ over `axes`, computed stably. */
export function logsumexp(x: Tensor, axes: number | readonly number[], keepdim = false): Tensor {
  x.assertAlive('logsumexp');
  checkF32('logsumexp', [x]);
  const ax = normAxes('logsumexp', axes, x.rank);
  const r = rows(x, ax);
  const { out } = launch('logsumexp', r, x.shape.filter((_, i) => !ax.includes(i)));
  if (r.owned) r.src.dispose();
  const y = keepdim ? reshape(out, keptShape(x.shape, ax)) : out;
  if (y !== out) out.dispose();
  return record(y, 'logsumexp', [x], [x, y], (gy, [x, y]) => {
    // gx = gy * exp(x - y), both broadcast back over the reduced axes
    const yk = reshape(y, keptShape(x.shape, ax));
    const gk = reshape(gy, keptShape(x.shape, ax));
    const d = sub(x, yk);
    const e = exp(d);
    const gx = mul(e, gk);
    [yk, gk, d, e].forEach((t) => t.dispose());
    return [gx];
  });
}
