// Shape arithmetic shared by every op: sizes, strides, broadcasting, axis normalisation.
import { OpError, fmtShape } from './errors';

/** A tensor shape: the size of each dimension. */
export type Shape = readonly number[];

export const MAX_RANK = 8;

export const numel = (s: Shape): number => s.reduce((a, b) => a * b, 1);

export function contiguousStrides(s: Shape): number[] {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s[i];
  }
  return st;
}

export const sameShape = (a: Shape, b: Shape): boolean => a.length === b.length && a.every((d, i) => d === b[i]);

/** NumPy broadcasting of several shapes; throws naming the op and every shape. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i];
      if (out[j] === 1) out[j] = d;
      else if (d !== 1 && d !== out[j]) {
        throw new OpError(op, `shapes ${shapes.map(fmtShape).join(' and ')} cannot be broadcast together (dim ${j}: ${out[j]} vs ${d})`);
      }
    }
  }
  return out;
}

/** Strides of `s` (with its own strides) seen as broadcast to `target`: broadcast dims get stride 0. */
export function broadcastStrides(s: Shape, strides: readonly number[], target: Shape): number[] {
  const off = target.length - s.length;
  return target.map((_, j) => {
    const i = j - off;
    if (i < 0) return 0;
    return s[i] === 1 ? 0 : strides[i];
  });
}

export function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(axis) || a < 0 || a >= rank) throw new OpError(op, `axis ${axis} out of range for rank ${rank}`);
  return a;
}

export function normAxes(op: string, axes: number | readonly number[] | undefined, rank: number): number[] {
  if (axes === undefined) return [...Array(rank).keys()];
  const list = (typeof axes === 'number' ? [axes] : axes).map((a) => normAxis(op, a, rank));
  if (new Set(list).size !== list.length) throw new OpError(op, `repeated axis in ${JSON.stringify(axes)}`);
  return list.sort((a, b) => a - b);
}

export function checkShape(op: string, shape: Shape): void {
  if (shape.length > MAX_RANK) throw new OpError(op, `rank ${shape.length} exceeds the supported ${MAX_RANK} (shape ${fmtShape(shape)})`);
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new OpError(op, `invalid shape ${fmtShape(shape)}`);
  }
}

/** Resolve one -1 in a reshape target. */
export function inferShape(op: string, from: Shape, to: readonly number[]): number[] {
  const n = numel(from);
  const neg = to.filter((d) => d === -1).length;
  if (neg > 1) throw new OpError(op, `at most one -1 allowed in ${fmtShape(to)}`);
  const known = to.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const out = to.map((d) => (d === -1 ? (known === 0 ? 0 : n / known) : d));
  if (numel(out) !== n || out.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new OpError(op, `cannot reshape ${fmtShape(from)} (${n} elements) to ${fmtShape(to)}`);
  }
  return out;
}

/** Are (shape, strides) a dense row-major layout? Size-1 dims may have any stride. */
export function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== acc) return false;
    acc *= shape[i];
  }
  return true;
}
