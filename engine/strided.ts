// Copies a strided view (offset + shape + strides, all in elements; torch's storage_offset/size/stride) out of a
// storage into dense row-major order: tensor read-backs and .pt tensors. Works on bytes with an element size so
// one routine serves every dtype.

/** One past the largest element index the view touches (0 for an empty view). */
export function stridedExtent(offset: number, shape: readonly number[], stride: readonly number[]): number {
  let last = offset;
  for (let i = 0; i < shape.length; i++) {
    if (shape[i] === 0) return 0;
    last += (shape[i] - 1) * stride[i];
  }
  return last + 1;
}

/** Row-major contiguity as torch defines it: size-1 dimensions may carry any stride. */
export function isDenseRowMajor(shape: readonly number[], stride: readonly number[]): boolean {
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] === 1) continue;
    if (stride[i] !== expect) return false;
    expect *= shape[i];
  }
  return true;
}

function words(bytes: Uint8Array, width: 1 | 2 | 4): Uint8Array | Uint16Array | Uint32Array {
  const src = bytes.byteOffset % width === 0 ? bytes : Uint8Array.prototype.slice.call(bytes);
  if (width === 1) return src;
  if (width === 2) return new Uint16Array(src.buffer, src.byteOffset, src.byteLength / 2);
  return new Uint32Array(src.buffer, src.byteOffset, src.byteLength / 4);
}

/**
 * Dense copy of the view. The caller has checked `stridedExtent(...) * elemSize <= storage.length` and that the
 * shape and strides are non-negative integers of equal rank.
 */
export function gatherStrided(
  storage: Uint8Array, elemSize: 1 | 2 | 4 | 8, offset: number, shape: readonly number[], stride: readonly number[],
): Uint8Array {
  let n = 1;
  for (const d of shape) n *= d;
  const out = new Uint8Array(n * elemSize);
  if (n === 0) return out;
  if (isDenseRowMajor(shape, stride)) {
    out.set(storage.subarray(offset * elemSize, (offset + n) * elemSize));
    return out;
  }
  // 8-byte elements move as two 32-bit words; nothing here interprets the values.
  const width = elemSize === 8 ? 4 : elemSize;
  const per = elemSize / width;
  const src = words(storage, width);
  const dst = words(out, width);
  const rank = shape.length;
  const idx = new Array<number>(rank).fill(0);
  let pos = offset;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < per; k++) dst[i * per + k] = src[pos * per + k];
    for (let ax = rank - 1; ax >= 0; ax--) {
      pos += stride[ax];
      if (++idx[ax] < shape[ax]) break;
      pos -= stride[ax] * shape[ax];
      idx[ax] = 0;
    }
  }
  return out;
}
