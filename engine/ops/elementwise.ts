// Pointwise ops as one table: each row holds the WGSL forward expression, the WGSL expressions of its input
// gradients, and a CPU reference used by the tests. Broadcasting follows NumPy; the gradient of a broadcast
// input is summed back to its shape.
import { record } from '../tape';
import { OpError } from '../errors';
import { broadcastShapes, sameShape } from '../shape';
import type { Tensor } from '../tensor';
import { checkF32, checkFloat, convert, pointwise } from './run';
import { sumTo } from './reduce';

/** A unary op: forward of `a0` (x); gradient of (a0 = x, a1 = gy); scalars p.s0/p.s1 available to both. */
interface UnaryRow {
  readonly fwd: string;
  readonly grad: string | null;
  readonly ref: (x: number, s0: number, s1: number) => number;
}

const sig = (x: number): number => 1 / (1 + Math.exp(-x));

/** The elementwise unary ops (the `op` names of unary()): WGSL forward and gradient expressions and a CPU reference of each. */
export const UNARY = {
  neg: { fwd: '-a0', grad: '-a1', ref: (x) => -x },
  exp: { fwd: 'exp(a0)', grad: 'a1 * exp(a0)', ref: Math.exp },
  log: { fwd: 'log_(a0)', grad: 'a1 / a0', ref: Math.log },
  sqrt: { fwd: 'sqrt(a0)', grad: 'a1 * 0.5 / sqrt(a0)', ref: Math.sqrt },
  abs: { fwd: 'abs(a0)', grad: 'a1 * sign(a0)', ref: Math.abs },
  sigmoid: { fwd: 'sigmoid_(a0)', grad: 'a1 * sigmoid_(a0) * (1.0 - sigmoid_(a0))', ref: sig },
  silu: { fwd: 'a0 * sigmoid_(a0)', grad: 'a1 * sigmoid_(a0) * (1.0 + a0 * (1.0 - sigmoid_(a0)))', ref: (x) => x * sig(x) },
  relu: { fwd: 'max(a0, 0.0)', grad: 'select(0.0, a1, a0 > 0.0)', ref: (x) => Math.max(x, 0) },
  tanh: { fwd: 'tanh_(a0)', grad: 'a1 * (1.0 - tanh_(a0) * tanh_(a0))', ref: Math.tanh },
  atan: { fwd: 'atan(a0)', grad: 'a1 / (1.0 + a0 * a0)', ref: Math.atan },
  clamp: { fwd: 'clamp(a0, p.s0, p.s1)', grad: 'select(0.0, a1, a0 >= p.s0 && a0 <= p.s1)', ref: (x, lo, hi) => Math.min(Math.max(x, lo), hi) },
  powScalar: { fwd: 'pow_(a0, p.s0)', grad: 'a1 * p.s0 * pow_(a0, p.s0 - 1.0)', ref: (x, e) => x ** e },
  scale: { fwd: 'a0 * p.s0 + p.s1', grad: 'a1 * p.s0', ref: (x, a, b) => x * a + b },
  identity: { fwd: 'a0', grad: 'a1', ref: (x) => x },
} satisfies Record<string, UnaryRow>;

/** Name of an elementwise unary op. */
export type UnaryOp = keyof typeof UNARY;

/** Binary op: forward of (a0, a1); gradients of (a0, a1, a2 = gy) for each input, or null. */
interface BinaryRow {
  readonly fwd: string;
  readonly grads: readonly [string, string] | null;
  readonly ref: (a: number, b: number) => number;
}

/** The elementwise binary ops (the `op` names of binary()): WGSL forward and gradient expressions and a CPU reference of each. */
export const BINARY = {
  add: { fwd: 'a0 + a1', grads: ['a2', 'a2'], ref: (a, b) => a + b },
  sub: { fwd: 'a0 - a1', grads: ['a2', '-a2'], ref: (a, b) => a - b },
  mul: { fwd: 'a0 * a1', grads: ['a2 * a1', 'a2 * a0'], ref: (a, b) => a * b },
  div: { fwd: 'a0 / a1', grads: ['a2 / a1', '-a2 * a0 / (a1 * a1)'], ref: (a, b) => a / b },
  pow: { fwd: 'pow_(a0, a1)', grads: ['a2 * a1 * pow_(a0, a1 - 1.0)', 'a2 * pow_(a0, a1) * log_(a0)'], ref: (a, b) => a ** b },
  // ties split the gradient in half between the inputs, as PyTorch's maximum/minimum do
  maximum: { fwd: 'max(a0, a1)', grads: ['select(select(0.0, a2, a0 > a1), 0.5 * a2, a0 == a1)', 'select(select(0.0, a2, a1 > a0), 0.5 * a2, a0 == a1)'], ref: Math.max },
  minimum: { fwd: 'min(a0, a1)', grads: ['select(select(0.0, a2, a0 < a1), 0.5 * a2, a0 == a1)', 'select(select(0.0, a2, a1 < a0), 0.5 * a2, a0 == a1)'], ref: Math.min },
  // binary cross-entropy of logits a0 against targets a1, in the overflow-free form max(x,0) − x·t + log(1 + e^−|x|)
  bceLogits: {
    fwd: 'max(a0, 0.0) - a0 * a1 + log(1.0 + exp(-abs(a0)))',
    grads: ['a2 * (sigmoid_(a0) - a1)', '-a2 * a0'],
    ref: (x, t) => Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x))),
  },
  gt: { fwd: 'select(0.0, 1.0, a0 > a1)', grads: null, ref: (a, b) => +(a > b) },
  ge: { fwd: 'select(0.0, 1.0, a0 >= a1)', grads: null, ref: (a, b) => +(a >= b) },
  lt: { fwd: 'select(0.0, 1.0, a0 < a1)', grads: null, ref: (a, b) => +(a < b) },
  le: { fwd: 'select(0.0, 1.0, a0 <= a1)', grads: null, ref: (a, b) => +(a <= b) },
  eq: { fwd: 'select(0.0, 1.0, a0 == a1)', grads: null, ref: (a, b) => +(a === b) },
  ne: { fwd: 'select(0.0, 1.0, a0 != a1)', grads: null, ref: (a, b) => +(a !== b) },
} satisfies Record<string, BinaryRow>;

/** Name of an elementwise binary op. */
export type BinaryOp = keyof typeof BINARY;

/** Applies the elementwise op `op` (a key of UNARY) to `x`; `s0`, `s1` are the op's scalar arguments. */
export function unary(op: UnaryOp, x: Tensor, s0 = 0, s1 = 0): Tensor {
  const dtype = checkFloat(op, [x]);
  const row: UnaryRow = UNARY[op];
  const y = pointwise({ op, expr: row.fwd, inputs: [x], shape: x.shape, s0, s1, outDtype: dtype });
  return record(y, op, [x], [x], (gy, [xs]) => [pointwise({ op: `${op}.grad`, expr: row.grad!, inputs: [xs, gy], shape: x.shape, s0, s1 })]);
}

/** Applies the elementwise op `op` (a key of BINARY) to `a` and `b` with NumPy broadcasting. */
export function binary(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const dtype = checkFloat(op, [a, b]);
  if (a.device !== b.device) throw new OpError(op, 'inputs live on different devices');
  const row: BinaryRow = BINARY[op];
  const shape = broadcastShapes(op, a.shape, b.shape);
  const y = pointwise({ op, expr: row.fwd, inputs: [a, b], shape, outDtype: dtype });
  if (!row.grads) return y;
  const [ga, gb] = row.grads;
  // A gradient that is gy itself (add, sub's first input) for an input of the output's shape needs no kernel:
  // the autograd walk takes gy as a view.
  const grad = (expr: string, i: 0 | 1, input: Tensor, saved: readonly Tensor[], gy: Tensor): Tensor =>
    expr === 'a2' && sameShape(input.shape, shape)
      ? gy
      : reduceGrad(pointwise({ op: `${op}.grad${i}`, expr, inputs: [saved[0], saved[1], gy], shape }), input);
  return record(y, op, [a, b], [a, b], (gy, saved) => [
    a.requiresGrad ? grad(ga, 0, a, saved, gy) : null,
    b.requiresGrad ? grad(gb, 1, b, saved, gy) : null,
  ]);
}

/** Sum a full-shape gradient back to the (broadcast) input's shape, disposing the temporary. */
function reduceGrad(g: Tensor, input: Tensor): Tensor {
  const r = sumTo(g, input.shape);
  if (r !== g) g.dispose();
  return r;
}

/** −x, elementwise. */
export const neg = (x: Tensor): Tensor => unary('neg', x);
/** eˣ, elementwise. */
export const exp = (x: Tensor): Tensor => unary('exp', x);
/** Natural logarithm, elementwise. */
export const log = (x: Tensor): Tensor => unary('log', x);
/** Square root, elementwise. */
export const sqrt = (x: Tensor): Tensor => unary('sqrt', x);
/** |x|, elementwise. */
export const abs = (x: Tensor): Tensor => unary('abs', x);
/** 1 / (1 + e⁻ˣ), elementwise. */
export const sigmoid = (x: Tensor): Tensor => unary('sigmoid', x);
/** x · sigmoid(x) (SiLU / swish), elementwise. */
export const silu = (x: Tensor): Tensor => unary('silu', x);
/** max(x, 0), elementwise. */
export const relu = (x: Tensor): Tensor => unary('relu', x);
/** Hyperbolic tangent, elementwise. */
export const tanh = (x: Tensor): Tensor => unary('tanh', x);
/** Arctangent, elementwise. */
export const atan = (x: Tensor): Tensor => unary('atan', x);
/** x limited to [min, max], elementwise (the gradient is zero outside the range). */
export const clamp = (x: Tensor, min: number, max: number): Tensor => {
  if (!(min <= max)) throw new OpError('clamp', `min ${min} is greater than max ${max}`);
  return unary('clamp', x, min, max);
};
/** x ** exponent for a constant exponent (negative bases allowed for integer exponents). */
export const powScalar = (x: Tensor, exponent: number): Tensor => unary('powScalar', x, exponent);
/** x * a + b for constants a, b. */
export const scale = (x: Tensor, a: number, b = 0): Tensor => unary('scale', x, a, b);

/** a + b with broadcasting. */
export const add = (a: Tensor, b: Tensor): Tensor => binary('add', a, b);
/** a − b with broadcasting. */
export const sub = (a: Tensor, b: Tensor): Tensor => binary('sub', a, b);
/** a · b with broadcasting. */
export const mul = (a: Tensor, b: Tensor): Tensor => binary('mul', a, b);
/** a / b with broadcasting. */
export const div = (a: Tensor, b: Tensor): Tensor => binary('div', a, b);
/** a ** b with broadcasting. */
export const pow = (a: Tensor, b: Tensor): Tensor => binary('pow', a, b);
/** The larger of a and b, elementwise with broadcasting. */
export const maximum = (a: Tensor, b: Tensor): Tensor => binary('maximum', a, b);
/** The smaller of a and b, elementwise with broadcasting. */
export const minimum = (a: Tensor, b: Tensor): Tensor => binary('minimum', a, b);
/** Elementwise binary cross-entropy with logits (PyTorch's BCEWithLogitsLoss, reduction 'none'). */
export const bceWithLogits = (logits: Tensor, targets: Tensor): Tensor => binary('bceLogits', logits, targets);
/** 1 where a > b, else 0 (broadcasting; no gradient). */
export const gt = (a: Tensor, b: Tensor): Tensor => binary('gt', a, b);
/** 1 where a ≥ b, else 0 (broadcasting; no gradient). */
export const ge = (a: Tensor, b: Tensor): Tensor => binary('ge', a, b);
/** 1 where a < b, else 0 (broadcasting; no gradient). */
export const lt = (a: Tensor, b: Tensor): Tensor => binary('lt', a, b);
/** 1 where a ≤ b, else 0 (broadcasting; no gradient). */
export const le = (a: Tensor, b: Tensor): Tensor => binary('le', a, b);
/** 1 where a = b, else 0 (broadcasting; no gradient). */
export const eq = (a: Tensor, b: Tensor): Tensor => binary('eq', a, b);
/** 1 where a ≠ b, else 0 (broadcasting; no gradient). */
export const ne = (a: Tensor, b: Tensor): Tensor => binary('ne', a, b);

/** cond != 0 ? a : b, broadcasting all three. cond gets no gradient. */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  checkF32('where', [cond, a, b]);
  const shape = broadcastShapes('where', cond.shape, a.shape, b.shape);
  const y = pointwise({ op: 'where', expr: 'select(a2, a1, a0 != 0.0)', inputs: [cond, a, b], shape });
  return record(y, 'where', [a, b], [cond], (gy, [cs]) => [
    a.requiresGrad ? reduceGrad(pointwise({ op: 'where.grad0', expr: 'select(0.0, a1, a0 != 0.0)', inputs: [cs, gy], shape }), a) : null,
    b.requiresGrad ? reduceGrad(pointwise({ op: 'where.grad1', expr: 'select(a1, 0.0, a0 != 0.0)', inputs: [cs, gy], shape }), b) : null,
  ]);
}

/** Convert between f32 and f16 storage (f16 needs the shader-f16 feature). Differentiable. */
export function cast(x: Tensor, dtype: 'f32' | 'f16'): Tensor {
  x.assertAlive('cast');
  const y = convert(x, dtype);
  const from = x.dtype;
  return record(y, 'cast', [x], [], (gy) => [convert(gy, from)]);
}
