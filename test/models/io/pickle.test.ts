// The safe unpickler: Python-written pickles of every protocol (test/fixtures/gen/io.py), hostile input that must
// stay inert, and malformed input that must fail with the byte offset and opcode.
import { describe, expect, it } from 'vitest';
import { WeightFileError } from '../../../models/io/errors';
import { unpickle } from '../../../models/io/pickle';
import { type PickleValue, isCall, isObject } from '../../../models/io/pickle-values';
import { toPlain } from '../../../models/io/torch-module';
import { PickleWriter, fixtureBytes } from './helpers';

const bytes256 = Uint8Array.from({ length: 512 }, (_, i) => i % 256);
// The value test/fixtures/gen/io.py pickled (pickle_values()), in this reader's representation.
const EXPECTED = new Map<PickleValue, PickleValue>([
  ['ints', [0, 1, 255, 256, 65535, 65536, -1, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, 2n ** 63n, -(2n ** 70n)]],
  ['floats', [0.5, -1e-300, 1e300]],
  ['text', ['', 'ascii', 'ünïcödé ✓', 'x'.repeat(300)]],
  ['bytes', [new Uint8Array(0), Uint8Array.from([0, 255, 127]), bytes256]],
  ['tuples', [[], [1], [1, 2], [1, 2, 3], [1, 2, 3, 4]]],
  ['consts', [null, true, false]],
  ['nested', new Map<PickleValue, PickleValue>([['a', new Map([['b', [new Map([['c', null]])]]])], [7, 'int key']])],
  ['shared', [[1, 2], [1, 2]]],
  ['set', new Set([1, 2, 3])],
  ['frozenset', new Set(['z'])],
  ['ordered', new Map<PickleValue, PickleValue>([['k2', 2], ['k1', 1]])],
]);

const get = (v: PickleValue, key: string): PickleValue | undefined => (v instanceof Map ? v.get(key) : undefined);

describe('unpickle: Python-written data', () => {
  it.each([2, 3, 4, 5])('reads protocol %i', (proto) => {
    const v = unpickle(fixtureBytes(`pickles/values-p${proto}.pkl`), { file: `p${proto}` });
    expect(v).toEqual(EXPECTED);
    const shared = get(v, 'shared') as PickleValue[];
    expect(shared[0]).toBe(shared[1]); // memo: one list, referenced twice
    expect([...(get(v, 'ordered') as Map<PickleValue, PickleValue>).keys()]).toEqual(['k2', 'k1']);
    expect(get(v, 'ints')).toSatisfy((a: PickleValue[]) => typeof a[9] === 'number' && typeof a[10] === 'bigint');
  });

  it('reads a protocol 5 bytearray', () => {
    expect(unpickle(fixtureBytes('pickles/bytearray-p5.pkl'))).toEqual(Uint8Array.from([1, 2, 3]));
  });

  it('turns a pickled os.system call into an inert record', () => {
    const v = unpickle(fixtureBytes('pickles/os-system.pkl'));
    const payload = get(v, 'payload');
    expect(isCall(payload)).toBe(true);
    expect(payload).toEqual({ kind: 'call', fn: 'posix.system', args: ['echo pwned > /tmp/gelan-io-pwned'], state: undefined });
  });
});

describe('unpickle: hostile input stays inert', () => {
  it('records calls of unknown functions and classes without making them', () => {
    const w = new PickleWriter().proto().op('MARK');
    w.global('builtins', 'eval').str('1+1').op('TUPLE1').op('REDUCE');
    w.global('subprocess', 'Popen').op('MARK').str('rm').str('-rf').op('LIST').op('TUPLE1').op('REDUCE');
    w.global('os', 'system').str('x').op('TUPLE1').op('NEWOBJ');
    w.str('os').str('popen').op('STACK_GLOBAL').str('ls').op('TUPLE1').op('REDUCE');
    const [evalCall, popen, newobj, stackGlobal] = unpickle(w.op('LIST').done()) as PickleValue[];
    expect(evalCall).toEqual({ kind: 'call', fn: 'builtins.eval', args: ['1+1'], state: undefined });
    expect(isObject(popen, 'subprocess.Popen')).toBe(true);
    expect(newobj).toEqual({ kind: 'object', cls: 'os.system', args: ['x'], state: undefined });
    expect(stackGlobal).toEqual({ kind: 'call', fn: 'os.popen', args: ['ls'], state: undefined });
  });

  it('sets BUILD state on inert objects and collects dict-subclass items', () => {
    const w = new PickleWriter().proto().global('models.common', 'Conv').op('EMPTY_TUPLE').op('NEWOBJ');
    w.op('EMPTY_DICT').str('eps').raw(0x47, 0x3f, 0x50, 0x62, 0x4d, 0xd2, 0xf1, 0xa9, 0xfc).op('SETITEM').op('BUILD'); // BINFLOAT 1e-3, big-endian
    w.str('k').int(1).op('SETITEM');
    const v = unpickle(w.done());
    expect(isObject(v, 'models.common.Conv')).toBe(true);
    expect(v).toMatchObject({ state: new Map([['eps', 0.001]]), items: new Map([['k', 1]]) });
  });

  it('reads Python 2 byte strings as latin-1 and appends to list subclasses', () => {
    const w = new PickleWriter().proto().op('MARK');
    w.op('SHORT_BINSTRING', 3, 0x41, 0x80, 0xff).op('BINSTRING', 1, 0, 0, 0, 0x9f);
    w.global('torch.nn.modules.container', 'ModuleListLike').op('EMPTY_TUPLE').op('NEWOBJ').op('MARK').int(1).int(2).op('APPENDS');
    const [a, b, obj] = unpickle(w.op('LIST').done()) as PickleValue[];
    expect([a, b]).toEqual(['A\u0080\u00ff', '\u009f']);
    expect(obj).toMatchObject({ kind: 'object', listItems: [1, 2] });
  });

  it('refuses tensor rebuilds without a real storage and non-latin-1 bytes', () => {
    const tensor = new PickleWriter().proto().global('torch._utils', '_rebuild_tensor_v2')
      .op('MARK').str('not a storage').int(0).op('EMPTY_TUPLE').op('EMPTY_TUPLE').op('TUPLE').op('REDUCE').done();
    expect(() => unpickle(tensor, { file: 't.pkl' })).toThrow(/t\.pkl: pickle: tensor rebuild expects a storage .* got str 'not a storage' at byte \d+ \(REDUCE \(0x52\)\)/);
    const enc = new PickleWriter().proto().global('_codecs', 'encode').str('✓').str('latin1').op('TUPLE2').op('REDUCE').done();
    expect(() => unpickle(enc)).toThrow(/_codecs\.encode: character U\+2713 is not latin-1/);
    const rot = new PickleWriter().proto().global('_codecs', 'encode').str('a').str('rot13').op('TUPLE2').op('REDUCE').done();
    expect(isCall(unpickle(rot))).toBe(true);
  });
});

describe('unpickle: malformed input', () => {
  it.each([2, 4])('reports every truncation of a protocol %i pickle', (proto) => {
    const full = fixtureBytes(`pickles/values-p${proto}.pkl`);
    for (let n = 0; n < full.length; n++) {
      let err: unknown;
      try {
        unpickle(full.subarray(0, n), { file: 'cut.pkl' });
      } catch (e) {
        err = e;
      }
      expect(err, `prefix of ${n} bytes`).toBeInstanceOf(WeightFileError);
      expect((err as Error).message).toMatch(/^cut\.pkl: pickle: truncated input: .* at byte \d+/);
    }
  });

  it('names the byte offset and opcode of each error', () => {
    const cases: [Uint8Array, RegExp][] = [
      [new PickleWriter().proto().raw(0xff).done(), /pickle: not a pickle opcode at byte 2 \(unknown opcode 0xff\)/],
      [new PickleWriter().proto().op('BINGET', 5).done(), /pickle: memo index 5 was never stored at byte 2 \(BINGET \(0x68\)\)/],
      [new PickleWriter().proto().op('LONG_BINGET', 1, 0, 0, 1).done(), /memo index 16777217 was never stored/],
      [new PickleWriter().proto().op('BINPUT', 0).done(), /stack underflow at byte 2 \(BINPUT/],
      [new PickleWriter().proto().raw(0x49, 0x31, 0x0a).done(), /text-mode \(protocol 0\) opcode not supported at byte 2 \(INT \(0x49\)\)/],
      [new PickleWriter().proto(6).done(), /unsupported pickle protocol 6 at byte 0 \(PROTO/],
      [new PickleWriter().proto().op('MARK').op('NONE').done(), /1 MARK\(s\) still open .*\(STOP/],
      [new PickleWriter().proto().op('EMPTY_DICT').int(1).op('APPEND').done(), /cannot append to dict of 0 at byte 5 \(APPEND/],
      [new PickleWriter().proto().int(3).op('EMPTY_TUPLE').op('REDUCE').done(), /REDUCE needs a global as callable, got number 3/],
      [new PickleWriter().proto().int(3).int(4).op('STACK_GLOBAL').done(), /STACK_GLOBAL needs two strings/],
      [new PickleWriter().proto().int(3).op('EMPTY_DICT').op('BUILD').done(), /BUILD on number 3/],
      [new PickleWriter().proto().str('pid').op('BINPERSID').done(), /persistent id str 'pid' but no persistentLoad was given/],
      [new PickleWriter().proto().op('EXT1', 1).done(), /opcode not supported \(extension registry/],
      [new PickleWriter().proto().op('NONE').bytes(), /ended at byte 3 without a STOP opcode/],
      [new PickleWriter().proto().op('BINUNICODE', 0xff, 0xff, 0xff, 0x7f).done(), /truncated input: needs 2147483647 more bytes, 1 left at byte 2 \(BINUNICODE/],
      [new PickleWriter().proto().op('BINBYTES8', 0, 0, 0, 0, 1, 0, 0, 0).done(), /truncated input: length 4294967296 exceeds/],
    ];
    for (const [bytes, message] of cases) expect(() => unpickle(bytes, { file: 'bad.pkl' })).toThrow(message);
  });

  it('stops a MARK nesting bomb early with a clear error', () => {
    const bomb = new Uint8Array(100_002).fill(0x28);
    bomb.set([0x80, 0x02]);
    expect(() => unpickle(bomb, { file: 'bomb.pkl' })).toThrow(/bomb\.pkl: pickle: nesting deeper than 1000 MARKs .* at byte 1002 \(MARK/);
    expect(() => unpickle(bomb, { maxDepth: 10 })).toThrow(/nesting deeper than 10 MARKs .* at byte 12/);
  });

  it('builds a deeply nested list without recursion; plain conversion refuses it', () => {
    const n = 100_000;
    const deep = new Uint8Array(2 + n + (n - 1) + 1);
    deep.set([0x80, 0x02]);
    deep.fill(0x5d, 2, 2 + n); // EMPTY_LIST × n
    deep.fill(0x61, 2 + n, 2 + 2 * n - 1); // APPEND × (n - 1)
    deep[deep.length - 1] = 0x2e;
    const v = unpickle(deep);
    expect(Array.isArray(v)).toBe(true);
    expect(() => toPlain(v)).toThrow(/toPlain: nesting deeper than 64 at \$\[0\]/);
  });
});
