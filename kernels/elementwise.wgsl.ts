// One n-ary elementwise kernel for every pointwise op: the op contributes a WGSL expression over the loaded
// operands a0..a{n-1} (as f32) and the uniform scalars p.s0/p.s1. Inputs and output may be strided views
// (broadcast dims have stride 0), so broadcasting, transposed inputs and writes into a slice of a larger
// tensor (concat) all use this one kernel; a contiguous fast path skips the index arithmetic. A strided call
// gives each invocation a run of RUN values along the innermost dim: the index arithmetic (divisions and
// dynamically indexed uniforms, each costing like a load on llvmpipe) is done once per run, not per value.
import { type DType, type KernelSource, type ParamField, type VariantList, at8, computeEntry, defineKernel, gridStride, read, variantKey, write } from './common';

export interface ElementwiseVariant {
  /** Op name (for labels); the expression decides the code. */
  readonly op: string;
  /** WGSL expression of a0..a{n-1} (f32 values) and p.s0, p.s1. */
  readonly expr: string;
  readonly inputs: readonly DType[];
  readonly out: DType;
  /** All operands dense, same shape, offset 0: no index arithmetic. */
  readonly contiguous: boolean;
  /**
   * Operands read and written as vec4s, the expression evaluated per component: every count and offset the walk
   * uses is in vec4s (the caller checks they are multiples of 4, and that the innermost dim has unit strides). On
   * llvmpipe a vec4 load costs about what a scalar one does.
   */
  readonly vec4?: boolean;
}

const WG = 64;
/** Values along the innermost dim per invocation of the strided path. */
export const ELEMENTWISE_RUN = 8;

/** Helpers an expression may call. */
const PRELUDE = `
// A runtime value: WGSL rejects infinities in constant expressions.
fn inf_() -> f32 { var b = 0x7f800000u; return bitcast<f32>(b); }
fn sigmoid_(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }
fn tanh_(x: f32) -> f32 { let t = exp(-2.0 * abs(x)); return sign(x) * (1.0 - t) / (1.0 + t); }
fn pow_(x: f32, e: f32) -> f32 {
  if (x > 0.0) { return pow(x, e); }
  if (x == 0.0) { return select(select(0.0, inf_(), e < 0.0), 1.0, e == 0.0); }
  if (fract(e) != 0.0) { var nan = 0x7fc00000u; return bitcast<f32>(nan); }
  let r = pow(-x, e);
  return select(r, -r, (i32(e) & 1) != 0);
}
fn log_(x: f32) -> f32 { return select(log(x), -inf_(), x == 0.0); }
`;

export function elementwiseKernel(v: ElementwiseVariant): KernelSource {
  const n = v.inputs.length;
  const params: ParamField[] = [{ name: 'n', type: 'u32' }, { name: 's0', type: 'f32' }, { name: 's1', type: 'f32' }];
  if (!v.contiguous) {
    params.push({ name: 'shape', type: 'u32x8' }, { name: 'rank', type: 'u32' }, { name: 'ost', type: 'u32x8' }, { name: 'ooff', type: 'u32' });
    for (let i = 0; i < n; i++) params.push({ name: `st${i}`, type: 'u32x8' }, { name: `off${i}`, type: 'u32' });
    // the innermost dim's size and strides as scalars (runs step along it without indexing the arrays)
    params.push({ name: 'inner', type: 'u32' }, { name: 'runs', type: 'u32' }, { name: 'ois', type: 'u32' });
    for (let i = 0; i < n; i++) params.push({ name: `is${i}`, type: 'u32' });
  }
  const vt = (d: DType): string => (v.vec4 ? `vec4<${d}>` : d);
  const bindings = [...v.inputs.map((d, i) => read(`in${i}`, vt(d))), write('out', vt(v.out))];
  const wg: [number, number, number] = [WG, 1, 1];
  const R = ELEMENTWISE_RUN;
  // out[o] = expr(in0[i0], …): per value, or per component of vec4s
  const apply = (o: string, idx: (i: number) => string, pad: string): string =>
    v.vec4
      ? `${v.inputs.map((_, i) => `${pad}let v${i} = ${idx(i)};`).join('\n')}
${pad}var r_: vec4<${v.out}>;
${['x', 'y', 'z', 'w'].map((c) => `${pad}{ ${v.inputs.map((_, i) => `let a${i} = f32(v${i}.${c}); `).join('')}r_.${c} = ${v.out}(${v.expr}); }`).join('\n')}
${pad}out[${o}] = r_;`
      : `${v.inputs.map((_, i) => `${pad}let a${i} = f32(${idx(i)});`).join('\n')}
${pad}out[${o}] = ${v.out}(${v.expr});`;
  const body = (): string => v.contiguous
    ? gridStride(WG, 'idx', 'p.n', apply('idx', (i) => `in${i}[idx]`, '    '))
    : gridStride(WG, 't', '(p.n / p.inner) * p.runs', `    // row: index over the outer dims; j0: first value of this run along the innermost dim
    var rem = t / p.runs;
    let j0 = (t % p.runs) * ${R}u;
    var oo = p.ooff + j0 * p.ois;
${v.inputs.map((_, i) => `    var o${i} = p.off${i} + j0 * p.is${i};`).join('\n')}
    for (var d = i32(p.rank) - 2; d >= 0; d--) {
      let du = u32(d);
      let s = ${at8('p.shape', 'du')};
      let c = rem % s;
      rem = rem / s;
      oo += c * ${at8('p.ost', 'du')};
${v.inputs.map((_, i) => `      o${i} += c * ${at8(`p.st${i}`, 'du')};`).join('\n')}
    }
    for (var e = 0u; e < ${R}u; e++) {
      if (j0 + e >= p.inner) { break; }
${apply('oo + e * p.ois', (i) => `in${i}[o${i} + e * p.is${i}]`, '      ')}
    }`);
  return defineKernel({
    name: `elementwise.${v.op}`,
    key: variantKey('elementwise', { expr: v.expr, inputs: v.inputs, out: v.out, contiguous: v.contiguous, n, vec4: v.vec4 === true }),
    workgroupSize: wg,
    bindings,
    params,
    body: () => `${PRELUDE}
${computeEntry(wg)} {
${body()}
}`,
  });
}

export const ELEMENTWISE_WG = WG;

/** Representative expressions of each arity and dtype (the ops' own expressions are compiled by the op tests). */
export const variants: VariantList = (caps) => {
  const exprs: [string, number][] = [['a0', 1], ['sigmoid_(a0) * p.s0', 1], ['pow_(a0, a1)', 2], ['select(a1, a2, a0 > 0.0)', 3]];
  const dtypes: DType[] = caps.f16 ? ['f32', 'f16'] : ['f32'];
  return dtypes.flatMap((d) =>
    [true, false].flatMap((contiguous) =>
      [false, true].flatMap((vec4) => exprs.map(([expr, n]) => elementwiseKernel({ op: 'variant', expr, inputs: Array<DType>(n).fill(d), out: d, contiguous, vec4 }))),
    ),
  );
};
