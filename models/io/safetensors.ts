// safetensors: u64 little-endian header length N, N bytes of JSON `{name: {dtype, shape, data_offsets}}` plus an
// optional `__metadata__` string map, then the raw little-endian tensor bytes. data_offsets are relative to the
// end of the header. Validation follows the reference implementation: offsets must tile the data section exactly
// (no overlap, no hole, nothing past the end) and each range must match shape × dtype size.
import { WeightFileError } from './errors';
import { type DType, DTYPE_BYTES, type HostTensor, type HostTensorInput, isDType, numel, tensorBytes, tensorFromBytes } from './dtypes';

/** One tensor's header entry: dtype, shape and byte range. */
export interface SafetensorsEntry {
  readonly dtype: DType;
  readonly shape: readonly number[];
  /** [begin, end) in bytes, relative to the start of the data section. */
  readonly dataOffsets: readonly [number, number];
}

/** A parsed safetensors header: entries by name, metadata, where the data starts. */
export interface SafetensorsHeader {
  /** Entries in header order. */
  readonly entries: ReadonlyMap<string, SafetensorsEntry>;
  readonly metadata: Readonly<Record<string, string>> | null;
  /** Byte offset of the data section in the file (8 + header length). */
  readonly dataStart: number;
}

/** What readSafetensors() returns: the tensors and the metadata. */
export interface SafetensorsFile {
  readonly tensors: Map<string, HostTensor>;
  readonly metadata: Readonly<Record<string, string>> | null;
}

/** The reference implementation refuses headers above 100 MB; so do we (a guard against absurd lengths). */
const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSize = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

function parseMetadata(file: string, v: unknown): Record<string, string> {
  if (!isRecord(v)) throw new WeightFileError(file, `${METADATA_KEY} must be an object of strings`, { key: METADATA_KEY });
  const out: Record<string, string> = {};
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== 'string') {
      throw new WeightFileError(file, `${METADATA_KEY}.${k} must be a string, got ${JSON.stringify(s)}`, { key: METADATA_KEY });
    }
    out[k] = s;
  }
  return out;
}

function parseEntry(file: string, name: string, v: unknown, dataLength: number): SafetensorsEntry {
  const bad = (what: string): never => {
    throw new WeightFileError(file, `tensor '${name}': ${what}`, { key: name });
  };
  if (!isRecord(v)) return bad('header entry is not an object');
  const { dtype, shape, data_offsets: offsets } = v;
  if (typeof dtype !== 'string' || !isDType(dtype)) {
    return bad(`unsupported dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`);
  }
  if (!Array.isArray(shape) || !shape.every(isSize)) return bad(`shape ${JSON.stringify(shape)} is not a list of sizes`);
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isSize)) {
    return bad(`data_offsets ${JSON.stringify(offsets)} is not a [begin, end] pair`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) bad(`data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataLength) bad(`data_offsets [${begin}, ${end}] run past the data section (${dataLength} bytes; truncated file?)`);
  const want = numel(shape) * DTYPE_BYTES[dtype];
  if (end - begin !== want) {
    bad(`size mismatch: shape [${shape.join(', ')}] × ${dtype} needs ${want} bytes, data_offsets give ${end - begin}`);
  }
  return { dtype, shape: shape as number[], dataOffsets: [begin, end] };
}

/** Parses and validates the header without decoding tensor data. */
export function parseSafetensorsHeader(bytes: Uint8Array, file = 'safetensors'): SafetensorsHeader {
  if (bytes.length < 8) throw new WeightFileError(file, `too short for safetensors (${bytes.length} bytes, need at least 8)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = dv.getUint32(0, true) + dv.getUint32(4, true) * 2 ** 32;
  if (headerLength > bytes.length - 8) {
    throw new WeightFileError(file, `header length ${headerLength} exceeds the file (${bytes.length} bytes; truncated or not safetensors)`, { offset: 0 });
  }
  if (headerLength > MAX_HEADER_BYTES) throw new WeightFileError(file, `header length ${headerLength} is over the 100 MB limit`, { offset: 0 });
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (e) {
    throw new WeightFileError(file, `header is not valid UTF-8 JSON: ${(e as Error).message}`, { offset: 8 });
  }
  if (!isRecord(json)) throw new WeightFileError(file, 'header is not a JSON object', { offset: 8 });
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const entries = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> | null = null;
  for (const [name, v] of Object.entries(json)) {
    if (name === METADATA_KEY) metadata = parseMetadata(file, v);
    else entries.set(name, parseEntry(file, name, v, dataLength));
  }
  // Walk the ranges in file order: each must start where the previous one ended, and the last must end the file.
  const order = [...entries].sort((a, b) => a[1].dataOffsets[0] - b[1].dataOffsets[0] || a[1].dataOffsets[1] - b[1].dataOffsets[1]);
  let at = 0;
  let prev = '(start of data)';
  for (const [name, e] of order) {
    const [begin, end] = e.dataOffsets;
    if (begin < at) throw new WeightFileError(file, `tensor '${name}' [${begin}, ${end}) overlaps '${prev}' (which ends at ${at})`, { key: name });
    if (begin > at) throw new WeightFileError(file, `tensor '${name}' starts at ${begin} but '${prev}' ends at ${at} (hole in the data section)`, { key: name });
    at = end;
    prev = name;
  }
  if (at !== dataLength) {
    throw new WeightFileError(file, `data section is ${dataLength} bytes but the tensors cover ${at} (${at < dataLength ? 'trailing bytes' : 'truncated'})`);
  }
  return { entries, metadata, dataStart };
}

/** Reads every tensor (copied out of `bytes`) and the metadata. `file` names the source in error messages. */
export function readSafetensors(bytes: Uint8Array, file = 'safetensors'): SafetensorsFile {
  const { entries, metadata, dataStart } = parseSafetensorsHeader(bytes, file);
  const tensors = new Map<string, HostTensor>();
  for (const [name, e] of entries) {
    const [begin, end] = e.dataOffsets;
    tensors.set(name, tensorFromBytes(e.dtype, e.shape, bytes.subarray(dataStart + begin, dataStart + end)));
  }
  return { tensors, metadata };
}

/** Tensors to write by name; their dtypes may be spelled either way (DTypeName). */
export type TensorSet = ReadonlyMap<string, HostTensorInput> | Readonly<Record<string, HostTensorInput>>;

/**
 * Serializes tensors in sorted name order (deterministic output), with the JSON header padded by spaces to a
 * multiple of 8 bytes as the reference writer does, so the data section stays 8-byte aligned.
 */
export function writeSafetensors(tensors: TensorSet, metadata?: Readonly<Record<string, string>>): Uint8Array {
  const list = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // The header is assembled as text: a JS object would move integer-like names ('0') ahead of the others.
  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(metadata)}`);
  let offset = 0;
  for (const [name, t] of list) {
    if (name === METADATA_KEY || name === '') throw new Error(`writeSafetensors: invalid tensor name '${name}'`);
    if (!isDType(String(t.dtype).toUpperCase())) throw new Error(`writeSafetensors: tensor '${name}' has unknown dtype '${String(t.dtype)}'`);
    if (!t.shape.every(isSize)) throw new Error(`writeSafetensors: tensor '${name}' has invalid shape [${t.shape.join(', ')}]`);
    if (t.data.length !== numel(t.shape)) {
      throw new Error(`writeSafetensors: tensor '${name}' has ${t.data.length} elements but shape [${t.shape.join(', ')}] needs ${numel(t.shape)}`);
    }
    const info = { dtype: String(t.dtype).toUpperCase(), shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(`{${parts.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + padded + offset);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, padded % 2 ** 32, true);
  dv.setUint32(4, Math.floor(padded / 2 ** 32), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let at = 8 + padded;
  for (const [, t] of list) {
    out.set(tensorBytes(t), at);
    at += t.data.byteLength;
  }
  return out;
}
