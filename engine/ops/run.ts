// The one place where ops turn tensors into a dispatch of the elementwise kernel: broadcasting strides,
// views as inputs and outputs, and the contiguous fast path.
import { type ElementwiseVariant, ELEMENTWISE_RUN, ELEMENTWISE_WG, elementwiseKernel } from '../../kernels/elementwise.wgsl';
import { type DType, byVec4, indexed } from '../../kernels/common';
import { type Shape, broadcastStrides, isContiguous, numel, sameShape } from '../shape';
import { type Tensor, empty } from '../tensor';
import { OpError, fmtShape } from '../errors';

export interface PointwiseCall {
  readonly op: string;
  readonly expr: string;
  readonly inputs: readonly Tensor[];
  readonly shape: Shape;
  readonly s0?: number;
  readonly s1?: number;
  /** Default: the inputs' dtype when they share one (so gradients of f16 tensors come out f16), else f32. */
  readonly outDtype?: DType;
  /** Write into this (possibly strided) view instead of a new tensor. */
  readonly into?: Tensor;
}

export function checkF32(op: string, ts: readonly Tensor[]): void {
  for (const t of ts) {
    if (t.dtype !== 'f32') throw new OpError(op, `expects float32 tensors, got ${t.dtype} of shape ${fmtShape(t.shape)}; cast() it first`);
  }
}

/** Ops that run in f32 or f16 (forward and backward): all tensors share one dtype, returned. */
export function checkFloat(op: string, ts: readonly Tensor[]): DType {
  const d = ts[0].dtype;
  for (const t of ts) {
    if (t.dtype !== d) throw new OpError(op, `mixes ${d} and ${t.dtype} tensors (${ts.map((u) => `${u.dtype} ${fmtShape(u.shape)}`).join(', ')}); cast() them to one dtype`);
  }
  return d;
}

/** `t` converted to `dtype` (a new tensor; not recorded: cast() is the differentiable op built on it). */
export const convert = (t: Tensor, dtype: DType): Tensor => pointwise({ op: 'cast', expr: 'a0', inputs: [t], shape: t.shape, outDtype: dtype });

/** Dispatch one pointwise expression; inputs are broadcast to `shape`. Returns the output tensor. */
export function pointwise(c: PointwiseCall): Tensor {
  c.inputs.forEach((t, i) => t.assertAlive(c.op, `input ${i}`));
  const dev = c.inputs[0]?.device ?? c.into!.device;
  const common = c.inputs.length > 0 && c.inputs.every((t) => t.dtype === c.inputs[0].dtype) ? c.inputs[0].dtype : 'f32';
  const out = c.into ?? empty(dev, c.shape, c.outDtype ?? common, c.op);
  const n = numel(c.shape);
  if (n === 0) return out;
  const dense = (t: Tensor): boolean => t.offset === 0 && isContiguous(t.shape, t.strides) && sameShape(t.shape, c.shape);
  const contiguous = dense(out) && c.inputs.every(dense);
  let vec4 = contiguous && byVec4(n);
  const params: Record<string, number | number[]> = { n: vec4 ? n / 4 : n, s0: c.s0 ?? 0, s1: c.s1 ?? 0 };
  let invocations = vec4 ? n / 4 : n;
  if (!contiguous) {
    const [shape, [ost, ...sts]] = mergeDims(c.shape, [broadcastStrides(out.shape, out.strides, c.shape), ...c.inputs.map((t) => broadcastStrides(t.shape, t.strides, c.shape))]);
    const r = shape.length;
    const offs = c.inputs.map((t) => t.offset);
    // in vec4s where the innermost dim is dense in every operand and every other count is a multiple of 4
    const all = [ost, ...sts];
    vec4 = all.every((st) => st[r - 1] === 1) && byVec4(shape[r - 1], out.offset, ...offs, ...all.flatMap((st) => st.slice(0, r - 1)));
    const q = vec4 ? 4 : 1;
    const inner = shape[r - 1] / q;
    const runs = Math.ceil(inner / ELEMENTWISE_RUN);
    invocations = (n / q / inner) * runs;
    const scaled = (st: number[]): number[] => st.map((u, d) => (d === r - 1 ? u : u / q));
    Object.assign(params, { n: n / q, shape: [...shape.slice(0, r - 1), inner], rank: r, ost: scaled(ost), ooff: out.offset / q, inner, runs, ois: ost[r - 1] });
    c.inputs.forEach((t, i) => {
      params[`st${i}`] = scaled(sts[i]);
      params[`off${i}`] = offs[i] / q;
      params[`is${i}`] = sts[i][r - 1];
    });
  }
  const variant: ElementwiseVariant = {
    op: c.op,
    expr: c.expr,
    inputs: c.inputs.map((t) => t.dtype),
    out: out.dtype,
    contiguous,
    ...(vec4 ? { vec4 } : {}),
  };
  dev.dispatch(
    elementwiseKernel(variant),
    { ...indexed('in', c.inputs.map((t) => t.storage.buf)), out: out.storage.buf },
    params,
    dev.gridStride(invocations, ELEMENTWISE_WG),
  );
  return out;
}

/**
 * Merge adjacent dims that every operand walks as one (stride[d] = stride[d+1] · shape[d+1] for all), and drop
 * size-1 dims: a channel slice of NCHW becomes [N, C·H·W], so the strided kernel's runs are long.
 */
export function mergeDims(shape: readonly number[], strides: readonly (readonly number[])[]): [number[], number[][]] {
  if (shape.length === 0) return [[1], strides.map(() => [1])];
  const keep = shape.map((s, d) => s !== 1 || d === shape.length - 1);
  let sh = shape.filter((_, d) => keep[d]);
  let st = strides.map((s) => s.filter((_, d) => keep[d]));
  for (let d = sh.length - 2; d >= 0; d--) {
    if (st.every((s) => s[d] === s[d + 1] * sh[d + 1])) {
      sh = [...sh.slice(0, d), sh[d] * sh[d + 1], ...sh.slice(d + 2)];
      st = st.map((s) => [...s.slice(0, d), s[d + 1], ...s.slice(d + 2)]);
    }
  }
  return [sh, st];
}
