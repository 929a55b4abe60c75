// Views and copies: reshape, permute/transpose, expand, slice/split/chunk (views, no copy), contiguous and
// concat (one strided copy per input). Gradients are the inverse view or a copy into a zero tensor.
import { record } from '../tape';
import { OpError, fmtShape } from '../errors';
import { type Shape, broadcastShapes, contiguousStrides, inferShape, isContiguous, normAxis, numel, sameShape } from '../shape';
import { CONCAT_MAX_INPUTS, CONCAT_RUN, CONCAT_WG, concatKernel, padKernel } from '../../kernels/concat.wgsl';
import { byVec4, indexed } from '../../kernels/common';
import { BYTES, type Tensor, empty, view } from '../tensor';
import { pointwise } from './run';
import { zeros } from './creation';
import { sumTo } from './reduce';

/** A dense copy (a new tensor even when `x` is already dense). */
export function copy(x: Tensor): Tensor {
  x.assertAlive('contiguous');
  const y = pointwise({ op: 'copy', expr: 'a0', inputs: [x], shape: x.shape, outDtype: x.dtype });
  return record(y, 'contiguous', [x], [], (gy) => [copy(gy)]);
}

/**
 * `t` when it is dense and starts at element 0 of its buffer (what kernels that index from 0 need), else a dense
 * copy. Callers dispose the result only when it is not `t`.
 */
export const denseFromStart = (t: Tensor): Tensor => (t.isContiguous && t.offset === 0 ? t : copy(t));

/**
 * `t` when the channel planes of this 4-D NCHW tensor are dense (H·W values each, row-major), whatever its batch
 * stride and offset, else a dense copy: a channel slice of a larger tensor (a chunk, a concat's gradient) is read
 * in place by the conv and BatchNorm kernels. Callers dispose the result only when it is not `t`.
 */
export const densePlanes = (t: Tensor): Tensor =>
  t.strides[3] === 1 && t.strides[2] === t.shape[3] && t.strides[1] === t.shape[2] * t.shape[3] ? t : copy(t);

/** Dispose `t` when it is a temporary copy of `orig` (made by denseFromStart or copy), never `orig` itself. */
export const releaseCopy = (t: Tensor, orig: Tensor): void => {
  if (t !== orig) t.dispose();
};

/**
 * Write `src` into `dst` (same shape and dtype; `dst` may be a view, e.g. a segment of a larger buffer). Not
 * recorded. Dense on both sides it is a buffer copy, otherwise the strided copy kernel.
 */
export function copyInto(dst: Tensor, src: Tensor): void {
  dst.assertAlive('copyInto', 'destination');
  src.assertAlive('copyInto', 'source');
  if (!sameShape(dst.shape, src.shape) || dst.dtype !== src.dtype) {
    throw new OpError('copyInto', `destination ${dst.dtype} ${fmtShape(dst.shape)} does not match source ${src.dtype} ${fmtShape(src.shape)}`);
  }
  const bpe = BYTES[src.dtype];
  // buffer copies move whole 4-byte words
  const aligned = (src.offset * bpe) % 4 === 0 && (dst.offset * bpe) % 4 === 0 && (src.size * bpe) % 4 === 0;
  if (dst.isContiguous && src.isContiguous && aligned) {
    src.device.copy(src.storage.buf, src.offset * bpe, dst.storage.buf.buffer, dst.offset * bpe, src.size * bpe);
  } else {
    pointwise({ op: 'copy', expr: 'a0', inputs: [src], shape: src.shape, into: dst });
  }
}

/** `x` itself as a new view when dense, otherwise a dense copy. The result is always a new tensor. */
export function contiguous(x: Tensor): Tensor {
  if (x.isContiguous) return alias(x);
  return copy(x);
}

/** A new view of the same layout, differentiable (gradient flows through unchanged). */
function alias(x: Tensor): Tensor {
  x.assertAlive('view');
  const y = view(x, x.shape, x.strides, x.offset);
  return record(y, 'view', [x], [], (gy) => [gy]);
}

/** The same elements in a new shape (one dimension may be -1); a view when `x` is contiguous. */
export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  x.assertAlive('reshape');
  const s = inferShape('reshape', x.shape, shape);
  if (!x.isContiguous) {
    const c = copy(x);
    const r = reshape(c, s);
    c.dispose();
    return r;
  }
  const y = view(x, s, contiguousStrides(s), x.offset);
  return record(y, 'reshape', [x], [], (gy) => [reshape(gy, x.shape)]);
}

/** The dimensions of `x` reordered as `dims` (torch.permute), as a view. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  x.assertAlive('permute');
  const r = x.rank;
  const d = dims.map((a) => normAxis('permute', a, r));
  if (d.length !== r || new Set(d).size !== r) {
    throw new OpError('permute', `dims ${JSON.stringify(dims)} are not a permutation of ${r} axes of ${fmtShape(x.shape)}`);
  }
  const y = view(x, d.map((i) => x.shape[i]), d.map((i) => x.strides[i]), x.offset);
  const inv = new Array<number>(r);
  d.forEach((a, i) => (inv[a] = i));
  return record(y, 'permute', [x], [], (gy) => [permute(gy, inv)]);
}

/** Dimensions `dim0` and `dim1` swapped, as a view. */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const d = [...Array(x.rank).keys()];
  const a = normAxis('transpose', dim0, x.rank);
  const b = normAxis('transpose', dim1, x.rank);
  [d[a], d[b]] = [d[b], d[a]];
  return permute(x, d);
}

/** Broadcast view to `shape` (stride 0 on broadcast dims). Gradient: sum back. */
export function expand(x: Tensor, shape: Shape): Tensor {
  x.assertAlive('expand');
  const s = broadcastShapes('expand', x.shape, shape);
  if (!sameShape(s, shape)) throw new OpError('expand', `cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  const off = s.length - x.rank;
  const strides = s.map((_, j) => (j < off || x.shape[j - off] === 1 ? 0 : x.strides[j - off]));
  const y = view(x, s, strides, x.offset);
  return record(y, 'expand', [x], [], (gy) => [sumTo(gy, x.shape)]);
}

/** Elements [start, end) along `axis`, as a view. */
export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  x.assertAlive('slice');
  const a = normAxis('slice', axis, x.rank);
  const n = x.shape[a];
  if (!(Number.isInteger(start) && Number.isInteger(end) && 0 <= start && start <= end && end <= n)) {
    throw new OpError('slice', `range [${start}, ${end}) is out of bounds for axis ${axis} of ${fmtShape(x.shape)}`);
  }
  const shape = x.shape.map((d, i) => (i === a ? end - start : d));
  const y = view(x, shape, x.strides, x.offset + start * x.strides[a]);
  return record(y, 'slice', [x], [], (gy) => [padSlice(gy, x.shape, a, start)]);
}

/** A tensor of `shape` that is `gy` on [start, start + gy.shape[axis]) of `axis` and zero elsewhere (a slice's gradient). */
function padSlice(gy: Tensor, shape: Shape, axis: number, start: number): Tensor {
  const dev = gy.device;
  const size = numel(shape);
  const inner = numel(shape.slice(axis + 1));
  const stride = outerStride(gy, axis);
  if (size > 0 && inner > 0 && stride !== null && isContiguous(gy.shape.slice(axis), gy.strides.slice(axis))) {
    const gx = empty(dev, shape, gy.dtype, 'slice.grad');
    // counts in vec4s where every one is a multiple of 4
    const q = byVec4(inner, gy.offset, stride) ? 4 : 1;
    const runs = Math.ceil(inner / q / CONCAT_RUN);
    dev.dispatch(
      padKernel(gy.dtype, { vec4: q === 4 }),
      { src: gy.storage.buf, out: gx.storage.buf },
      { n: gx.size / q, A: shape[axis], inner: inner / q, runs, start, len: gy.shape[axis], off: gy.offset / q, ostride: stride / q },
      dev.gridStride((gx.size / inner) * runs, CONCAT_WG),
    );
    return gx;
  }
  // a gradient strided inside the slice: zero-fill, then the strided copy
  const z = zeros(dev, shape, gy.dtype);
  const region = view(z, gy.shape, z.strides, start * z.strides[axis]);
  pointwise({ op: 'slice.grad', expr: 'a0', inputs: [gy], shape: gy.shape, into: region });
  region.dispose();
  return z;
}

/** Split along `axis` into pieces of the given sizes (views). */
export function split(x: Tensor, sizes: readonly number[], axis: number): Tensor[] {
  const a = normAxis('split', axis, x.rank);
  const total = sizes.reduce((s, v) => s + v, 0);
  if (total !== x.shape[a]) throw new OpError('split', `sizes ${JSON.stringify(sizes)} sum to ${total}, not ${x.shape[a]} (axis ${axis} of ${fmtShape(x.shape)})`);
  let at = 0;
  return sizes.map((s) => slice(x, a, at, (at += s)));
}

/** Split into `chunks` pieces like torch.chunk (the last may be smaller). */
export function chunk(x: Tensor, chunks: number, axis: number): Tensor[] {
  const a = normAxis('chunk', axis, x.rank);
  const n = x.shape[a];
  const size = Math.ceil(n / chunks);
  const sizes: number[] = [];
  for (let at = 0; at < n; at += size) sizes.push(Math.min(size, n - at));
  return split(x, sizes, a);
}

/** Concatenate along `axis`; every other dim must match. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new OpError('concat', 'needs at least one tensor');
  xs.forEach((t, i) => t.assertAlive('concat', `input ${i}`));
  const a = normAxis('concat', axis, xs[0].rank);
  for (const t of xs) {
    if (t.rank !== xs[0].rank || t.shape.some((d, i) => i !== a && d !== xs[0].shape[i]) || t.dtype !== xs[0].dtype) {
      throw new OpError('concat', `shapes ${xs.map((u) => fmtShape(u.shape)).join(', ')} differ outside axis ${axis}`);
    }
  }
  const shape = xs[0].shape.map((d, i) => (i === a ? xs.reduce((s, t) => s + t.shape[a], 0) : d));
  const out = empty(xs[0].device, shape, xs[0].dtype, 'concat');
  const starts: number[] = [];
  let at = 0;
  for (const t of xs) {
    starts.push(at);
    at += t.shape[a];
  }
  // One dispatch when every input is dense from the axis down and its outer dims merge into one stride
  // (channel slices of a larger NCHW tensor qualify); otherwise one strided copy per input.
  const inner = numel(shape.slice(a + 1));
  const strides = xs.map((t) => (isContiguous(t.shape.slice(a), t.strides.slice(a)) ? outerStride(t, a) : null));
  if (xs.length <= CONCAT_MAX_INPUTS && strides.every((st) => st !== null)) {
    const dev = xs[0].device;
    if (out.size > 0) {
      // counts in vec4s where every one is a multiple of 4
      const q = byVec4(inner, ...xs.map((t) => t.offset), ...(strides as number[])) ? 4 : 1;
      const runs = Math.ceil(inner / q / CONCAT_RUN);
      dev.dispatch(
        concatKernel({ inputs: xs.length, dtype: out.dtype, ...(q === 4 ? { vec4: true } : {}) }),
        { ...indexed('in', xs.map((t) => t.storage.buf)), out: out.storage.buf },
        { starts: [...starts, at], offs: xs.map((t) => t.offset / q), ostrides: (strides as number[]).map((st) => st / q), n: out.size / q, A: at, inner: inner / q, runs },
        dev.gridStride((out.size / inner) * runs, CONCAT_WG),
      );
    }
  } else {
    xs.forEach((t, k) => {
      const region = view(out, t.shape, out.strides, starts[k] * out.strides[a]);
      pointwise({ op: 'concat', expr: 'a0', inputs: [t], shape: t.shape, into: region });
      region.dispose();
    });
  }
  // gradients are views of gy (no copy): ops that need dense data copy, the conv and BN kernels read slices
  return record(out, 'concat', xs, [], (gy) => xs.map((t, i) => (t.requiresGrad ? slice(gy, a, starts[i], starts[i] + t.shape[a]) : null)));
}

/** The one stride that steps through the dims before `axis` in flat order, or null if they do not merge. */
function outerStride(t: Tensor, axis: number): number | null {
  let stride: number | null = null;
  let span = 0;
  for (let j = axis - 1; j >= 0; j--) {
    if (t.shape[j] === 1) continue;
    if (stride === null) stride = t.strides[j];
    else if (t.strides[j] !== span) return null;
    span = t.strides[j] * t.shape[j];
  }
  return stride ?? 0;
}

/** True if the tensor's data are dense row-major (no copy needed). */
export const isDense = (t: Tensor): boolean => isContiguous(t.shape, t.strides);
