// .npy: files written by numpy.save (test/fixtures/gen/io.py), byte-exact rewriting, round trips and refusals.
import { describe, expect, it } from 'vitest';
import { type HostTensor, toFloat32 } from '../../../models/io/dtypes';
import { readNpy, writeNpy } from '../../../models/io/npy';
import { fixtureBytes, fixtureJson } from './helpers';

interface NpyDoc {
  files: Record<string, { descr: string; shape: number[]; values: (number | string)[] }>;
}
const DTYPE_OF: Record<string, string> = { '<f4': 'F32', '<f2': 'F16', '<f8': 'F64', '<i8': 'I64', '<i4': 'I32', '|u1': 'U8', '|b1': 'BOOL' };

function elements(t: HostTensor): (number | string)[] {
  if (t.dtype === 'I64') return [...t.data].map(String);
  if (t.dtype === 'F64') return [...t.data];
  return [...toFloat32(t)];
}

describe('npy', () => {
  const doc = fixtureJson<NpyDoc>('npy.json');

  it.each(Object.keys(doc.files))('reads numpy-written %s', (name) => {
    const want = doc.files[name];
    const t = readNpy(fixtureBytes(`npy/${name}`), name);
    expect({ dtype: t.dtype, shape: t.shape }).toEqual({ dtype: DTYPE_OF[want.descr], shape: want.shape });
    // float32 fixtures hold values exactly representable in their own dtype; fround makes the JSON doubles match.
    expect(elements(t)).toEqual(want.values.map((v) => (typeof v === 'number' && t.dtype !== 'F64' ? Math.fround(v) : v)));
  });

  it.each(Object.keys(doc.files).filter((n) => !/^v\d/.test(n)))('rewrites %s byte for byte as numpy.save did', (name) => {
    const bytes = fixtureBytes(`npy/${name}`);
    expect(writeNpy(readNpy(bytes))).toEqual(bytes);
  });

  it('round-trips every writable dtype, 64-byte aligning the data', () => {
    const tensors: HostTensor[] = [
      { dtype: 'F32', shape: [2, 2], data: Float32Array.from([1, -2, NaN, 0.1]) },
      { dtype: 'F16', shape: [3], data: Uint16Array.from([1, 0x7c00, 0xfbff]) },
      { dtype: 'F64', shape: [1], data: Float64Array.from([Math.PI]) },
      { dtype: 'I64', shape: [2], data: BigInt64Array.from([2n ** 62n, -1n]) },
      { dtype: 'I32', shape: [], data: Int32Array.from([-7]) },
      { dtype: 'I16', shape: [2], data: Int16Array.from([-32768, 5]) },
      { dtype: 'I8', shape: [2], data: Int8Array.from([-128, 5]) },
      { dtype: 'U8', shape: [1, 1, 1], data: Uint8Array.from([200]) },
      { dtype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) },
    ];
    for (const t of tensors) {
      const bytes = writeNpy(t);
      const headerLength = new DataView(bytes.buffer).getUint16(8, true);
      expect((10 + headerLength) % 64).toBe(0);
      const back = readNpy(bytes);
      expect({ dtype: back.dtype, shape: back.shape }).toEqual({ dtype: t.dtype, shape: t.shape });
      expect(new Uint8Array(back.data.buffer)).toEqual(new Uint8Array(t.data.buffer));
    }
    expect(() => writeNpy({ dtype: 'BF16', shape: [1], data: new Uint16Array(1) })).toThrow(/numpy has no dtype for BF16/);
  });

  it('refuses Fortran order, big-endian, bad magic, truncation and odd headers', () => {
    expect(() => readNpy(fixtureBytes('npy/fortran.npy'), 'fortran.npy')).toThrow(/fortran\.npy: Fortran-order arrays are not supported \(shape \[2, 3\]\)/);
    expect(() => readNpy(fixtureBytes('npy/big-endian.npy'), 'be.npy')).toThrow(/be\.npy: unsupported dtype '>f4'/);
    expect(() => readNpy(new Uint8Array(64), 'zero.npy')).toThrow(/zero\.npy: not a \.npy file \(bad magic\)/);
    const f4 = fixtureBytes('npy/f4.npy');
    expect(() => readNpy(f4.subarray(0, f4.length - 1), 'cut.npy')).toThrow(/cut\.npy: truncated data: shape \[2, 3\] × <f4 needs 24 bytes, file has 23/);
    expect(() => readNpy(f4.subarray(0, 40), 'cut.npy')).toThrow(/cut\.npy: header length 118 exceeds the file \(40 bytes\)/);
    const edit = (from: string, to: string): Uint8Array => {
      const text = new TextDecoder('latin1').decode(f4);
      expect(text).toContain(from);
      return Uint8Array.from(text.replace(from, to), (c) => c.charCodeAt(0));
    };
    expect(() => readNpy(edit("'descr'", "'dtype'"), 'h.npy')).toThrow(/h\.npy: npy header: expected exactly the keys/);
    expect(() => readNpy(edit('(2, 3)', '(2, x)'), 'h.npy')).toThrow(/h\.npy: npy header: expected a non-negative integer at character/);
    expect(() => readNpy(edit('False', 'Nope!'), 'h.npy')).toThrow(/expected a string, True, False or a tuple/);
    const v9 = f4.slice();
    v9[6] = 9;
    expect(() => readNpy(v9, 'v9.npy')).toThrow(/unsupported \.npy version 9\.0/);
  });
});
