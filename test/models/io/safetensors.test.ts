// safetensors: the Python-written reference file (test/fixtures/gen/io.py), byte-exact writing, round trips, and
// every validation error.
import { describe, expect, it } from 'vitest';
import { type HostTensor, toFloat32 } from '../../../models/io/dtypes';
import { WeightFileError } from '../../../models/io/errors';
import { parseSafetensorsHeader, readSafetensors, writeSafetensors } from '../../../models/io/safetensors';
import { fixtureBytes, fixtureJson } from './helpers';

interface RefDoc {
  metadata: Record<string, string>;
  tensors: Record<string, { dtype: string; shape: number[]; values: (number | string)[] }>;
}

// Expected element as a comparable value: I64 as decimal strings, floats as numbers ('nan'/'inf' spelled out).
function elements(t: HostTensor): (number | string)[] {
  if (t.dtype === 'I64') return [...t.data].map(String);
  if (t.dtype === 'F64') return [...t.data];
  return [...toFloat32(t)].map((v) => (Number.isNaN(v) ? 'nan' : v === Infinity ? 'inf' : v === -Infinity ? '-inf' : v));
}
const expectedValue = (dtype: string, v: number | string): number | string =>
  typeof v === 'string' || dtype === 'F64' ? v : Math.fround(v);

/** A file with a hand-written header over `dataLength` zero bytes. */
function handmade(header: unknown, dataLength: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + dataLength);
  new DataView(out.buffer).setUint32(0, json.length, true);
  out.set(json, 8);
  return out;
}

describe('safetensors', () => {
  const ref = fixtureBytes('reference.safetensors');
  const doc = fixtureJson<RefDoc>('reference.json');

  it('reads every dtype of the Python-written reference file', () => {
    const { tensors, metadata } = readSafetensors(ref, 'reference.safetensors');
    expect(metadata).toEqual(doc.metadata);
    expect([...tensors.keys()].sort()).toEqual(Object.keys(doc.tensors).sort());
    for (const [name, want] of Object.entries(doc.tensors)) {
      const t = tensors.get(name) as HostTensor;
      expect({ name, dtype: t.dtype, shape: t.shape }).toEqual({ name, dtype: want.dtype, shape: want.shape });
      expect(elements(t), name).toEqual(want.values.map((v) => expectedValue(want.dtype, v)));
    }
    const i64 = tensors.get('i64') as HostTensor;
    expect(i64.data).toBeInstanceOf(BigInt64Array);
    expect((tensors.get('bool') as HostTensor).data).toBeInstanceOf(Uint8Array);
  });

  it('writes byte-for-byte what the reference writer wrote', () => {
    const { tensors, metadata } = readSafetensors(ref);
    expect(writeSafetensors(tensors, metadata ?? undefined)).toEqual(ref);
  });

  it('round-trips F32, F16 and I64 with sorted keys and an 8-byte aligned data section', () => {
    const input: Record<string, HostTensor> = {
      'zeta.weight': { dtype: 'F32', shape: [2, 2], data: Float32Array.from([1.5, -0, NaN, 3e38]) },
      'alpha.bias': { dtype: 'F16', shape: [3], data: Uint16Array.from([0x3c00, 0x7e00, 0x8001]) },
      '0': { dtype: 'I64', shape: [], data: BigInt64Array.from([-(2n ** 63n)]) },
      'ü.empty': { dtype: 'F16', shape: [0, 7], data: new Uint16Array(0) },
    };
    const bytes = writeSafetensors(input, { k: 'v' });
    const header = parseSafetensorsHeader(bytes);
    expect(header.dataStart % 8).toBe(0);
    expect([...header.entries.keys()]).toEqual(['0', 'alpha.bias', 'zeta.weight', 'ü.empty']);
    const back = readSafetensors(bytes, 'rt');
    expect(back.metadata).toEqual({ k: 'v' });
    for (const [name, t] of Object.entries(input)) {
      const got = back.tensors.get(name) as HostTensor;
      expect({ dtype: got.dtype, shape: got.shape }).toEqual({ dtype: t.dtype, shape: t.shape });
      expect(new Uint8Array(got.data.buffer, got.data.byteOffset, got.data.byteLength)).toEqual(new Uint8Array(t.data.buffer));
    }
    expect(writeSafetensors(new Map(Object.entries(input).reverse()), { k: 'v' })).toEqual(bytes); // order-independent
  });

  it('refuses to write inconsistent tensors', () => {
    expect(() => writeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/'a' has 2 elements but shape \[3\] needs 3/);
    expect(() => writeSafetensors({ __metadata__: { dtype: 'U8', shape: [], data: new Uint8Array(1) } })).toThrow(/invalid tensor name/);
  });

  const bad: [string, () => Uint8Array, RegExp][] = [
    ['shorter than 8 bytes', () => ref.subarray(0, 5), /bad\.st: too short for safetensors \(5 bytes/],
    ['truncated data section', () => ref.subarray(0, ref.length - 3), /bad\.st: tensor 'u8': data_offsets \[\d+, \d+\] run past the data section \(\d+ bytes; truncated file\?\)/],
    ['header length past the end', () => ref.subarray(0, 200), /bad\.st: header length \d+ exceeds the file \(200 bytes/],
    ['corrupted JSON', () => { const b = ref.slice(); b[8] = 0x5b; b[9] = 0x7b; return b; }, /bad\.st: header is not valid UTF-8 JSON/],
    ['JSON array header', () => handmade([], 0), /header is not a JSON object/],
    ['unknown dtype', () => handmade({ w: { dtype: 'F8_E4M3', shape: [1], data_offsets: [0, 1] } }, 1), /tensor 'w': unsupported dtype "F8_E4M3"/],
    ['size mismatch', () => handmade({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } }, 20), /tensor 'w': size mismatch: shape \[2, 3\] × F32 needs 24 bytes, data_offsets give 20/],
    ['offsets out of range', () => handmade({ w: { dtype: 'U8', shape: [8], data_offsets: [4, 12] } }, 8), /tensor 'w': data_offsets \[4, 12\] run past the data section \(8 bytes/],
    ['reversed offsets', () => handmade({ w: { dtype: 'U8', shape: [0], data_offsets: [4, 0] } }, 8), /tensor 'w': data_offsets \[4, 0\] end before they begin/],
    ['negative shape', () => handmade({ w: { dtype: 'U8', shape: [-1], data_offsets: [0, 0] } }, 0), /tensor 'w': shape \[-1\] is not a list of sizes/],
    ['overlap', () => handmade({ a: { dtype: 'U8', shape: [4], data_offsets: [0, 4] }, b: { dtype: 'U8', shape: [4], data_offsets: [2, 6] } }, 6), /tensor 'b' \[2, 6\) overlaps 'a'/],
    ['hole', () => handmade({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] }, b: { dtype: 'U8', shape: [2], data_offsets: [4, 6] } }, 6), /tensor 'b' starts at 4 but 'a' ends at 2/],
    ['trailing bytes', () => handmade({ a: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }, 5), /covers? 2 \(trailing bytes\)/],
    ['non-string metadata', () => handmade({ __metadata__: { n: 1 } }, 0), /__metadata__\.n must be a string/],
  ];
  it.each(bad)('rejects a file with %s, naming the file', (_, make, message) => {
    const bytes = make();
    expect(() => readSafetensors(bytes, 'bad.st')).toThrow(message);
    expect(() => readSafetensors(bytes, 'bad.st')).toThrow(WeightFileError);
  });
});

describe('Node Buffers as input', () => {
  it('tensors read from a Buffer are copies of exactly their own bytes (Buffer.slice is a view)', async () => {
    const { readFileSync } = await import('node:fs');
    const { fileURLToPath } = await import('node:url');
    const { readSafetensors: read } = await import('../../../models/io/safetensors');
    const buf = readFileSync(fileURLToPath(new URL('../../fixtures/yolov9/blocks/conv_k1.safetensors', import.meta.url)));
    const plain = read(new Uint8Array(buf), 'plain');
    const fromBuffer = read(buf, 'buffer');
    for (const [k, t] of plain.tensors) {
      const u = fromBuffer.tensors.get(k)!;
      expect(u.data.length, k).toBe(t.data.length);
      expect(Array.from(u.data as ArrayLike<number | bigint>), k).toEqual(Array.from(t.data as ArrayLike<number | bigint>));
    }
  });
});
