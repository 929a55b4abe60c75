// Shared pieces of every kernel: the typed description the engine compiles and binds, the uniform
// `Params` struct derived from typed fields (so the WGSL struct and the TS packing can never disagree),
// and small WGSL helpers. Kernels are pure functions from a variant to a KernelSource: no GPU objects here.

/** Scalar or 8-wide array (shapes/strides up to rank 8) uniform field. */
export type ParamType = 'u32' | 'i32' | 'f32' | 'u32x8' | 'i32x8';

export interface ParamField {
  readonly name: string;
  readonly type: ParamType;
}

/** How a storage binding is used; the uniform `Params` is always the last binding. */
export type Access = 'read' | 'write';

/** One storage binding, declared once: its WGSL name, access and element type. */
export interface Binding {
  readonly name: string;
  readonly access: Access;
  /** WGSL element type of the `array<...>` (f32, f16, u32, i32, atomic<u32>, ...). */
  readonly type: string;
}

/** Whether values counted by `counts` (sizes, offsets, strides) can all be moved as aligned vec4s. */
export const byVec4 = (...counts: number[]): boolean => counts.every((c) => c % 4 === 0);

export const read = (name: string, type: string = 'f32'): Binding => ({ name, access: 'read', type });
export const write = (name: string, type: string = 'f32'): Binding => ({ name, access: 'write', type });

/**
 * A compilable kernel variant. The key is computed up front (cheap); the WGSL text is built by `code()` only
 * when the pipeline cache misses, so a repeated dispatch never generates source text.
 */
export interface KernelSource {
  /** Kernel family, e.g. 'conv2d.fwd'; used for labels and error messages. */
  readonly name: string;
  /** Stable key of the variant (everything that changes the code, never sizes). */
  readonly key: string;
  readonly workgroupSize: readonly [number, number, number];
  /** Storage bindings in binding order (0..n-1); binding n is the uniform Params when `params` is non-empty. */
  readonly bindings: readonly Binding[];
  readonly params: readonly ParamField[];
  /** The full WGSL module. */
  code(): string;
}

export interface KernelSpec extends Omit<KernelSource, 'code'> {
  /** WGSL extensions to enable besides f16, which follows from the binding types (e.g. ['subgroups']). */
  readonly enable?: readonly string[];
  /** Everything after the Params struct and the binding declarations: helper functions and `main`. */
  readonly body: () => string;
}

/**
 * The one way to declare a kernel: bindings and parameters are declared once and both the WGSL declarations
 * and the engine's bind-group layout derive from them.
 */
export function defineKernel(spec: KernelSpec): KernelSource {
  const { name, key, workgroupSize, bindings, params, body } = spec;
  return {
    name,
    key,
    workgroupSize,
    bindings,
    params,
    code: () => {
      const ext = new Set(spec.enable ?? []);
      if (bindings.some((b) => /\bf16\b/.test(b.type))) ext.add('f16');
      const enables = [...ext].map((e) => `enable ${e};\n`).join('');
      return `${enables}${paramsLayout(params).wgsl}\n${bindingDecls(bindings, params.length > 0)}\n${body()}\n`;
    },
  };
}

export interface ParamsLayout {
  readonly wgsl: string;
  /** Byte size of the struct (a multiple of 16). */
  readonly size: number;
  readonly offsets: ReadonlyMap<string, { offset: number; type: ParamType }>;
}

const arrayType = (t: ParamType): boolean => t === 'u32x8' || t === 'i32x8';

/** Arrays first (16-byte aligned, 32 bytes each), then 4-byte scalars, in declaration order. */
export function paramsLayout(fields: readonly ParamField[]): ParamsLayout {
  const ordered = [...fields.filter((f) => arrayType(f.type)), ...fields.filter((f) => !arrayType(f.type))];
  const offsets = new Map<string, { offset: number; type: ParamType }>();
  const lines: string[] = [];
  let offset = 0;
  for (const f of ordered) {
    offsets.set(f.name, { offset, type: f.type });
    if (f.type === 'u32x8') lines.push(`  ${f.name}: array<vec4<u32>, 2>,`);
    else if (f.type === 'i32x8') lines.push(`  ${f.name}: array<vec4<i32>, 2>,`);
    else lines.push(`  ${f.name}: ${f.type},`);
    offset += arrayType(f.type) ? 32 : 4;
  }
  if (ordered.length === 0) lines.push('  unused: u32,');
  const size = Math.max(16, Math.ceil(offset / 16) * 16);
  return { wgsl: `struct Params {\n${lines.join('\n')}\n}`, size, offsets };
}

export type ParamValues = Readonly<Record<string, number | readonly number[]>>;

/** Write `values` into `view` at byteOffset following `layout`; unknown or missing fields throw. */
export function packParams(kernel: string, layout: ParamsLayout, values: ParamValues, view: DataView, byteOffset: number): void {
  for (const [name, { offset, type }] of layout.offsets) {
    const v = values[name];
    if (v === undefined) throw new Error(`${kernel}: missing uniform parameter '${name}'`);
    const at = byteOffset + offset;
    if (type === 'u32x8' || type === 'i32x8') {
      if (typeof v === 'number' || v.length > 8) throw new Error(`${kernel}: parameter '${name}' must be an array of at most 8`);
      for (let i = 0; i < 8; i++) {
        const x = i < v.length ? v[i] : 0;
        if (type === 'u32x8') view.setUint32(at + 4 * i, x, true);
        else view.setInt32(at + 4 * i, x, true);
      }
    } else {
      if (typeof v !== 'number') throw new Error(`${kernel}: parameter '${name}' must be a number`);
      if (type === 'u32') view.setUint32(at, v, true);
      else if (type === 'i32') view.setInt32(at, v, true);
      else view.setFloat32(at, v, true);
    }
  }
}

/** WGSL binding declarations for `bindings` plus the Params uniform. */
function bindingDecls(bindings: readonly Binding[], hasParams: boolean): string {
  const lines = bindings.map(
    (b, i) => `@group(0) @binding(${i}) var<storage, ${b.access === 'read' ? 'read' : 'read_write'}> ${b.name}: array<${b.type}>;`,
  );
  if (hasParams) lines.push(`@group(0) @binding(${bindings.length}) var<uniform> p: Params;`);
  return lines.join('\n');
}

/** Read element i of an 8-wide uniform array field. */
export const at8 = (field: string, i: string): string => `${field}[(${i}) >> 2u][(${i}) & 3u]`;

/**
 * 1-D work is dispatched as a 2-D grid so that more than 65535 workgroups fit: the flat index is
 * rebuilt from the workgroup id and the number of workgroups.
 */
export const flatIndex = (wg: number): string =>
  `gid.x + gid.y * (nwg.x * ${wg}u)`;

/**
 * `body` for every flat index `i` below `bound` that falls to this invocation: its own, then one whole grid
 * further, and so on. A GPU gets a grid with an invocation per index (one pass); a software adapter gets at most
 * SOFTWARE_WORKGROUPS workgroups (Device.gridStride), because there launching a workgroup costs about as much as
 * an elementwise op on a few thousand values (an add of 147,456 values: 0.61 ms with 2,304 workgroups, 0.31 ms
 * with 64, on lavapipe). `body` skips an index with `continue`, never `return`.
 */
export const gridStride = (wg: number, i: string, bound: string, body: string): string => `  let stride_ = nwg.x * nwg.y * ${wg}u;
  for (var ${i} = ${flatIndex(wg)}; ${i} < ${bound}; ${i} += stride_) {
${body}
  }`;

/** Workgroups of a grid-stride kernel on a software adapter (enough for its CPU threads; see gridStride). */
export const SOFTWARE_WORKGROUPS = 64;

export const computeEntry = (wg: readonly [number, number, number]): string =>
  `@compute @workgroup_size(${wg[0]}, ${wg[1]}, ${wg[2]})\nfn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>)`;

/** Throws unless the variant member `what` of kernel `kernel` is an integer in [min, max]. */
export function checkInt(kernel: string, what: string, v: number, min: number, max = Infinity): void {
  if (!(Number.isInteger(v) && v >= min && v <= max)) {
    throw new Error(`${kernel}: ${what} must be an integer ${max === Infinity ? `≥ ${min}` : `in ${min}..${max}`}, got ${v}`);
  }
}

/** Stable, sorted-key stringification of a variant object: the pipeline cache key. */
export function variantKey(name: string, variant: object): string {
  return `${name}:${canonical(variant)}`;
}

/**
 * JSON.stringify of `v` with object keys sorted (undefined members left out, as JSON does), written directly:
 * it runs for every dispatch, before the pipeline lookup, so it builds no intermediate objects.
 */
function canonical(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  switch (typeof v) {
    case 'string':
      return JSON.stringify(v);
    case 'number':
      return Number.isFinite(v) ? String(v) : 'null';
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object': {
      if (Array.isArray(v)) {
        let s = '[';
        for (let i = 0; i < v.length; i++) s += (i > 0 ? ',' : '') + (v[i] === undefined || typeof v[i] === 'function' ? 'null' : canonical(v[i]));
        return `${s}]`;
      }
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o).sort();
      let s = '{';
      let first = true;
      for (const k of keys) {
        const x = o[k];
        if (x === undefined || typeof x === 'function') continue;
        s += `${first ? '' : ','}${JSON.stringify(k)}:${canonical(x)}`;
        first = false;
      }
      return `${s}}`;
    }
    default:
      return 'null';
  }
}

/** Element type of a GPU tensor. */
export type DType = 'f32' | 'f16';

/** The cooperative-matrix shape a device's subgroup-matrix kernels use (an f16 configuration of the adapter). */
export interface SubgroupMatrixShape {
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly acc: 'f32' | 'f16';
  readonly subgroupSize: number;
}

/** What a device offers that decides which kernel variants exist. */
export interface KernelCaps {
  readonly subgroups: boolean;
  readonly f16: boolean;
  /** The subgroup-matrix shape in use, or null. */
  readonly subgroupMatrix: SubgroupMatrixShape | null;
  readonly maxStorageBuffers: number;
}

/**
 * Every variant a kernel module can build on a device with `caps`: each `*.wgsl.ts` module exports one as
 * `variants`, and the kernel tests compile them all.
 */
export type VariantList = (caps: KernelCaps) => KernelSource[];

/** Bindings declared as a numbered family (`in0`, `in1`, ...) named for a dispatch: `{ [prefix + i]: items[i] }`. */
export function indexed<T>(prefix: string, items: readonly T[]): Record<string, T> {
  const out: Record<string, T> = {};
  items.forEach((x, i) => {
    out[`${prefix}${i}`] = x;
  });
  return out;
}
