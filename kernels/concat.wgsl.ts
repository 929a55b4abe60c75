// Concatenation of up to 8 inputs along one axis in a single dispatch. The output is seen as
// [outer, A, inner]; input k covers [start_k, start_{k+1}) of A and is read at
// off_k + o·ostride_k + (a − start_k)·inner + i, so channel slices of larger tensors need no copy. Each
// invocation copies a run of CONCAT_RUN values along `inner`: the index arithmetic and the choice of input are
// made once per run (on llvmpipe they cost more than the copy). The slice gradient (padKernel) is the same walk
// with one input and zeros around it.
import { type DType, type KernelSource, type ParamField, type VariantList, at8, computeEntry, defineKernel, gridStride, variantKey } from './common';

export const CONCAT_WG = 64;
export const CONCAT_MAX_INPUTS = 8;
export const CONCAT_RUN = 8;

const PARAMS: ParamField[] = [
  { name: 'starts', type: 'u32x8' },
  { name: 'offs', type: 'u32x8' },
  { name: 'ostrides', type: 'u32x8' },
  { name: 'n', type: 'u32' },
  { name: 'A', type: 'u32' },
  { name: 'inner', type: 'u32' },
  { name: 'runs', type: 'u32' },
];

/** `body` for each run r of this invocation: the output row (outer o, position a along the axis), its first value i0. */
const perRun = (body: string): string =>
  gridStride(CONCAT_WG, 'r', '(p.n / p.inner) * p.runs', `    let row = r / p.runs;
    let i0 = (r % p.runs) * ${CONCAT_RUN}u;
    let a = row % p.A;
    let o = row / p.A;
${body}`);

/**
 * Values moved per load: with `vec4` every index of the walk (n, inner, offsets, strides) counts vec4s, for
 * layouts where they are all multiples of 4 (on llvmpipe a vec4 copy costs about what a scalar one does).
 */
export interface CopyWidth {
  readonly vec4?: boolean;
}


/** `dtype` (default f32) is the storage type of every input and the output. */
export function concatKernel(v: { inputs: number; dtype?: DType } & CopyWidth): KernelSource {
  const ks = [...Array(v.inputs).keys()];
  const t = v.vec4 ? `vec4<${v.dtype ?? 'f32'}>` : (v.dtype ?? 'f32');
  const bindings = [...ks.map((k) => ({ name: `in${k}`, access: 'read' as const, type: t })), { name: 'out', access: 'write' as const, type: t }];
  // base index of this run in input k, and the input chosen by the run's position a along the axis
  const branch = (k: number): string => `src = ${at8('p.offs', `${k}u`)} + o * ${at8('p.ostrides', `${k}u`)} + (a - ${at8('p.starts', `${k}u`)}) * p.inner + i0; which = ${k}u;`;
  const chain = ks
    .map((k) => (k === v.inputs - 1 ? `{ ${branch(k)} }` : `if (a < ${at8('p.starts', `${k + 1}u`)}) { ${branch(k)} }`))
    .join(' else ');
  const R = CONCAT_RUN;
  return defineKernel({
    name: 'concat',
    key: variantKey('concat', v),
    workgroupSize: [CONCAT_WG, 1, 1],
    bindings: bindings,
    params: PARAMS,
    body: () => `${computeEntry([CONCAT_WG, 1, 1])} {
${perRun(`    var src = 0u;
    var which = 0u;
    ${chain}
    let dst = row * p.inner + i0;
    let len = min(${R}u, p.inner - i0);
${ks.map((k) => `    if (which == ${k}u) { for (var e = 0u; e < len; e++) { out[dst + e] = in${k}[src + e]; } }`).join('\n')}`)}
}`,
  });
}

const PAD_PARAMS: ParamField[] = ['n', 'A', 'inner', 'runs', 'start', 'len', 'off', 'ostride'].map((name) => ({ name, type: 'u32' }) as ParamField);

/**
 * The gradient of a slice in one pass: the output, seen as [outer, A, inner], is the input on [start, start + len)
 * of A (read at off + o·ostride + (a − start)·inner + i) and zero elsewhere — instead of zero-filling the whole
 * output and then writing the slice.
 */
export function padKernel(dtype: DType = 'f32', width: CopyWidth = {}): KernelSource {
  const R = CONCAT_RUN;
  const t = width.vec4 ? `vec4<${dtype}>` : dtype;
  return defineKernel({
    name: 'slice.grad',
    key: `slice.grad.${t}`,
    workgroupSize: [CONCAT_WG, 1, 1],
    bindings: [{ name: 'src', access: 'read', type: t }, { name: 'out', access: 'write', type: t }],
    params: PAD_PARAMS,
    body: () => `${computeEntry([CONCAT_WG, 1, 1])} {
${perRun(`    let dst = row * p.inner + i0;
    let len = min(${R}u, p.inner - i0);
    if (a >= p.start && a < p.start + p.len) {
      let at = p.off + o * p.ostride + (a - p.start) * p.inner + i0;
      for (var e = 0u; e < len; e++) { out[dst + e] = src[at + e]; }
    } else {
      for (var e = 0u; e < len; e++) { out[dst + e] = ${t}(0.0); }
    }`)}
}`,
  });
}

export const variants: VariantList = (caps) =>
  (caps.f16 ? (['f32', 'f16'] as const) : (['f32'] as const)).flatMap((dtype) =>
    [{}, { vec4: true }].flatMap((w) => [...Array.from({ length: 8 }, (_, k) => concatKernel({ inputs: k + 1, dtype, ...w })), padKernel(dtype, w)]),
  );
