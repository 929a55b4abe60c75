// NumPy .npy: "\x93NUMPY", version (1.0 / 2.0 / 3.0), header length (u16 for 1.0, u32 after), a Python dict
// literal `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded so the data starts on a 64-byte
// boundary, then the raw C-order data. writeNpy reproduces numpy's own header byte for byte.
import { WeightFileError } from './errors';
import { decodeLatin1 } from './text';
import { type DType, DTYPE_BYTES, type HostTensor, type HostTensorInput, hostTensor, numel, tensorBytes, tensorFromBytes } from './dtypes';

const DESCR_TO_DTYPE: Readonly<Record<string, DType>> = {
  '<f4': 'F32', '<f2': 'F16', '<f8': 'F64', '<i8': 'I64', '<i4': 'I32', '<i2': 'I16', '|i1': 'I8', '|u1': 'U8', '|b1': 'BOOL',
};
const DTYPE_TO_DESCR: Readonly<Partial<Record<DType, string>>> = Object.fromEntries(
  Object.entries(DESCR_TO_DTYPE).map(([d, t]) => [t, d]),
);
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ALIGN = 64;
/** numpy leaves room for the leading axis to grow to this many digits in place (numpy >= 1.23). */
const GROWTH_AXIS_MAX_DIGITS = 21;

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

// A parser for exactly the literal numpy writes: a dict of string keys whose values are a string, a bool or a
// tuple of integers (Python 2 files may suffix integers with 'L'). Nothing is evaluated.
function parseHeaderLiteral(file: string, text: string): NpyHeader {
  let i = 0;
  const fail = (what: string): never => {
    throw new WeightFileError(file, `npy header: ${what} at character ${i} of ${JSON.stringify(text.trim())}`);
  };
  const ws = (): void => {
    while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  };
  const expect = (c: string): void => {
    ws();
    if (text[i] !== c) fail(`expected '${c}'`);
    i++;
  };
  const str = (): string => {
    ws();
    const q = text[i];
    if (q !== "'" && q !== '"') return fail('expected a string');
    const end = text.indexOf(q, i + 1);
    if (end < 0) return fail('unterminated string');
    const s = text.slice(i + 1, end);
    i = end + 1;
    return s;
  };
  const value = (): string | boolean | number[] => {
    ws();
    if (text.startsWith('True', i)) return (i += 4), true;
    if (text.startsWith('False', i)) return (i += 5), false;
    if (text[i] === "'" || text[i] === '"') return str();
    if (text[i] !== '(') return fail('expected a string, True, False or a tuple');
    i++;
    const dims: number[] = [];
    for (;;) {
      ws();
      if (text[i] === ')') break;
      const m = /^\d+L?/.exec(text.slice(i, i + 24));
      if (!m) return fail('expected a non-negative integer');
      dims.push(Number.parseInt(m[0], 10));
      i += m[0].length;
      ws();
      if (text[i] === ',') i++;
      else if (text[i] !== ')') fail("expected ',' or ')'");
    }
    i++;
    return dims;
  };
  const d = new Map<string, string | boolean | number[]>();
  expect('{');
  for (;;) {
    ws();
    if (text[i] === '}') break;
    const k = str();
    expect(':');
    d.set(k, value());
    ws();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') fail("expected ',' or '}'");
  }
  const descr = d.get('descr');
  const fortranOrder = d.get('fortran_order');
  const shape = d.get('shape');
  if (d.size !== 3 || typeof descr !== 'string' || typeof fortranOrder !== 'boolean' || !Array.isArray(shape)) {
    return fail("expected exactly the keys 'descr' (string), 'fortran_order' (bool) and 'shape' (tuple)");
  }
  return { descr, fortranOrder, shape };
}

/** Reads a .npy file; `file` names it in error messages. */
export function readNpy(bytes: Uint8Array, file = 'npy'): HostTensor {
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) throw new WeightFileError(file, 'not a .npy file (bad magic)', { offset: 0 });
  const major = bytes[6];
  const minor = bytes[7];
  if (minor !== 0 || major < 1 || major > 3) throw new WeightFileError(file, `unsupported .npy version ${major}.${minor}`, { offset: 6 });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenSize = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenSize) throw new WeightFileError(file, 'truncated .npy header', { offset: 8 });
  const headerLength = major === 1 ? dv.getUint16(8, true) : dv.getUint32(8, true);
  const dataStart = 8 + lenSize + headerLength;
  if (dataStart > bytes.length) {
    throw new WeightFileError(file, `header length ${headerLength} exceeds the file (${bytes.length} bytes)`, { offset: 8 });
  }
  // 1.0 and 2.0 headers are latin-1; 3.0 is UTF-8.
  const raw = bytes.subarray(8 + lenSize, dataStart);
  const text = major === 3 ? new TextDecoder('utf-8').decode(raw) : decodeLatin1(raw);
  const h = parseHeaderLiteral(file, text);
  const dtype = DESCR_TO_DTYPE[h.descr];
  if (dtype === undefined) {
    throw new WeightFileError(file, `unsupported dtype '${h.descr}' (supported: ${Object.keys(DESCR_TO_DTYPE).join(' ')}; big-endian is not)`);
  }
  const n = numel(h.shape);
  if (h.fortranOrder && h.shape.filter((d) => d > 1).length > 1) {
    throw new WeightFileError(file, `Fortran-order arrays are not supported (shape [${h.shape.join(', ')}]); save with np.ascontiguousarray`);
  }
  const want = n * DTYPE_BYTES[dtype];
  if (bytes.length - dataStart < want) {
    throw new WeightFileError(file, `truncated data: shape [${h.shape.join(', ')}] × ${h.descr} needs ${want} bytes, file has ${bytes.length - dataStart}`, { offset: dataStart });
  }
  return tensorFromBytes(dtype, h.shape, bytes.subarray(dataStart, dataStart + want));
}

/**
 * Writes a C-order .npy exactly as numpy.save would (version 1.0 unless the header needs 2.0). The dtype may be
 * spelled 'f32' or 'F32' (DTypeName); bf16 has no numpy dtype.
 */
export function writeNpy(input: HostTensorInput): Uint8Array {
  const t = hostTensor(input, 'writeNpy');
  const descr = DTYPE_TO_DESCR[t.dtype];
  if (descr === undefined) throw new Error(`writeNpy: numpy has no dtype for ${t.dtype}`);
  if (t.data.length !== numel(t.shape)) {
    throw new Error(`writeNpy: ${t.data.length} elements do not fill shape [${t.shape.join(', ')}]`);
  }
  const shape = t.shape.length === 1 ? `(${t.shape[0]},)` : `(${t.shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  if (t.shape.length > 0) dict += ' '.repeat(GROWTH_AXIS_MAX_DIGITS - String(t.shape[0]).length);
  const body = new TextEncoder().encode(dict); // ASCII only, so latin-1 and UTF-8 agree
  const hlen = body.length + 1; // + the closing newline
  const padFor = (lenSize: number): number => ALIGN - ((8 + lenSize + hlen) % ALIGN);
  // Like numpy: 1.0 unless its u16 length field cannot hold the padded header.
  const major = hlen + padFor(2) <= 0xffff ? 1 : 2;
  const lenSize = major === 1 ? 2 : 4;
  const pad = padFor(lenSize);
  const dataStart = 8 + lenSize + hlen + pad;
  const data = tensorBytes(t);
  const out = new Uint8Array(dataStart + data.length);
  out.set(MAGIC, 0);
  out[6] = major;
  out[7] = 0;
  const dv = new DataView(out.buffer);
  if (major === 1) dv.setUint16(8, hlen + pad, true);
  else dv.setUint32(8, hlen + pad, true);
  out.set(body, 8 + lenSize);
  out.fill(0x20, 8 + lenSize + body.length, dataStart - 1);
  out[dataStart - 1] = 0x0a;
  out.set(data, dataStart);
  return out;
}
