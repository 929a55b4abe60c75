// PyTorch .pt checkpoints: the torch-written tiny YOLO and training checkpoints (test/fixtures/gen/io.py) against
// their state dicts as torch itself returned them, the module attributes a graph builder needs, and every error.
import { unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import type { HostTensor } from '../../../models/io/dtypes';
import { readSafetensors, writeSafetensors } from '../../../models/io/safetensors';
import { loadTorchCheckpoint } from '../../../models/io/torch-checkpoint';
import { type PickleValue, isCall, isTensor } from '../../../models/io/pickle-values';
import { attr, isModule, modelRows, modelYaml, stateTensors, submodule, toPlain } from '../../../models/io/torch-module';
import { unpickle } from '../../../models/io/pickle';
import { PickleWriter, fixtureBytes, fixtureJson, tensorPickle } from './helpers';

interface TinyDoc {
  keys: string[];
  yaml: Record<string, unknown>;
  rows: { i: number; f: number | number[]; type: string }[];
  bn: Record<string, { eps: number; momentum: number }>;
  stride: number[];
  names: Record<string, string>;
  cblinear_c2s: number[];
}

const bytesOf = (t: HostTensor): Uint8Array => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);

function expectSameTensors(got: Map<string, HostTensor>, want: Map<string, HostTensor>): void {
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [key, w] of want) {
    const g = got.get(key) as HostTensor;
    expect({ key, dtype: g.dtype, shape: g.shape }).toEqual({ key, dtype: w.dtype, shape: w.shape });
    expect(bytesOf(g), key).toEqual(bytesOf(w)); // bit-exact, NaN payloads and signed zeros included
  }
}

/** The tiny checkpoint with its zip entries edited. */
function rezip(edit: (files: Record<string, Uint8Array>) => void): Uint8Array {
  const files = unzipSync(fixtureBytes('tiny-yolo.pt'));
  edit(files);
  return zipSync(files, { level: 0 });
}

describe('torch checkpoint: tiny-yolo.pt (protocol 2, converted-style)', () => {
  const ckpt = loadTorchCheckpoint(fixtureBytes('tiny-yolo.pt'), 'tiny-yolo.pt');
  const doc = fixtureJson<TinyDoc>('tiny-yolo.json');

  it('finds the archive prefix and the top-level dict', () => {
    expect(ckpt.prefix).toBe('tiny-yolo/');
    expect(ckpt.top instanceof Map && [...ckpt.top.keys()]).toEqual(['model', 'optimizer', 'best_fitness', 'ema', 'updates', 'opt', 'git', 'date', 'epoch']);
    expect((ckpt.top as Map<PickleValue, PickleValue>).get('epoch')).toBe(-1);
  });

  it('returns the state dict torch returns, in torch key order, bit-exact', () => {
    const sd = ckpt.stateDict();
    expect([...sd.keys()]).toEqual(doc.keys);
    const want = readSafetensors(fixtureBytes('tiny-yolo.expected.safetensors')).tensors;
    expectSameTensors(sd, want);
    expect(sd.get('model.1.conv.weight')?.dtype).toBe('F16');
    expect(sd.get('model.1.bn.num_batches_tracked')).toEqual({ dtype: 'I64', shape: [], data: BigInt64Array.from([2n ** 33n + 7n]) });
    // Same bytes as the Python writer produced from torch's own state dict.
    expect(writeSafetensors(sd)).toEqual(fixtureBytes('tiny-yolo.expected.safetensors'));
    expectSameTensors(ckpt.stateDict('model'), want);
  });

  it('keeps views, shared storages and tied parameters as the pickle has them', () => {
    const records = stateTensors(ckpt.module());
    const [base, cols, t] = ['model.6.base', 'model.6.cols', 'model.6.t'].map((k) => records.get(k));
    expect(cols).toMatchObject({ storageOffset: 1, shape: [4, 3], stride: [6, 2] });
    expect(t).toMatchObject({ storageOffset: 0, shape: [6, 4], stride: [1, 6] });
    expect(isTensor(base) && isTensor(cols) && isTensor(t) && base.storage === cols.storage && base.storage === t.storage).toBe(true);
    expect(records.get('model.7.bn.weight')).toBe(records.get('model.1.bn.weight'));
    // Non-persistent buffers and None entries are not state.
    expect([...records.keys()].filter((k) => k.startsWith('model.6.'))).toEqual(['model.6.base', 'model.6.cols', 'model.6.t']);
    expect(attr(submodule(ckpt.module(), 'model.6'), '_buffers')).toSatisfy((b: PickleValue) => b instanceof Map && b.get('nothing') === null);
  });

  it('exposes yaml, rows, BN eps/momentum and plain attributes for graph building', () => {
    const model = ckpt.module();
    expect(model.cls).toBe('models.yolo.DetectionModel');
    expect(modelYaml(model)).toEqual(doc.yaml);
    expect(modelRows(model).map((r) => ({ i: r.index, f: r.from, type: r.type }))).toEqual(doc.rows);
    for (const [path, want] of Object.entries(doc.bn)) {
      const bn = submodule(model, path);
      expect(bn.cls).toBe('torch.nn.modules.batchnorm.BatchNorm2d');
      expect({ path, eps: attr(bn, 'eps'), momentum: attr(bn, 'momentum') }).toEqual({ path, ...want });
    }
    const conv = submodule(model, 'model.1.conv');
    expect(['kernel_size', 'stride', 'padding', 'groups'].map((a) => toPlain(attr(conv, a)))).toEqual([[3, 3], [2, 2], [1, 1], 1]);
    expect(toPlain(attr(submodule(model, 'model.3'), 'c2s'))).toEqual(doc.cblinear_c2s);
    expect(toPlain(attr(model, 'names'))).toEqual(doc.names);
    const stride = attr(model, 'stride');
    expect(isTensor(stride) && ckpt.tensor(stride)).toEqual({ dtype: 'F32', shape: [3], data: Float32Array.from(doc.stride) });
  });

  it("refuses 'ema' when it is None", () => {
    expect(() => ckpt.stateDict('ema')).toThrow(/tiny-yolo\.pt: 'ema' entry is None/);
  });
});

describe('torch checkpoint: tiny-train.pt (protocol 4, training-style)', () => {
  const ckpt = loadTorchCheckpoint(fixtureBytes('tiny-train.pt'), 'tiny-train.pt');
  const want = readSafetensors(fixtureBytes('tiny-train.expected.safetensors')).tensors;
  const part = (prefix: string): Map<string, HostTensor> =>
    new Map([...want].filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));

  it("'auto' picks ema, and 'model' / 'ema' each match torch", () => {
    expectSameTensors(ckpt.stateDict('auto'), part('ema:'));
    expectSameTensors(ckpt.stateDict('ema'), part('ema:'));
    expectSameTensors(ckpt.stateDict('model'), part('model:'));
    expect(bytesOf(part('ema:').get('model.1.conv.weight') as HostTensor)).not.toEqual(bytesOf(part('model:').get('model.1.conv.weight') as HostTensor));
  });

  it('keeps the other top-level values as data or inert records', () => {
    const top = ckpt.top as Map<PickleValue, PickleValue>;
    expect(top.get('date')).toBe('2024-06-10 ✓');
    expect(top.get('git')).toEqual(new Map([['hash', Uint8Array.from([0, 255, 16])]]));
    expect(top.get('opt')).toEqual(new Map<PickleValue, PickleValue>([['epochs', 3], ['flags', new Set([1, 2])]]));
    const fitness = top.get('best_fitness');
    expect(isCall(fitness) && fitness.fn).toBe('numpy.core.multiarray.scalar');
  });
});

describe('torch checkpoint: errors', () => {
  const good = fixtureBytes('tiny-yolo.pt');

  it('rejects non-zip, legacy and truncated files with the file name', () => {
    expect(() => loadTorchCheckpoint(Uint8Array.from([0, 1, 2, 3, 4]), 'x.pt')).toThrow(/^x\.pt: not a PyTorch zip checkpoint \(first bytes 00 01 02 03\)/);
    expect(() => loadTorchCheckpoint(new Uint8Array(0), 'empty.pt')).toThrow(/empty\.pt: not a PyTorch zip checkpoint \(first bytes none\)/);
    expect(() => loadTorchCheckpoint(Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc]), 'old.pt')).toThrow(/old\.pt: legacy \(pre-1\.6, non-zip\) torch\.save format is not supported/);
    for (const cut of [1, 100, good.length >> 1]) {
      expect(() => loadTorchCheckpoint(good.subarray(0, good.length - cut), 'cut.pt')).toThrow(/cut\.pt: cannot read the zip archive .*truncated or corrupt/);
    }
  });

  it('rejects a zip without data.pkl', () => {
    const zip = zipSync({ 'foo/readme.txt': new TextEncoder().encode('hi') }, { level: 0 });
    expect(() => loadTorchCheckpoint(zip, 'other.zip')).toThrow(/other\.zip: no '<prefix>\/data\.pkl' entry: not a torch\.save checkpoint \(entries: foo\/readme\.txt\)/);
  });

  it('names a missing or short storage entry', () => {
    const missing = rezip((f) => delete f['tiny-yolo/data/3']);
    expect(() => loadTorchCheckpoint(missing, 'm.pt')).toThrow(/m\.pt: missing storage entry 'tiny-yolo\/data\/3' \(referenced by data\.pkl\)/);
    const short = rezip((f) => (f['tiny-yolo/data/3'] = f['tiny-yolo/data/3'].subarray(1)));
    expect(() => loadTorchCheckpoint(short, 's.pt')).toThrow(/s\.pt: storage entry 'tiny-yolo\/data\/3' has \d+ bytes, but \d+ × F16 needs \d+/);
  });

  it('reports a truncated data.pkl with the entry name and byte offset', () => {
    const bad = rezip((f) => (f['tiny-yolo/data.pkl'] = f['tiny-yolo/data.pkl'].subarray(0, 5000)));
    expect(() => loadTorchCheckpoint(bad, 'p.pt')).toThrow(/^p\.pt:tiny-yolo\/data\.pkl: pickle: truncated input: .* at byte \d+/);
  });

  it("reports a dict with neither 'model' nor 'ema'", () => {
    const pkl = new PickleWriter().proto().op('EMPTY_DICT').str('foo').int(1).op('SETITEM').done();
    const ckpt = loadTorchCheckpoint(zipSync({ 'archive/data.pkl': pkl }, { level: 0 }), 'd.pt');
    expect(() => ckpt.stateDict()).toThrow(/d\.pt: no 'model' or 'ema' entry \(top-level keys: foo\)/);
    expect(() => ckpt.module('model')).toThrow(/d\.pt: no 'model' entry/);
  });

  it('materializes strided I64 views of a bare state dict and refuses views past their storage', () => {
    const w = new PickleWriter().proto().op('EMPTY_DICT').op('MARK');
    w.str('inside');
    tensorPickle(w, { cls: 'LongStorage', key: '0', numel: 6 }, 1, [2, 2], [1, 3]);
    w.str('outside');
    tensorPickle(w, { cls: 'FloatStorage', key: '1', numel: 4 }, 2, [3], [1]);
    const files = {
      'archive/data.pkl': w.op('SETITEMS').done(),
      'archive/data/0': new Uint8Array(BigInt64Array.from([10n, 11n, -(2n ** 62n), 13n, 14n, 2n ** 60n]).buffer),
      'archive/data/1': new Uint8Array(16),
    };
    const ckpt = loadTorchCheckpoint(zipSync(files, { level: 0 }), 'v.pt');
    const top = ckpt.top as Map<PickleValue, PickleValue>;
    const inside = top.get('inside');
    expect(isTensor(inside) && ckpt.tensor(inside)).toEqual({ dtype: 'I64', shape: [2, 2], data: BigInt64Array.from([11n, 14n, -(2n ** 62n), 2n ** 60n]) });
    expect(() => ckpt.stateDict()).toThrow(/v\.pt: tensor 'outside' \(offset 2, size \[3\], stride \[1\]\) reaches element 4 of storage '1' with 4 elements/);
  });

  it('rejects unsupported storage types and cyclic modules', () => {
    const w = new PickleWriter().proto();
    tensorPickle(w, { cls: 'ComplexFloatStorage', key: '0', numel: 1 }, 0, [1], [1]);
    const zip = zipSync({ 'archive/data.pkl': w.done(), 'archive/data/0': new Uint8Array(8) }, { level: 0 });
    expect(() => loadTorchCheckpoint(zip, 'c.pt')).toThrow(/c\.pt: storage '0' has unsupported type global torch\.ComplexFloatStorage/);

    const cyc = new PickleWriter().proto().global('m', 'Loop').op('EMPTY_TUPLE').op('NEWOBJ').op('BINPUT', 0)
      .op('EMPTY_DICT').str('_modules').op('EMPTY_DICT').str('self').op('BINGET', 0).op('SETITEM').op('SETITEM').op('BUILD').done();
    const loop = unpickle(cyc);
    if (!isModule(loop)) throw new Error('expected a module record');
    expect(() => stateTensors(loop, 'loop.pt')).toThrow(/loop\.pt: module nesting deeper than 256 at 'self\.self\./);
  });
});
