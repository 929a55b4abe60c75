// Host tensor helpers and the strided gather, checked against direct computations.
import { describe, expect, it } from 'vitest';
import { fromFloat32, int64ToNumbers, tensorFromBytes, toFloat32 } from '../../../models/io/dtypes';
import { gatherStrided, isDenseRowMajor, stridedExtent } from '../../../engine/strided';

describe('dtypes', () => {
  it('widens F16 and BF16 bit patterns to float32', () => {
    const f16 = toFloat32({ dtype: 'F16', shape: [5], data: Uint16Array.from([0x3c00, 0xc100, 0x7bff, 0x0001, 0xfc00]) });
    expect([...f16]).toEqual([1, -2.5, 65504, 2 ** -24, -Infinity]);
    const bf16 = toFloat32({ dtype: 'BF16', shape: [2], data: Uint16Array.from([0x3f80, 0xc050]) });
    expect([...bf16]).toEqual([1, -3.25]);
  });

  it('rounds float32 to F16 and BF16 to nearest even and keeps NaN', () => {
    const v = Float32Array.from([1 + 2 ** -11, 1 + 3 * 2 ** -11, NaN, 1 + 2 ** -8, 1 + 3 * 2 ** -8]);
    const h = fromFloat32([5], v, 'F16');
    expect(h.dtype).toBe('F16');
    expect([...h.data.slice(0, 2)]).toEqual([0x3c00, 0x3c02]); // tie → even mantissa in both cases
    const b = fromFloat32([5], v, 'BF16');
    expect(Number.isNaN(toFloat32(b)[2])).toBe(true);
    expect([...b.data.slice(3)]).toEqual([0x3f80, 0x3f82]);
    expect(() => fromFloat32([2, 2], v)).toThrow(/do not fill shape \[2, 2\]/);
  });

  it('converts I64 to numbers only while exact', () => {
    expect(int64ToNumbers(BigInt64Array.from([0n, -5n, 2n ** 53n - 1n]))).toEqual([0, -5, 2 ** 53 - 1]);
    expect(() => int64ToNumbers(BigInt64Array.from([1n, 2n ** 53n]))).toThrow(/element 1 .* not a safe integer/);
  });

  it('copies bytes so a tensor never aliases its file', () => {
    const file = Uint8Array.from([0, 0, 128, 63, 0, 0, 0, 64]);
    const t = tensorFromBytes('F32', [2], file.subarray(0, 8));
    expect(t.data).toEqual(Float32Array.from([1, 2]));
    file[3] = 0;
    expect(t.data[0]).toBe(1);
  });
});

describe('strided gather', () => {
  // Reference: element (i, j, k) of the view is storage[offset + i*s0 + j*s1 + k*s2].
  function reference(src: BigInt64Array, offset: number, shape: number[], stride: number[]): bigint[] {
    const out: bigint[] = [];
    for (let i = 0; i < shape[0]; i++)
      for (let j = 0; j < shape[1]; j++)
        for (let k = 0; k < shape[2]; k++) out.push(src[offset + i * stride[0] + j * stride[1] + k * stride[2]]);
    return out;
  }

  it('matches index arithmetic for permuted, sliced and broadcast 8-byte views', () => {
    const src = BigInt64Array.from({ length: 60 }, (_, i) => BigInt(i) * 0x100000001n - 7n);
    const bytes = new Uint8Array(src.buffer);
    const cases: [number, number[], number[]][] = [
      [0, [3, 4, 5], [20, 5, 1]], // dense
      [3, [2, 3, 2], [1, 20, 7]], // permuted with an offset
      [1, [3, 2, 4], [20, 0, 2]], // a broadcast (stride 0) axis
      [5, [1, 5, 1], [99, 11, 42]], // size-1 axes with arbitrary strides
    ];
    for (const [offset, shape, stride] of cases) {
      expect(stridedExtent(offset, shape, stride)).toBeLessThanOrEqual(60);
      const got = new BigInt64Array(gatherStrided(bytes, 8, offset, shape, stride).buffer);
      expect([...got]).toEqual(reference(src, offset, shape, stride));
    }
  });

  it('handles 2- and 1-byte elements and unaligned storages', () => {
    const src = Uint8Array.from({ length: 25 }, (_, i) => i);
    const unaligned = new Uint8Array(src.length + 1).subarray(1);
    unaligned.set(src);
    const u16 = gatherStrided(unaligned, 2, 1, [2, 3], [1, 4]);
    expect([...new Uint16Array(u16.buffer)]).toEqual([1, 5, 9, 2, 6, 10].map((e) => src[2 * e] | (src[2 * e + 1] << 8)));
    expect([...gatherStrided(src, 1, 2, [3], [3])]).toEqual([2, 5, 8]);
  });

  it('reports extents and contiguity as torch does', () => {
    expect(stridedExtent(4, [2, 3], [3, 1])).toBe(10);
    expect(stridedExtent(4, [0, 3], [3, 1])).toBe(0);
    expect(stridedExtent(7, [], [])).toBe(8);
    expect(isDenseRowMajor([2, 1, 3], [3, 100, 1])).toBe(true);
    expect(isDenseRowMajor([2, 3], [1, 2])).toBe(false);
  });
});
