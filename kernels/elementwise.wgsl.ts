// One n-ary elementwise kernel for every pointwise op: the op contributes a WGSL expression over the loaded
// operands a0..a{n-1} (as f32) and the uniform scalars p.s0/p.s1. Inputs and output may be strided views
// (broadcast dims have stride 0), so broadcasting, transposed inputs and writes into a slice of a larger
// tensor (concat) all use this one kernel; a contiguous fast path skips the index arithmetic.
import { type DType, type KernelSource, type ParamField, at8, bindingDecls, computeEntry, enableF16, flatIndex, paramsLayout, variantKey } from './common';

export interface ElementwiseVariant {
  /** Op name (for labels); the expression decides the code. */
  readonly op: string;
  /** WGSL expression of a0..a{n-1} (f32 values) and p.s0, p.s1. */
  readonly expr: string;
  readonly inputs: readonly DType[];
  readonly out: DType;
  /** All operands dense, same shape, offset 0: no index arithmetic. */
  readonly contiguous: boolean;
}

const WG = 64;

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
  }
  const bindings = [
    ...v.inputs.map((d, i) => ({ name: `in${i}`, access: 'read' as const, type: d })),
    { name: 'out', access: 'write' as const, type: v.out },
  ];
  const wg: [number, number, number] = [WG, 1, 1];
  const loads = v.inputs.map((_, i) => `  let a${i} = f32(in${i}[${v.contiguous ? 'idx' : `o${i}`}]);`).join('\n');
  const indexing = v.contiguous
    ? ''
    : `
  var rem = idx;
  var oo = p.ooff;
${v.inputs.map((_, i) => `  var o${i} = p.off${i};`).join('\n')}
  for (var d = i32(p.rank) - 1; d >= 0; d--) {
    let du = u32(d);
    let s = ${at8('p.shape', 'du')};
    let c = rem % s;
    rem = rem / s;
    oo += c * ${at8('p.ost', 'du')};
${v.inputs.map((_, i) => `    o${i} += c * ${at8(`p.st${i}`, 'du')};`).join('\n')}
  }`;
  const code = `${enableF16(v.out === 'f16' || v.inputs.includes('f16') ? 'f16' : 'f32')}${paramsLayout(params).wgsl}
${bindingDecls(bindings, true)}
${PRELUDE}
${computeEntry(wg)} {
  let idx = ${flatIndex(WG)};
  if (idx >= p.n) { return; }${indexing}
${loads}
  out[${v.contiguous ? 'idx' : 'oo'}] = ${v.out}(${v.expr});
}
`;
  return {
    name: `elementwise.${v.op}`,
    key: variantKey('elementwise', { expr: v.expr, inputs: v.inputs, out: v.out, contiguous: v.contiguous, n }),
    code,
    workgroupSize: wg,
    bindings: bindings.map((b) => b.access),
    params,
  };
}

export const ELEMENTWISE_WG = WG;
