// A pickle writer (protocol 2, the one torch.save uses) for data described as plain values plus a few records:
// class references, objects rebuilt by NEWOBJ + BUILD (how nn.Modules pickle), calls (REDUCE) and persistent
// ids (torch storages). The reader side is pickle.ts; both follow CPython's pickletools opcode semantics.
import { OP } from './pickle-opcodes';

/** A value to pickle. JS numbers pickle as int when integral, else float; wrap in `pyFloat` to force a float. */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | PyValue[]
  | PyFloat
  | PyTuple
  | PyDict
  | PyGlobalRef
  | PyNewObj
  | PyCall
  | PyPersistent;

export interface PyFloat { readonly py: 'float'; readonly value: number }
export interface PyTuple { readonly py: 'tuple'; readonly items: readonly PyValue[] }
/** A dict (insertion order kept); `cls` makes it an instance of a dict subclass built by REDUCE (OrderedDict). */
export interface PyDict { readonly py: 'dict'; readonly entries: readonly (readonly [PyValue, PyValue])[]; readonly cls?: PyGlobalRef }
export interface PyGlobalRef { readonly py: 'global'; readonly module: string; readonly name: string }
/** `cls.__new__(cls)` then `__setstate__(state)` / `__dict__.update(state)`: how plain objects and nn.Modules pickle. */
export interface PyNewObj { readonly py: 'newobj'; readonly cls: PyGlobalRef; readonly state: PyValue }
/** `fn(*args)`. */
export interface PyCall { readonly py: 'call'; readonly fn: PyGlobalRef; readonly args: readonly PyValue[] }
/** A persistent id (torch: ('storage', type, key, location, numel)) resolved by the loader. */
export interface PyPersistent { readonly py: 'persistent'; readonly id: PyValue }

export const pyFloat = (value: number): PyFloat => ({ py: 'float', value });
export const tuple = (...items: PyValue[]): PyTuple => ({ py: 'tuple', items });
export const pyGlobal = (module: string, name: string): PyGlobalRef => ({ py: 'global', module, name });
export const dict = (entries: Iterable<readonly [PyValue, PyValue]> | Record<string, PyValue>, cls?: PyGlobalRef): PyDict => ({
  py: 'dict',
  entries: Symbol.iterator in entries ? [...(entries as Iterable<readonly [PyValue, PyValue]>)] : Object.entries(entries),
  cls,
});
export const ORDERED_DICT = pyGlobal('collections', 'OrderedDict');
export const orderedDict = (entries: Iterable<readonly [PyValue, PyValue]> | Record<string, PyValue> = []): PyDict => dict(entries, ORDERED_DICT);
export const newObj = (cls: PyGlobalRef, state: PyValue): PyNewObj => ({ py: 'newobj', cls, state });
export const call = (fn: PyGlobalRef, ...args: PyValue[]): PyCall => ({ py: 'call', fn, args });
export const persistent = (id: PyValue): PyPersistent => ({ py: 'persistent', id });

class Out {
  private buf = new Uint8Array(1 << 16);
  private n = 0;
  private grow(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const b = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    b.set(this.buf.subarray(0, this.n));
    this.buf = b;
  }
  byte(...bs: number[]): void {
    this.grow(bs.length);
    for (const b of bs) this.buf[this.n++] = b;
  }
  bytes(b: Uint8Array): void {
    this.grow(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
  }
  u32(v: number): void {
    this.byte(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

const utf8 = new TextEncoder();

function writeInt(o: Out, v: number | bigint): void {
  if (typeof v === 'number' && v >= 0 && v < 256) return o.byte(OP.BININT1, v);
  if (typeof v === 'number' && v >= 0 && v < 65536) return o.byte(OP.BININT2, v & 0xff, v >> 8);
  if (typeof v === 'number' && v >= -(2 ** 31) && v < 2 ** 31) {
    o.byte(OP.BININT);
    return o.u32(v >>> 0);
  }
  // LONG1: little-endian two's complement, as short as the value allows
  let x = BigInt(v);
  const bytes: number[] = [];
  for (;;) {
    const b = Number(BigInt.asUintN(8, x));
    bytes.push(b);
    x >>= 8n;
    if ((x === 0n && !(b & 0x80)) || (x === -1n && b & 0x80)) break;
  }
  o.byte(OP.LONG1, bytes.length, ...bytes);
}

function writeGlobal(o: Out, g: PyGlobalRef): void {
  o.byte(OP.GLOBAL);
  o.bytes(utf8.encode(`${g.module}\n${g.name}\n`));
}

function write(o: Out, v: PyValue): void {
  if (v === null) return o.byte(OP.NONE);
  if (v === true) return o.byte(OP.NEWTRUE);
  if (v === false) return o.byte(OP.NEWFALSE);
  if (typeof v === 'bigint') return writeInt(o, v);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && Number.isSafeInteger(v)) return writeInt(o, v);
    return write(o, pyFloat(v));
  }
  if (typeof v === 'string') {
    const b = utf8.encode(v);
    o.byte(OP.BINUNICODE);
    o.u32(b.length);
    return o.bytes(b);
  }
  if (Array.isArray(v)) {
    o.byte(OP.EMPTY_LIST);
    if (v.length === 0) return;
    o.byte(OP.MARK);
    v.forEach((x) => write(o, x));
    return o.byte(OP.APPENDS);
  }
  switch (v.py) {
    case 'float': {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, v.value, false); // BINFLOAT is big-endian
      o.byte(OP.BINFLOAT);
      return o.bytes(b);
    }
    case 'tuple': {
      const n = v.items.length;
      if (n === 0) return o.byte(OP.EMPTY_TUPLE);
      if (n > 3) o.byte(OP.MARK);
      v.items.forEach((x) => write(o, x));
      return o.byte(n === 1 ? OP.TUPLE1 : n === 2 ? OP.TUPLE2 : n === 3 ? OP.TUPLE3 : OP.TUPLE);
    }
    case 'dict': {
      if (v.cls) {
        writeGlobal(o, v.cls);
        o.byte(OP.EMPTY_TUPLE, OP.REDUCE);
      } else o.byte(OP.EMPTY_DICT);
      if (v.entries.length === 0) return;
      o.byte(OP.MARK);
      for (const [k, x] of v.entries) {
        write(o, k);
        write(o, x);
      }
      return o.byte(OP.SETITEMS);
    }
    case 'global':
      return writeGlobal(o, v);
    case 'newobj':
      writeGlobal(o, v.cls);
      o.byte(OP.EMPTY_TUPLE, OP.NEWOBJ);
      write(o, v.state);
      return o.byte(OP.BUILD);
    case 'call':
      writeGlobal(o, v.fn);
      write(o, tuple(...v.args));
      return o.byte(OP.REDUCE);
    case 'persistent':
      write(o, v.id);
      return o.byte(OP.BINPERSID);
  }
}

/** The pickle (protocol 2) of `v`. */
export function pickle(v: PyValue): Uint8Array {
  const o = new Out();
  o.byte(OP.PROTO, 2);
  write(o, v);
  o.byte(OP.STOP);
  return o.result();
}
