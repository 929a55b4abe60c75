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

export interface KernelSource {
  /** Kernel family, e.g. 'conv2d.fwd'; used for labels and error messages. */
  readonly name: string;
  /** Stable key of the variant (everything that changes the code, never sizes). */
  readonly key: string;
  readonly code: string;
  readonly workgroupSize: readonly [number, number, number];
  /** Storage bindings in binding order (0..n-1); binding n is the uniform Params when `params` is non-empty. */
  readonly bindings: readonly Access[];
  readonly params: readonly ParamField[];
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

/** WGSL binding declarations for `bindings` (element type per binding) plus the Params uniform. */
export function bindingDecls(bindings: readonly { name: string; access: Access; type: string }[], hasParams: boolean): string {
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

export const computeEntry = (wg: readonly [number, number, number]): string =>
  `@compute @workgroup_size(${wg[0]}, ${wg[1]}, ${wg[2]})\nfn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3<u32>)`;

/** Stable, sorted-key stringification of a variant object: the pipeline cache key. */
export function variantKey(name: string, variant: object): string {
  const norm = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(norm);
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return Object.fromEntries(Object.keys(o).sort().map((k) => [k, norm(o[k])]));
    }
    return v;
  };
  return `${name}:${JSON.stringify(norm(variant))}`;
}

/** Element type of a GPU tensor. */
export type DType = 'f32' | 'f16';
export const wgslType = (d: DType): string => d;
export const enableF16 = (d: DType): string => (d === 'f16' ? 'enable f16;\n' : '');
