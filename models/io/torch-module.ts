// Reading torch nn.Module records out of an unpickled checkpoint. A module pickles as an inert object whose state
// is its attribute dict: `_parameters`, `_buffers`, `_modules` (OrderedDicts), `_non_persistent_buffers_set`,
// plus plain attributes (Conv2d's `stride`, BN's `eps`/`momentum`, YOLO rows' `i`/`f`/`type`, the model's `yaml`).
// Walks are depth-capped: the pickle is untrusted, and memo references can build cycles.
import { WeightFileError } from './errors';
import { type PickleDict, type PickleObject, type PickleTensor, type PickleValue, describe, isDict, isObject, isTensor } from './pickle-values';

/** Deeper module nesting than any real network; reaching it means a cycle or a hostile file. */
const MAX_MODULE_DEPTH = 256;

/** A plain JS value converted from pickle data (dicts with string keys become objects). */
export type PlainValue = null | boolean | number | bigint | string | PlainValue[] | { [key: string]: PlainValue };

/** True for an inert object whose state carries `_modules` (an nn.Module subclass instance). */
export function isModule(v: PickleValue | undefined): v is PickleObject {
  return isObject(v) && isDict(v.state) && isDict(v.state.get('_modules'));
}

/** An attribute of an inert object (its BUILD state dict), or undefined when absent. */
export function attr(obj: PickleValue | undefined, name: string): PickleValue | undefined {
  if (!isObject(obj)) return undefined;
  const state = Array.isArray(obj.state) ? obj.state[0] : obj.state; // (dict, slots) states put the dict first
  return isDict(state) ? state.get(name) : undefined;
}

function dictAttr(m: PickleObject, name: string): PickleDict {
  const d = attr(m, name);
  return isDict(d) ? d : new Map();
}

/** The non-None children of a module in registration order. */
export function children(m: PickleObject, file = 'checkpoint'): [string, PickleObject][] {
  const out: [string, PickleObject][] = [];
  for (const [name, child] of dictAttr(m, '_modules')) {
    if (child === null) continue;
    if (typeof name !== 'string' || !isModule(child)) {
      throw new WeightFileError(file, `module ${m.cls}: child ${describe(name)} is ${describe(child)}, not a module`, { key: String(name) });
    }
    out.push([name, child]);
  }
  return out;
}

/** The sub-module at a dotted path ('model.1.bn'), as `module.get_submodule(path)`. */
export function submodule(root: PickleObject, path: string, file = 'checkpoint'): PickleObject {
  let m = root;
  for (const name of path === '' ? [] : path.split('.')) {
    const next = children(m, file).find(([n]) => n === name)?.[1];
    if (next === undefined) throw new WeightFileError(file, `no sub-module '${name}' in ${m.cls} (path '${path}')`, { key: path });
    m = next;
  }
  return m;
}

/**
 * The tensors `module.state_dict()` would return, in the same order: for each module depth-first, its non-None
 * parameters, then its persistent non-None buffers, then its children, keys joined with '.'.
 */
export function stateTensors(root: PickleObject, file = 'checkpoint'): Map<string, PickleTensor> {
  const out = new Map<string, PickleTensor>();
  const visit = (m: PickleObject, prefix: string, depth: number): void => {
    if (depth > MAX_MODULE_DEPTH) {
      throw new WeightFileError(file, `module nesting deeper than ${MAX_MODULE_DEPTH} at '${prefix}' (cyclic or hostile file)`, { key: prefix });
    }
    const skip = attr(m, '_non_persistent_buffers_set');
    const emit = (dict: PickleDict, isBuffer: boolean): void => {
      for (const [name, t] of dict) {
        if (t === null || (isBuffer && skip instanceof Set && skip.has(name))) continue;
        const key = `${prefix}${String(name)}`;
        if (!isTensor(t)) throw new WeightFileError(file, `state-dict entry '${key}' is ${describe(t)}, not a tensor`, { key });
        out.set(key, t);
      }
    };
    emit(dictAttr(m, '_parameters'), false);
    emit(dictAttr(m, '_buffers'), true);
    for (const [name, child] of children(m, file)) visit(child, `${prefix}${name}.`, depth + 1);
  };
  visit(root, '', 0);
  return out;
}

/** Converts pickle data (the `yaml` dict, `f`, `names`) to plain JS; throws on records, sets and bytes. */
export function toPlain(v: PickleValue | undefined, maxDepth = 64): PlainValue {
  const go = (x: PickleValue | undefined, path: string, depth: number): PlainValue => {
    if (depth > maxDepth) throw new TypeError(`toPlain: nesting deeper than ${maxDepth} at ${path}`);
    if (x === undefined) throw new TypeError(`toPlain: nothing at ${path}`);
    if (x === null || typeof x !== 'object') return x;
    if (Array.isArray(x)) return x.map((e, i) => go(e, `${path}[${i}]`, depth + 1));
    if (x instanceof Map) {
      const o: { [key: string]: PlainValue } = {};
      for (const [k, e] of x) {
        if (typeof k !== 'string' && typeof k !== 'number') throw new TypeError(`toPlain: key ${describe(k)} at ${path}`);
        o[String(k)] = go(e, `${path}.${k}`, depth + 1);
      }
      return o;
    }
    throw new TypeError(`toPlain: ${describe(x)} at ${path} has no plain form`);
  };
  return go(v, '$', 0);
}

/** One row of a YOLO DetectionModel's `model` Sequential, with the attributes parse_model attached. */
export interface ModelRow {
  /** Position in the Sequential (the `i` attribute; the state-dict key is `model.{index}.…`). */
  readonly index: number;
  /** Dotted class name as recorded in `type` (e.g. 'models.common.RepNCSPELAN4'). */
  readonly type: string;
  /** The yaml `from`: -1, an absolute index, or a list of them. */
  readonly from: number | number[];
  readonly module: PickleObject;
}

/** The `yaml` dict of a DetectionModel record as plain JS. */
export function modelYaml(model: PickleObject, file = 'checkpoint'): { [key: string]: PlainValue } {
  const y = toPlain(attr(model, 'yaml'));
  if (y === null || typeof y !== 'object' || Array.isArray(y)) {
    throw new WeightFileError(file, `${model.cls} has no 'yaml' dict attribute`, { key: 'yaml' });
  }
  return y;
}

/** The rows of a DetectionModel record (`model.model`), each with its `i`, `f` and `type` attributes. */
export function modelRows(model: PickleObject, file = 'checkpoint'): ModelRow[] {
  const seq = children(model, file).find(([name]) => name === 'model')?.[1];
  if (seq === undefined) throw new WeightFileError(file, `${model.cls} has no 'model' child module`, { key: 'model' });
  return children(seq, file).map(([name, m]) => {
    const i = attr(m, 'i');
    const f = attr(m, 'f');
    const type = attr(m, 'type');
    const isInt = (x: PickleValue | undefined): x is number => typeof x === 'number' && Number.isInteger(x);
    if (!isInt(i) || typeof type !== 'string' || !(isInt(f) || (Array.isArray(f) && f.every(isInt)))) {
      throw new WeightFileError(file, `row model.${name} (${m.cls}) lacks integer 'i', 'f' or string 'type' attributes`, { key: `model.${name}` });
    }
    return { index: i, type, from: Array.isArray(f) ? (f as number[]) : f, module: m };
  });
}
