// PyTorch zip checkpoints (torch.save, torch >= 1.6): `<prefix>/data.pkl` is a pickle whose tensors point, through
// persistent ids, at raw little-endian storages in `<prefix>/data/<key>`. Entries are stored uncompressed; fflate
// reads the central directory. The pickle is run by the safe unpickler, storages are extracted only when a
// tensor is materialized, and tensors honour storage_offset and strides.
import { unzipSync } from 'fflate';
import { WeightFileError } from './errors';
import { type DType, DTYPE_BYTES, type HostTensor, tensorFromBytes } from './dtypes';
import { unpickle } from './pickle';
import { type PickleObject, type PickleTensor, type PickleValue, type TorchStorage, describe, isDict, isGlobal, isTensor } from './pickle-values';
import { gatherStrided, stridedExtent } from '../../engine/strided';
import { isModule, stateTensors } from './torch-module';

/** Which model of a checkpoint dict: 'auto' = `ema` unless it is None, else `model` (as YOLO's attempt_load). */
export type CheckpointEntry = 'auto' | 'ema' | 'model';

/** An opened PyTorch .pt checkpoint: its unpickled top-level object and the chosen model record. */
export interface TorchCheckpoint {
  readonly file: string;
  /** The zip folder holding data.pkl ('archive/', 'yolov9-c/', ...). */
  readonly prefix: string;
  /** The unpickled top-level object (for YOLO: a dict with 'model', 'ema', 'epoch', ...). */
  readonly top: PickleValue;
  /** The chosen nn.Module record (a DetectionModel for YOLO checkpoints). */
  module(entry?: CheckpointEntry): PickleObject;
  /** `module(entry).state_dict()` with every tensor materialized dense, in torch's key order. */
  stateDict(entry?: CheckpointEntry): Map<string, HostTensor>;
  /** Materializes one tensor record (e.g. the DetectionModel's `stride` attribute). */
  tensor(t: PickleTensor, key?: string): HostTensor;
}

const STORAGE_DTYPES: Readonly<Record<string, DType>> = {
  HalfStorage: 'F16', FloatStorage: 'F32', DoubleStorage: 'F64', BFloat16Storage: 'BF16', LongStorage: 'I64',
  IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

interface ZipEntryInfo {
  readonly size: number;
}

// Reads the named entries (all of them when `want` is null), recording every entry's size in `sizes`.
function readZip(bytes: Uint8Array, file: string, want: (name: string) => boolean, sizes?: Map<string, ZipEntryInfo>): Record<string, Uint8Array> {
  let out: Record<string, Uint8Array>;
  const expected = new Map<string, number>();
  try {
    out = unzipSync(bytes, {
      filter: (f) => {
        sizes?.set(f.name, { size: f.originalSize });
        if (want(f.name)) expected.set(f.name, f.originalSize);
        return want(f.name);
      },
    });
  } catch (e) {
    throw new WeightFileError(file, `cannot read the zip archive (${(e as Error).message}); the file is truncated or corrupt`);
  }
  // fflate slices stored entries without checking the slice fits, so a short entry means the file was cut.
  for (const [name, size] of expected) {
    if (out[name]?.length !== size) {
      throw new WeightFileError(file, `zip entry '${name}' is truncated (${out[name]?.length ?? 0} of ${size} bytes)`, { key: name });
    }
  }
  return out;
}

function checkMagic(bytes: Uint8Array, file: string): void {
  const sig = bytes.length >= 4 ? (bytes[0] | (bytes[1] << 8) | (bytes[2] << 16) | (bytes[3] << 24)) >>> 0 : 0;
  if (sig === 0x04034b50) return; // "PK\3\4": a zip that starts with a local file header
  if (bytes[0] === 0x80 && bytes.length > 1 && bytes[1] <= 5) {
    throw new WeightFileError(file, 'legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with torch >= 1.6', { offset: 0 });
  }
  throw new WeightFileError(file, `not a PyTorch zip checkpoint (first bytes ${[...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ') || 'none'})`, { offset: 0 });
}

/** Opens a `.pt` checkpoint from its bytes; `file` names it in every error message. */
export function loadTorchCheckpoint(bytes: Uint8Array, file = 'checkpoint.pt'): TorchCheckpoint {
  checkMagic(bytes, file);
  const sizes = new Map<string, ZipEntryInfo>();
  const head = readZip(bytes, file, (n) => n.endsWith('data.pkl') || n.endsWith('/byteorder'), sizes);
  const pklName = [...sizes.keys()].find((n) => n.endsWith('/data.pkl') || n === 'data.pkl');
  if (pklName === undefined) {
    const names = [...sizes.keys()].slice(0, 8).join(', ');
    throw new WeightFileError(file, `no '<prefix>/data.pkl' entry: not a torch.save checkpoint (entries: ${names || 'none'})`);
  }
  const prefix = pklName.slice(0, pklName.length - 'data.pkl'.length);
  const order = head[`${prefix}byteorder`];
  if (order !== undefined && new TextDecoder().decode(order).trim() !== 'little') {
    throw new WeightFileError(file, `storages are ${new TextDecoder().decode(order).trim()}-endian; only little-endian is supported`, { key: `${prefix}byteorder` });
  }

  // One record per storage key, so tensors sharing a storage share the record (and its bytes).
  const storages = new Map<string, TorchStorage>();
  const persistentLoad = (pid: PickleValue): PickleValue => {
    if (!Array.isArray(pid) || pid.length < 5 || pid[0] !== 'storage') {
      throw new WeightFileError(file, `unexpected persistent id ${describe(pid)} (expected ('storage', type, key, location, numel))`, { key: pklName });
    }
    const [, cls, key, location, numel] = pid;
    if (typeof key !== 'string' || typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) {
      throw new WeightFileError(file, `malformed storage id ${describe(key)} / ${describe(numel)}`, { key: pklName });
    }
    const dtype = isGlobal(cls) && cls.module === 'torch' ? STORAGE_DTYPES[cls.name] : undefined;
    if (dtype === undefined) throw new WeightFileError(file, `storage '${key}' has unsupported type ${describe(cls)}`, { key });
    const entry = `${prefix}data/${key}`;
    const info = sizes.get(entry);
    if (info === undefined) throw new WeightFileError(file, `missing storage entry '${entry}' (referenced by data.pkl)`, { key: entry });
    if (info.size !== numel * DTYPE_BYTES[dtype]) {
      throw new WeightFileError(file, `storage entry '${entry}' has ${info.size} bytes, but ${numel} × ${dtype} needs ${numel * DTYPE_BYTES[dtype]}`, { key: entry });
    }
    let s = storages.get(key);
    if (s === undefined) {
      s = { kind: 'storage', dtype, key, location: typeof location === 'string' ? location : String(location), numel };
      storages.set(key, s);
    }
    return s;
  };
  const top = unpickle(head[pklName], { file: `${file}:${pklName}`, persistentLoad });

  const loaded = new Map<string, Uint8Array>();
  const load = (keys: Iterable<string>): void => {
    const missing = new Set([...keys].filter((k) => !loaded.has(k)).map((k) => `${prefix}data/${k}`));
    if (missing.size === 0) return;
    const got = readZip(bytes, file, (n) => missing.has(n));
    for (const name of missing) loaded.set(name.slice(prefix.length + 5), got[name]);
  };

  const materialize = (t: PickleTensor, key: string): HostTensor => {
    const { storage: s, storageOffset, shape, stride } = t;
    const extent = stridedExtent(storageOffset, shape, stride);
    if (extent > s.numel) {
      throw new WeightFileError(file, `tensor '${key}' (offset ${storageOffset}, size [${shape.join(', ')}], stride [${stride.join(', ')}]) reaches element ${extent - 1} of storage '${s.key}' with ${s.numel} elements`, { key });
    }
    load([s.key]);
    const raw = loaded.get(s.key) as Uint8Array;
    return tensorFromBytes(s.dtype, shape, gatherStrided(raw, DTYPE_BYTES[s.dtype], storageOffset, shape, stride));
  };

  const select = (entry: CheckpointEntry): PickleValue => {
    if (isModule(top)) return top; // torch.save(model)
    if (!isDict(top)) throw new WeightFileError(file, `top-level object is ${describe(top)}, not a checkpoint dict or module`);
    const keys = [...top.keys()].map((k) => String(k)).join(', ');
    const pick = entry === 'auto' ? ((top.get('ema') ?? null) !== null ? 'ema' : 'model') : entry;
    const v = top.get(pick);
    if (entry === 'auto' && v === undefined && top.size > 0 && [...top.values()].every(isTensor)) return top; // a bare state dict
    if (v === undefined) throw new WeightFileError(file, `no '${entry === 'auto' ? "model' or 'ema" : pick}' entry (top-level keys: ${keys})`, { key: pick });
    if (v === null) throw new WeightFileError(file, `'${pick}' entry is None`, { key: pick });
    return v;
  };

  const module = (entry: CheckpointEntry = 'auto'): PickleObject => {
    const v = select(entry);
    if (!isModule(v)) throw new WeightFileError(file, `the selected entry is ${describe(v)}, not an nn.Module`);
    return v;
  };

  const stateDict = (entry: CheckpointEntry = 'auto'): Map<string, HostTensor> => {
    const v = select(entry);
    let records: Map<string, PickleTensor>;
    if (isModule(v)) records = stateTensors(v, file);
    else if (isDict(v) && [...v].every(([k, t]) => typeof k === 'string' && isTensor(t))) records = v as Map<string, PickleTensor>;
    else throw new WeightFileError(file, `the selected entry is ${describe(v)}, neither an nn.Module nor a state dict`);
    load([...records.values()].map((t) => t.storage.key));
    const out = new Map<string, HostTensor>();
    for (const [key, t] of records) out.set(key, materialize(t, key));
    return out;
  };

  return { file, prefix, top, module, stateDict, tensor: (t, key = 'tensor') => materialize(t, key) };
}
