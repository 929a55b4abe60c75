// Reductions along one (merged) axis of a dense tensor seen as [outer, R, inner]. Two schedules:
// 'thread' — one invocation per output row (many rows, short R: softmax over classes, DFL bins);
// 'group'  — one workgroup per (row, split), a shared-memory tree over R (few long rows: global sums).
// Softmax-like ops write a full-size output in the same layout.
import { type KernelSource, type ParamField, type VariantList, computeEntry, defineKernel, flatIndex, variantKey } from './common';

export type ReduceOp = 'sum' | 'max' | 'argmax' | 'logsumexp' | 'softmax' | 'logsoftmax';
export interface ReduceVariant {
  readonly op: ReduceOp;
  readonly mode: 'thread' | 'group';
  /**
   * Sum per thread, four adjacent rows per invocation read as vec4s: `inner` and the offset count vec4s (the caller
   * checks they are multiples of 4). The weight gradient's partial sums take it.
   */
  readonly vec4?: boolean;
}

export const REDUCE_WG = 64;
const PARAMS: ParamField[] = [
  { name: 'outer', type: 'u32' },
  { name: 'R', type: 'u32' },
  { name: 'inner', type: 'u32' },
  { name: 'inOff', type: 'u32' },
  { name: 'chunk', type: 'u32' },
  { name: 'splits', type: 'u32' },
];
const NEG_INF = '-0x1.fffffep+127f';

const writesFull = (op: ReduceOp): boolean => op === 'softmax' || op === 'logsoftmax';

function threadBody(op: ReduceOp, vec4 = false): string {
  const loop = (body: string): string => `for (var r = 0u; r < p.R; r++) { let v = x[base + r * p.inner]; ${body} }`;
  if (vec4 && op !== 'sum') throw new Error(`reduce.${op}: vec4 rows are for sums only`);
  if (vec4) return `var acc = vec4<f32>(0.0);\n  ${loop('acc += v;')}\n  out[row] = acc;`;
  const lse = `var m = ${NEG_INF};\n  ${loop('m = max(m, v);')}\n  var s = 0.0;\n  ${loop('s += exp(v - m);')}`;
  switch (op) {
    case 'sum':
      return `var acc = 0.0;\n  ${loop('acc += v;')}\n  out[row] = acc;`;
    case 'max':
      return `var m = ${NEG_INF};\n  ${loop('m = max(m, v);')}\n  out[row] = m;`;
    case 'argmax':
      return `var m = ${NEG_INF};\n  var k = 0u;\n  ${loop('if (v > m) { m = v; k = r; }')}\n  out[row] = m;\n  out2[row] = f32(k);`;
    case 'logsumexp':
      return `${lse}\n  out[row] = m + log(s);`;
    case 'softmax':
      return `${lse}\n  let inv = 1.0 / s;\n  ${loop('out[obase + r * p.inner] = exp(v - m) * inv;')}`;
    case 'logsoftmax':
      return `${lse}\n  let ls = m + log(s);\n  ${loop('out[obase + r * p.inner] = v - ls;')}`;
  }
}

/** Shared-memory tree combine of sh (and shi for argmax); leaves the result in sh[0]. */
function tree(combine: string): string {
  return `workgroupBarrier();
  for (var st = ${REDUCE_WG / 2}u; st > 0u; st = st >> 1u) {
    if (lid < st) { ${combine} }
    workgroupBarrier();
  }`;
}

function groupBody(op: ReduceOp): string {
  const range = `let r0 = split * p.chunk;\n  let r1 = min(p.R, r0 + p.chunk);`;
  const loop = (body: string): string => `for (var r = r0 + lid; r < r1; r += ${REDUCE_WG}u) { let v = x[base + r * p.inner]; ${body} }`;
  const maxPass = `var m = ${NEG_INF};\n  ${loop('m = max(m, v);')}\n  sh[lid] = m;\n  ${tree('sh[lid] = max(sh[lid], sh[lid + st]);')}\n  let M = sh[0];\n  workgroupBarrier();`;
  const sumExpPass = `var s = 0.0;\n  ${loop('s += exp(v - M);')}\n  sh[lid] = s;\n  ${tree('sh[lid] = sh[lid] + sh[lid + st];')}\n  let S = sh[0];`;
  switch (op) {
    case 'sum':
      return `${range}\n  var acc = 0.0;\n  ${loop('acc += v;')}\n  sh[lid] = acc;\n  ${tree('sh[lid] = sh[lid] + sh[lid + st];')}\n  if (lid == 0u) { out[row * p.splits + split] = sh[0]; }`;
    case 'max':
      return `${range}\n  ${maxPass}\n  if (lid == 0u) { out[row * p.splits + split] = M; }`;
    case 'argmax':
      return `${range}\n  var m = ${NEG_INF};\n  var k = 0xffffffffu;\n  ${loop('if (v > m) { m = v; k = r; }')}\n  sh[lid] = m;\n  shi[lid] = k;\n  ${tree(
        'let a = sh[lid]; let b = sh[lid + st]; let ka = shi[lid]; let kb = shi[lid + st]; if (b > a || (b == a && kb < ka)) { sh[lid] = b; shi[lid] = kb; }',
      )}\n  if (lid == 0u) { out[row] = sh[0]; out2[row] = f32(shi[0]); }`;
    case 'logsumexp':
      return `${range}\n  ${maxPass}\n  ${sumExpPass}\n  if (lid == 0u) { out[row] = M + log(S); }`;
    case 'softmax':
      return `${range}\n  ${maxPass}\n  ${sumExpPass}\n  let inv = 1.0 / S;\n  ${loop('out[obase + r * p.inner] = exp(v - M) * inv;')}`;
    case 'logsoftmax':
      return `${range}\n  ${maxPass}\n  ${sumExpPass}\n  let ls = M + log(S);\n  ${loop('out[obase + r * p.inner] = v - ls;')}`;
  }
}

export function reduceKernel(v: ReduceVariant): KernelSource {
  const vec4 = v.vec4 === true;
  if (vec4 && v.mode !== 'thread') throw new Error('reduce: vec4 rows need the thread schedule');
  const bindings = [
    { name: 'x', access: 'read' as const, type: vec4 ? 'vec4<f32>' : 'f32' },
    { name: 'out', access: 'write' as const, type: vec4 ? 'vec4<f32>' : 'f32' },
    ...(v.op === 'argmax' ? [{ name: 'out2', access: 'write' as const, type: 'f32' }] : []),
  ];
  const thread = v.mode === 'thread';
  const wg: [number, number, number] = [REDUCE_WG, 1, 1];
  const rowDecl = thread
    ? `let row = ${flatIndex(REDUCE_WG)};\n  if (row >= p.outer * p.inner) { return; }`
    : `let row = wid.x + wid.y * nwg.x;\n  let split = wid.z;\n  if (row >= p.outer * p.inner) { return; }`;
  const shared = thread ? '' : `var<workgroup> sh: array<f32, ${REDUCE_WG}>;\n${v.op === 'argmax' ? `var<workgroup> shi: array<u32, ${REDUCE_WG}>;` : ''}`;
  // the WGSL text is built only when the pipeline cache misses
  const body = (): string => `${shared}
${computeEntry(wg)} {
  ${rowDecl}
  let o = row / p.inner;
  let i = row % p.inner;
  let base = p.inOff + o * p.R * p.inner + i;
  ${writesFull(v.op) ? 'let obase = o * p.R * p.inner + i;' : ''}
  ${thread ? threadBody(v.op, vec4) : groupBody(v.op)}
}`;
  return defineKernel({ name: `reduce.${v.op}.${v.mode}`, key: variantKey('reduce', v), workgroupSize: wg, bindings, params: PARAMS, body });
}

/** gx[o, r, i] = (r == idx[o, i]) ? gy[o, i] : 0 — the gradient of max/argmax along one axis. */
export function scatterArgKernel(): KernelSource {
  const params: ParamField[] = [
    { name: 'outer', type: 'u32' },
    { name: 'R', type: 'u32' },
    { name: 'inner', type: 'u32' },
  ];
  const bindings = [
    { name: 'gy', access: 'read' as const, type: 'f32' },
    { name: 'idx', access: 'read' as const, type: 'f32' },
    { name: 'gx', access: 'write' as const, type: 'f32' },
  ];
  return defineKernel({
    name: 'reduce.scatter_arg',
    key: 'reduce.scatter_arg',
    workgroupSize: [REDUCE_WG, 1, 1],
    bindings: bindings,
    params: params,
    body: () => `${computeEntry([REDUCE_WG, 1, 1])} {
  let e = ${flatIndex(REDUCE_WG)};
  if (e >= p.outer * p.R * p.inner) { return; }
  let i = e % p.inner;
  let r = (e / p.inner) % p.R;
  let o = e / (p.inner * p.R);
  let row = o * p.inner + i;
  gx[e] = select(0.0, gy[row], u32(idx[row]) == r);
}`,
  });
}

export const variants: VariantList = () => [
  ...(['sum', 'max', 'argmax', 'logsumexp', 'softmax', 'logsoftmax'] as const).flatMap((op) => (['thread', 'group'] as const).map((mode) => reduceKernel({ op, mode }))),
  reduceKernel({ op: 'sum', mode: 'thread', vec4: true }),
  scatterArgKernel(),
];
