// The values the safe unpickler produces. Plain Python data maps to JS (None → null, int → number or bigint when
// beyond 2^53, str → string, bytes → Uint8Array, list and tuple → array, dict → Map, set → Set). Everything that
// would run code in Python comes back as an inert record instead: a class or function reference, an object that
// was never constructed, or a call that was never made. Only torch's tensor rebuild is interpreted.
import type { DType } from './dtypes';

/** A value the safe unpickler produces: plain data, dicts, globals, tensors, storages and inert objects. */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | Map<PickleValue, PickleValue>
  | Set<PickleValue>
  | PickleGlobal
  | PickleObject
  | PickleCall
  | PickleTensor
  | TorchStorage;

/** An unpickled dict (keys in insertion order). */
export type PickleDict = Map<PickleValue, PickleValue>;

/** A class or function reference (GLOBAL / STACK_GLOBAL); nothing was imported. */
export interface PickleGlobal {
  readonly kind: 'global';
  readonly module: string;
  readonly name: string;
}

/**
 * An instance of a class that was never constructed: `cls` is the dotted class name ('models.common.Conv'), `args`
 * what its constructor would have received, `state` what BUILD would have passed to __setstate__ (for torch
 * modules: the attribute dict with `_parameters`, `_buffers`, `_modules`). `items` / `listItems` collect SETITEM
 * and APPEND for dict and list subclasses.
 */
export interface PickleObject {
  readonly kind: 'object';
  readonly cls: string;
  readonly args: PickleValue[];
  readonly kwargs?: PickleDict;
  state: PickleValue | undefined;
  items?: PickleDict;
  listItems?: PickleValue[];
}

/** A call (REDUCE) of a function outside the allow-list, recorded and never made. */
export interface PickleCall {
  readonly kind: 'call';
  readonly fn: string;
  readonly args: PickleValue[];
  state: PickleValue | undefined;
  items?: PickleDict;
  listItems?: PickleValue[];
}

/** A storage as the caller's persistent_load describes it (torch: one zip entry of raw little-endian elements). */
export interface TorchStorage {
  readonly kind: 'storage';
  /** safetensors dtype name (F16, F32, I64, ...). */
  readonly dtype: DType;
  /** Zip entry key: `<prefix>/data/<key>`. */
  readonly key: string;
  readonly location: string;
  /** Element count recorded in the pickle. */
  readonly numel: number;
}

/** A tensor view rebuilt from `torch._utils._rebuild_tensor_v2`: not materialized, offsets and strides in elements. */
export interface PickleTensor {
  readonly kind: 'tensor';
  readonly storage: TorchStorage;
  readonly storageOffset: number;
  readonly shape: readonly number[];
  readonly stride: readonly number[];
  readonly requiresGrad: boolean;
  /** Came from `torch._utils._rebuild_parameter*` (an nn.Parameter). */
  readonly parameter: boolean;
}

type Kinded = PickleGlobal | PickleObject | PickleCall | PickleTensor | TorchStorage;
const hasKind = (v: PickleValue | undefined): v is Kinded =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Map) && !(v instanceof Set) && !(v instanceof Uint8Array);

/** Whether `v` is an unpickled dict. */
export const isDict = (v: PickleValue | undefined): v is PickleDict => v instanceof Map;
/** Whether `v` is a reference to a Python global (module.name). */
export const isGlobal = (v: PickleValue | undefined): v is PickleGlobal => hasKind(v) && v.kind === 'global';
/** Whether `v` is a rebuilt torch tensor. */
export const isTensor = (v: PickleValue | undefined): v is PickleTensor => hasKind(v) && v.kind === 'tensor';
/** Whether `v` is a torch storage. */
export const isStorage = (v: PickleValue | undefined): v is TorchStorage => hasKind(v) && v.kind === 'storage';
/** Whether `v` is a call record of a global that was not rebuilt. */
export const isCall = (v: PickleValue | undefined): v is PickleCall => hasKind(v) && v.kind === 'call';
/** An inert object, optionally of exactly class `cls` ('module.Name'). */
export const isObject = (v: PickleValue | undefined, cls?: string): v is PickleObject =>
  hasKind(v) && v.kind === 'object' && (cls === undefined || v.cls === cls);

/** A short human description of a value for error messages. */
export function describe(v: PickleValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'None';
  if (typeof v === 'string') return v.length > 40 ? `str '${v.slice(0, 40)}…'` : `str '${v}'`;
  if (typeof v !== 'object') return `${typeof v} ${String(v)}`;
  if (Array.isArray(v)) return `list/tuple of ${v.length}`;
  if (v instanceof Map) return `dict of ${v.size}`;
  if (v instanceof Set) return `set of ${v.size}`;
  if (v instanceof Uint8Array) return `bytes of ${v.length}`;
  switch (v.kind) {
    case 'global': return `global ${v.module}.${v.name}`;
    case 'object': return `object ${v.cls}`;
    case 'call': return `call ${v.fn}(…)`;
    case 'tensor': return `tensor ${v.storage.dtype}[${v.shape.join(', ')}]`;
    case 'storage': return `storage ${v.dtype} '${v.key}'`;
  }
}
