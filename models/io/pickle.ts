// A safe unpickler: a stack machine over pickle protocols 2-5 that never imports or calls anything. GLOBAL yields
// an inert reference, REDUCE / NEWOBJ / BUILD build inert records (pickle-reduce.ts holds the few data
// constructors that are interpreted), and BINPERSID asks the caller. The machine is iterative, so nesting costs
// heap, not JS stack; the number of open MARKs is still capped so a nesting bomb fails fast with a clear error.
import { WeightFileError } from './errors';
import { OP, opLabel } from './pickle-opcodes';
import { type Fail, newObject, reduce } from './pickle-reduce';
import { type PickleDict, type PickleValue, describe, isCall, isObject } from './pickle-values';
import { decodeLatin1 } from './text';

/** Options of unpickle(). */
export interface UnpickleOptions {
  /** Names the source in error messages (e.g. 'yolov9-c.pt/archive/data.pkl'). */
  readonly file?: string;
  /** Resolves BINPERSID ids (torch: storages). Without it, a persistent id is an error. */
  readonly persistentLoad?: (pid: PickleValue) => PickleValue;
  /** Most MARKs open at once. A real checkpoint needs a few per module level (< 100); default 1000. */
  readonly maxDepth?: number;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

// Little-endian two's complement of any length, as LONG1 / LONG4 store it.
function decodeLong(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let hex = '';
  for (let i = b.length - 1; i >= 0; i--) hex += b[i].toString(16).padStart(2, '0');
  let v = BigInt(`0x${hex}`);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v;
}

/** Runs the pickle in `bytes` to its STOP and returns the result. Throws WeightFileError on malformed input. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): PickleValue {
  const file = options.file ?? 'pickle';
  const maxDepth = options.maxDepth ?? 1000;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const utf8 = new TextDecoder('utf-8');
  const len = bytes.length;
  let pos = 0;
  let opStart = 0;
  let op = 0;
  let stack: PickleValue[] = [];
  const marks: PickleValue[][] = [];
  const memo = new Map<number, PickleValue>();

  const fail: Fail = (message) => {
    throw new WeightFileError(file, `pickle: ${message} at byte ${opStart} (${opLabel(op)})`, { offset: opStart });
  };
  const need = (n: number): void => {
    if (n > len - pos) fail(`truncated input: needs ${n} more bytes, ${len - pos} left`);
  };
  const u8 = (): number => (need(1), bytes[pos++]);
  const u16 = (): number => (need(2), (pos += 2), dv.getUint16(pos - 2, true));
  const u32 = (): number => (need(4), (pos += 4), dv.getUint32(pos - 4, true));
  const i32 = (): number => (need(4), (pos += 4), dv.getInt32(pos - 4, true));
  const u64 = (): number => {
    const lo = u32();
    const hi = u32();
    // Anything at or above 2^32 bytes cannot fit in the rest of a JS buffer: report it as truncation.
    return hi === 0 ? lo : fail(`truncated input: length ${hi * 2 ** 32 + lo} exceeds the ${len - pos} bytes left`);
  };
  const take = (n: number): Uint8Array => {
    need(n);
    pos += n;
    return bytes.subarray(pos - n, pos);
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) return fail('truncated input: newline-terminated argument never ends');
    const s = utf8.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return s;
  };

  const push = (v: PickleValue): void => {
    stack.push(v);
  };
  const pop = (): PickleValue => (stack.length === 0 ? fail('stack underflow') : (stack.pop() as PickleValue));
  const top = (): PickleValue => (stack.length === 0 ? fail('stack underflow') : stack[stack.length - 1]);
  const popMark = (): PickleValue[] => {
    const items = stack;
    const outer = marks.pop();
    if (outer === undefined) return fail('no MARK to pop to');
    stack = outer;
    return items;
  };
  const memoGet = (i: number): PickleValue => {
    const v = memo.get(i);
    return v === undefined ? fail(`memo index ${i} was never stored`) : v;
  };
  const memoPut = (i: number): void => {
    memo.set(i, top());
  };

  const setItems = (target: PickleValue, kv: PickleValue[]): void => {
    if (kv.length % 2 !== 0) fail(`odd number of items (${kv.length}) for a dict`);
    let dict: PickleDict;
    if (target instanceof Map) dict = target;
    else if (isObject(target) || isCall(target)) dict = target.items ??= new Map();
    else return fail(`cannot set items on ${describe(target)}`);
    for (let i = 0; i < kv.length; i += 2) dict.set(kv[i], kv[i + 1]);
  };
  const appendItems = (target: PickleValue, items: PickleValue[]): void => {
    let list: PickleValue[];
    if (Array.isArray(target)) list = target;
    else if (isObject(target) || isCall(target)) list = target.listItems ??= [];
    else return fail(`cannot append to ${describe(target)}`);
    for (const v of items) list.push(v); // not push(...items): spreading a huge batch overflows the call stack
  };
  const build = (state: PickleValue, inst: PickleValue): void => {
    if (isObject(inst) || isCall(inst)) {
      // A second BUILD (rare) merges dict states as __setstate__ on a plain object would.
      if (inst.state instanceof Map && state instanceof Map) for (const [k, v] of state) inst.state.set(k, v);
      else inst.state = state;
    } else if (!(inst instanceof Map)) {
      // dict subclasses (OrderedDict with a `_metadata` attribute) carry attributes that are not data: dropped.
      fail(`BUILD on ${describe(inst)}`);
    }
  };
  const persistent = (pid: PickleValue): PickleValue => {
    if (options.persistentLoad === undefined) return fail(`persistent id ${describe(pid)} but no persistentLoad was given`);
    return options.persistentLoad(pid);
  };

  while (pos < len) {
    opStart = pos;
    op = bytes[pos++];
    switch (op) {
      case OP.PROTO: {
        const v = u8();
        if (v > 5) fail(`unsupported pickle protocol ${v}`);
        break;
      }
      case OP.FRAME: {
        const n = u64();
        need(n); // the frame is just a length hint; checking it reports truncation early
        break;
      }
      case OP.STOP:
        if (marks.length > 0) fail(`${marks.length} MARK(s) still open`);
        return pop();
      case OP.MARK:
        if (marks.length >= maxDepth) fail(`nesting deeper than ${maxDepth} MARKs (malformed or hostile pickle)`);
        marks.push(stack);
        stack = [];
        break;
      case OP.POP:
        if (stack.length > 0) stack.pop();
        else popMark();
        break;
      case OP.POP_MARK: popMark(); break;
      case OP.DUP: push(top()); break;

      case OP.NONE: push(null); break;
      case OP.NEWTRUE: push(true); break;
      case OP.NEWFALSE: push(false); break;
      case OP.BININT: push(i32()); break;
      case OP.BININT1: push(u8()); break;
      case OP.BININT2: push(u16()); break;
      case OP.LONG1: push(decodeLong(take(u8()))); break;
      case OP.LONG4: {
        const n = i32();
        if (n < 0) fail(`negative LONG4 length ${n}`);
        push(decodeLong(take(n)));
        break;
      }
      case OP.BINFLOAT: need(8); push(dv.getFloat64(pos, false)); pos += 8; break; // big-endian, unlike the rest

      case OP.SHORT_BINUNICODE: push(utf8.decode(take(u8()))); break;
      case OP.BINUNICODE: push(utf8.decode(take(u32()))); break;
      case OP.BINUNICODE8: push(utf8.decode(take(u64()))); break;
      case OP.SHORT_BINSTRING: push(decodeLatin1(take(u8()))); break; // Python 2 str: bytes, read as latin-1
      case OP.BINSTRING: {
        const n = i32();
        if (n < 0) fail(`negative BINSTRING length ${n}`);
        push(decodeLatin1(take(n)));
        break;
      }
      case OP.SHORT_BINBYTES: push(Uint8Array.prototype.slice.call(take(u8()))); break;
      case OP.BINBYTES: push(Uint8Array.prototype.slice.call(take(u32()))); break;
      case OP.BINBYTES8: case OP.BYTEARRAY8: push(Uint8Array.prototype.slice.call(take(u64()))); break;

      case OP.EMPTY_LIST: push([]); break;
      case OP.EMPTY_TUPLE: push([]); break;
      case OP.EMPTY_DICT: push(new Map()); break;
      case OP.EMPTY_SET: push(new Set()); break;
      case OP.LIST: case OP.TUPLE: push(popMark()); break;
      case OP.TUPLE1: push([pop()]); break;
      case OP.TUPLE2: { const b = pop(); push([pop(), b]); break; }
      case OP.TUPLE3: { const c = pop(); const b = pop(); push([pop(), b, c]); break; }
      case OP.DICT: { const d: PickleDict = new Map(); setItems(d, popMark()); push(d); break; }
      case OP.FROZENSET: push(new Set(popMark())); break;
      case OP.APPEND: { const v = pop(); appendItems(top(), [v]); break; }
      case OP.APPENDS: { const items = popMark(); appendItems(top(), items); break; }
      case OP.SETITEM: { const v = pop(); const k = pop(); setItems(top(), [k, v]); break; }
      case OP.SETITEMS: { const kv = popMark(); setItems(top(), kv); break; }
      case OP.ADDITEMS: {
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) fail(`cannot add items to ${describe(s)}`);
        for (const v of items) (s as Set<PickleValue>).add(v);
        break;
      }

      case OP.BINPUT: memoPut(u8()); break;
      case OP.LONG_BINPUT: memoPut(u32()); break;
      case OP.MEMOIZE: memoPut(memo.size); break;
      case OP.BINGET: push(memoGet(u8())); break;
      case OP.LONG_BINGET: push(memoGet(u32())); break;

      case OP.GLOBAL: { const module = line(); push({ kind: 'global', module, name: line() }); break; }
      case OP.STACK_GLOBAL: {
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail(`STACK_GLOBAL needs two strings, got ${describe(module)}, ${describe(name)}`);
        push({ kind: 'global', module: module as string, name: name as string });
        break;
      }
      case OP.REDUCE: { const args = pop(); push(reduce(pop(), args, fail)); break; }
      case OP.NEWOBJ: { const args = pop(); push(newObject(pop(), args, undefined, fail)); break; }
      case OP.NEWOBJ_EX: {
        const kwargs = pop();
        const args = pop();
        if (!(kwargs instanceof Map)) fail(`NEWOBJ_EX needs keyword arguments as a dict, got ${describe(kwargs)}`);
        push(newObject(pop(), args, kwargs as PickleDict, fail));
        break;
      }
      case OP.INST: {
        // Protocol 0/1 instance: class named inline, constructor arguments since the MARK.
        const module = line();
        const name = line();
        push({ kind: 'object', cls: `${module}.${name}`, args: popMark(), state: undefined });
        break;
      }
      case OP.OBJ: { const [cls, ...args] = popMark(); push(newObject(cls ?? null, args, undefined, fail)); break; }
      case OP.BUILD: { const state = pop(); build(state, top()); break; }
      case OP.BINPERSID: push(persistent(pop())); break;
      case OP.PERSID: push(persistent(line())); break;

      default:
        fail(op === OP.EXT1 || op === OP.EXT2 || op === OP.EXT4 || op === OP.NEXT_BUFFER || op === OP.READONLY_BUFFER
          ? 'opcode not supported (extension registry / out-of-band buffers)'
          : opLabel(op).startsWith('unknown') ? 'not a pickle opcode' : 'text-mode (protocol 0) opcode not supported');
    }
  }
  throw new WeightFileError(file, `pickle: truncated input: ended at byte ${len} without a STOP opcode`, { offset: len });
}
