// What REDUCE and NEWOBJ do with a global. Only the allow-list below is interpreted, and every entry is a pure
// data constructor (tensor views, dicts, sets, bytes). Any other callable yields an inert record: an object for a
// class-like name, a call otherwise. Nothing is looked up, imported or run.
import {
  type PickleDict, type PickleGlobal, type PickleTensor, type PickleValue, describe, isGlobal, isStorage, isTensor,
} from './pickle-values';

/** Raises a PickleError located at the current opcode. */
export type Fail = (message: string) => never;
type Reducer = (args: PickleValue[], fail: Fail) => PickleValue;

const qualname = (g: PickleGlobal): string => `${g.module}.${g.name}`;

const isCount = (v: PickleValue | undefined): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function counts(v: PickleValue | undefined, what: string, fail: Fail): number[] {
  if (!Array.isArray(v) || !v.every(isCount)) return fail(`${what} must be a tuple of non-negative integers, got ${describe(v)}`);
  return v as number[];
}

// _rebuild_tensor(storage, offset, size, stride) and _rebuild_tensor_v2(..., requires_grad, hooks[, metadata]).
function rebuildTensor(args: PickleValue[], fail: Fail): PickleTensor {
  const [storage, offset, size, stride, requiresGrad] = args;
  if (args.length < 4) return fail(`tensor rebuild needs at least 4 arguments, got ${args.length}`);
  if (!isStorage(storage)) return fail(`tensor rebuild expects a storage (from BINPERSID) as first argument, got ${describe(storage)}`);
  if (!isCount(offset)) return fail(`tensor storage_offset must be a non-negative integer, got ${describe(offset)}`);
  const shape = counts(size, 'tensor size', fail);
  const strides = counts(stride, 'tensor stride', fail);
  if (shape.length !== strides.length) return fail(`tensor size has ${shape.length} dims but stride has ${strides.length}`);
  return { kind: 'tensor', storage, storageOffset: offset, shape, stride: strides, requiresGrad: requiresGrad === true, parameter: false };
}

// _rebuild_parameter(data, requires_grad, hooks) and _rebuild_parameter_with_state(..., state): unwrap to the data.
function rebuildParameter(args: PickleValue[], fail: Fail): PickleTensor {
  const [data, requiresGrad] = args;
  if (!isTensor(data)) return fail(`parameter rebuild expects a tensor, got ${describe(data)}`);
  return { ...data, requiresGrad: requiresGrad === true, parameter: true };
}

function orderedDict(args: PickleValue[], fail: Fail): PickleDict {
  const out: PickleDict = new Map();
  if (args.length === 0) return out;
  const [pairs] = args;
  if (args.length !== 1 || !Array.isArray(pairs)) return fail(`OrderedDict expects () or a list of pairs, got ${args.length} arguments`);
  for (const p of pairs) {
    if (!Array.isArray(p) || p.length !== 2) return fail(`OrderedDict item is not a (key, value) pair: ${describe(p)}`);
    out.set(p[0], p[1]);
  }
  return out;
}

function set(args: PickleValue[], fail: Fail): Set<PickleValue> {
  if (args.length === 0) return new Set();
  if (args.length !== 1 || !Array.isArray(args[0])) return fail(`set expects () or a list, got ${describe(args[0])}`);
  return new Set(args[0]);
}

// Protocol 2 has no bytes opcode, so Python 3 pickles bytes as _codecs.encode(str_latin1, 'latin1').
function encode(args: PickleValue[], fail: Fail): PickleValue {
  const [text, encoding] = args;
  if (typeof text !== 'string' || args.length !== 2) return fail(`_codecs.encode expects (str, encoding), got ${args.length} arguments`);
  const enc = typeof encoding === 'string' ? encoding.toLowerCase().replace(/[-_]/g, '') : '';
  if (enc === 'utf8') return new TextEncoder().encode(text);
  if (enc !== 'latin1' && enc !== 'iso88591') return { kind: 'call', fn: '_codecs.encode', args, state: undefined };
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0xff) return fail(`_codecs.encode: character U+${c.toString(16)} is not latin-1`);
    out[i] = c;
  }
  return out;
}

function emptyBytes(args: PickleValue[], fail: Fail): Uint8Array {
  return args.length === 0 ? new Uint8Array(0) : fail('bytes(...) with arguments is not supported');
}

// copyreg._reconstructor(cls, base, state): how protocols 0/1 create instances; BUILD then sets the attributes.
function reconstructor(args: PickleValue[], fail: Fail): PickleValue {
  const [cls] = args;
  if (!isGlobal(cls)) return fail(`copyreg._reconstructor expects a class, got ${describe(cls)}`);
  return { kind: 'object', cls: `${cls.module}.${cls.name}`, args: [], state: undefined };
}

// torch._tensor._rebuild_from_type_v2(func, type, args, state) wraps tensor subclasses; keep the plain tensor
// when func is itself an allow-listed rebuild (the subclass and its state are dropped).
function rebuildFromType(args: PickleValue[], fail: Fail): PickleValue {
  const [fn, , inner] = args;
  const reducer = isGlobal(fn) ? TENSOR_REBUILDS.get(qualname(fn)) : undefined;
  if (reducer === undefined || !Array.isArray(inner)) return { kind: 'call', fn: 'torch._tensor._rebuild_from_type_v2', args, state: undefined };
  return reducer(inner, fail);
}

const TENSOR_REBUILDS: ReadonlyMap<string, Reducer> = new Map<string, Reducer>([
  ['torch._utils._rebuild_tensor', rebuildTensor],
  ['torch._utils._rebuild_tensor_v2', rebuildTensor],
  ['torch._utils._rebuild_parameter', rebuildParameter],
  ['torch._utils._rebuild_parameter_with_state', rebuildParameter],
]);

const REDUCERS: ReadonlyMap<string, Reducer> = new Map<string, Reducer>([
  ...TENSOR_REBUILDS,
  ['torch._tensor._rebuild_from_type', rebuildFromType],
  ['torch._tensor._rebuild_from_type_v2', rebuildFromType],
  ['collections.OrderedDict', orderedDict],
  ['__builtin__.set', set],
  ['builtins.set', set],
  ['__builtin__.frozenset', set],
  ['builtins.frozenset', set],
  ['__builtin__.bytes', emptyBytes],
  ['builtins.bytes', emptyBytes],
  ['_codecs.encode', encode],
  ['copyreg._reconstructor', reconstructor],
  ['copy_reg._reconstructor', reconstructor],
]);

/** Allow-listed classes that NEWOBJ may construct (the others in REDUCERS are functions). */
const CONTAINER_CLASSES: ReadonlySet<string> = new Set([
  'collections.OrderedDict', '__builtin__.set', 'builtins.set', '__builtin__.frozenset', 'builtins.frozenset',
]);

// PEP 8 names classes in CapWords; 'Outer.Inner' (protocol 4 qualnames) is judged by its last part.
const classLike = (g: PickleGlobal): boolean => /^_*[A-Z]/.test(g.name.slice(g.name.lastIndexOf('.') + 1));

/** REDUCE: `fn(*args)` for the allow-list, an inert record for anything else. */
export function reduce(fn: PickleValue, args: PickleValue, fail: Fail): PickleValue {
  if (!isGlobal(fn)) return fail(`REDUCE needs a global as callable, got ${describe(fn)}`);
  if (!Array.isArray(args)) return fail(`REDUCE needs an argument tuple, got ${describe(args)}`);
  const name = qualname(fn);
  const reducer = REDUCERS.get(name);
  if (reducer !== undefined) return reducer(args, fail);
  return classLike(fn) ? { kind: 'object', cls: name, args, state: undefined } : { kind: 'call', fn: name, args, state: undefined };
}

/** NEWOBJ / NEWOBJ_EX: `cls.__new__(cls, *args)`, always an inert object unless cls is an allow-listed container. */
export function newObject(cls: PickleValue, args: PickleValue, kwargs: PickleDict | undefined, fail: Fail): PickleValue {
  if (!isGlobal(cls)) return fail(`NEWOBJ needs a class, got ${describe(cls)}`);
  if (!Array.isArray(args)) return fail(`NEWOBJ needs an argument tuple, got ${describe(args)}`);
  const name = qualname(cls);
  const reducer = CONTAINER_CLASSES.has(name) ? REDUCERS.get(name) : undefined;
  if (reducer !== undefined) return reducer(args, fail);
  return kwargs === undefined || kwargs.size === 0
    ? { kind: 'object', cls: name, args, state: undefined }
    : { kind: 'object', cls: name, args, kwargs, state: undefined };
}
