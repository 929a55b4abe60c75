// Host-side tensors as read from weight files: a dtype tag (safetensors spelling), a shape and a typed array. The
// dtype decides the array type, so `t.dtype === 'I64'` narrows `t.data` to BigInt64Array. F16/BF16 keep their raw
// 16-bit patterns (Uint16Array) so a round trip is bit-exact; toFloat32() widens them when numbers are wanted.
import { f16ToF32, f32ToF16 } from '../../engine/half';

/** A dtype as weight files tag it (safetensors spelling); DTypeName also takes lower case. */
export type DType = 'F32' | 'F16' | 'BF16' | 'F64' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** The typed array that holds each dtype (BOOL: one byte per element, 0 or 1). */
export interface DTypeData {
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  F64: Float64Array;
  I64: BigInt64Array;
  I32: Int32Array;
  I16: Int16Array;
  I8: Int8Array;
  U8: Uint8Array;
  BOOL: Uint8Array;
}
/** The typed array of any dtype. */
export type TypedData = DTypeData[DType];

/** A tensor on the CPU of dtype D: its shape and elements in a typed array. */
export interface HostTensorOf<D extends DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  readonly data: DTypeData[D];
}
/** A discriminated union over the dtypes: checking `dtype` narrows `data`. */
export type HostTensor = { [D in DType]: HostTensorOf<D> }[DType];

/** Bytes per element of each dtype. */
export const DTYPE_BYTES: Readonly<Record<DType, 1 | 2 | 4 | 8>> = {
  F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Whether `s` is a dtype tag of this module. */
export const isDType = (s: string): s is DType => Object.hasOwn(DTYPE_BYTES, s);

/**
 * A dtype as callers may spell it: lower case like the engine's Tensor.dtype ('f32', 'f16', 'bf16', 'i64', ...) or
 * the file tag ('F32', ...). Functions that take dtypes accept both; tensors read from files carry the file tag.
 */
export type DTypeName = DType | Lowercase<DType>;

/** A host tensor to write or convert: a HostTensor whose dtype may be spelled either way. */
export type HostTensorInput = { [D in DType]: { readonly dtype: D | Lowercase<D>; readonly shape: readonly number[]; readonly data: DTypeData[D] } }[DType];

/** The file tag of a dtype name ('f32' → 'F32'); throws, naming it, on an unknown one. */
export function dtypeTag(name: string, where = 'dtype'): DType {
  const tag = String(name).toUpperCase();
  if (isDType(tag)) return tag;
  throw new Error(`${where}: unknown dtype '${String(name)}' (expected one of ${Object.keys(DTYPE_BYTES).map((k) => k.toLowerCase()).join(', ')})`);
}

/** `t` with its dtype as the file tag (the same shape and data). */
export function hostTensor(t: HostTensorInput, where = 'dtype'): HostTensor {
  // dtypeTag keeps the dtype that paired with `data`; TS cannot follow that through the union
  return { dtype: dtypeTag(t.dtype, where), shape: t.shape, data: t.data } as HostTensor;
}

/** Number of elements of `shape`. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

// Files are little-endian; typed arrays use the host order. Every host WebGPU runs on is little-endian, so a
// big-endian host is refused rather than silently byte-swapped code that nothing tests.
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
export function assertLittleEndianHost(): void {
  if (!HOST_LITTLE_ENDIAN) throw new Error('weight files are little-endian; big-endian hosts are not supported');
}

function view(dtype: DType, buf: ArrayBuffer): TypedData {
  switch (dtype) {
    case 'F32': return new Float32Array(buf);
    case 'F16': case 'BF16': return new Uint16Array(buf);
    case 'F64': return new Float64Array(buf);
    case 'I64': return new BigInt64Array(buf);
    case 'I32': return new Int32Array(buf);
    case 'I16': return new Int16Array(buf);
    case 'I8': return new Int8Array(buf);
    case 'U8': case 'BOOL': return new Uint8Array(buf);
  }
}

/**
 * Builds a tensor from little-endian bytes (copied, so the result never aliases the file buffer). The caller has
 * checked that `bytes.length === numel(shape) * DTYPE_BYTES[dtype]`.
 */
export function tensorFromBytes(name: DTypeName, shape: readonly number[], bytes: Uint8Array): HostTensor {
  assertLittleEndianHost();
  const dtype = dtypeTag(name, 'tensorFromBytes');
  // Uint8Array.prototype.slice, not bytes.slice(): on a Node Buffer the latter is a view of a shared pool.
  const data = view(dtype, Uint8Array.prototype.slice.call(bytes).buffer);
  // The switch in view() pairs each dtype with its array type; TS cannot follow that through the union.
  return { dtype, shape: [...shape], data } as HostTensor;
}

/** The tensor's elements as little-endian bytes (a view, not a copy). */
export function tensorBytes(t: HostTensorInput): Uint8Array {
  assertLittleEndianHost();
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function bf16ToF32(src: Uint16Array): Float32Array {
  const bits = new Uint32Array(src.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return new Float32Array(bits.buffer);
}

function f32ToBf16(src: Float32Array): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = bits[i];
    // NaN must stay NaN (rounding could carry it into infinity); otherwise round to nearest even.
    out[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** Every element as a float32 (a fresh array; I64 values beyond 2^24 lose precision as float32 does). */
export function toFloat32(input: HostTensorInput): Float32Array {
  const t = hostTensor(input, 'toFloat32');
  switch (t.dtype) {
    case 'F32': return t.data.slice();
    case 'F16': return f16ToF32(t.data);
    case 'BF16': return bf16ToF32(t.data);
    case 'I64': return Float32Array.from(t.data, (v) => Number(v));
    default: return Float32Array.from(t.data);
  }
}

/** Float values stored as f32, f16 (round to nearest even) or bf16 (either spelling; the result has the file tag). */
export function fromFloat32(shape: readonly number[], values: Float32Array, name: 'F32' | 'F16' | 'BF16' | 'f32' | 'f16' | 'bf16' = 'f32'): HostTensor {
  const dtype = dtypeTag(name, 'fromFloat32');
  if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') throw new Error(`fromFloat32: '${name}' is not a float dtype (f32, f16, bf16)`);
  if (values.length !== numel(shape)) {
    throw new RangeError(`fromFloat32: ${values.length} values do not fill shape [${shape.join(', ')}]`);
  }
  const s = [...shape];
  if (dtype === 'F16') return { dtype, shape: s, data: f32ToF16(values) };
  if (dtype === 'BF16') return { dtype, shape: s, data: f32ToBf16(values) };
  return { dtype, shape: s, data: values.slice() };
}

/** I64 values as JS numbers; throws when one is outside ±(2^53 - 1) rather than rounding it. */
export function int64ToNumbers(data: BigInt64Array): number[] {
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  const out = new Array<number>(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v > max || v < -max) {
      throw new RangeError(`int64ToNumbers: element ${i} (${v}) is not a safe integer`);
    }
    out[i] = Number(v);
  }
  return out;
}
