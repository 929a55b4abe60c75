// torch.save's zip format written without Python: `archive/data.pkl` (pickle protocol 2 whose tensors point at
// storages through persistent ids), `archive/data/<key>` (raw little-endian storages, stored uncompressed and
// 64-byte aligned as torch writes them) and `archive/version`. The reader side is torch-checkpoint.ts.
import { zipSync, type Zippable } from 'fflate';
import { type DType, type HostTensor, tensorBytes } from './dtypes';
import { type PyValue, call, orderedDict, persistent, pickle, pyGlobal, tuple } from './pickle-writer';

const STORAGE_CLASS: Partial<Record<DType, string>> = {
  F16: 'HalfStorage', F32: 'FloatStorage', F64: 'DoubleStorage', BF16: 'BFloat16Storage', I64: 'LongStorage',
  I32: 'IntStorage', I16: 'ShortStorage', I8: 'CharStorage', U8: 'ByteStorage', BOOL: 'BoolStorage',
};

/** Collects storages while a checkpoint's object tree is described, then writes the archive. */
export class TorchArchive {
  private readonly storages: Uint8Array[] = [];

  /** A dense tensor (torch._utils._rebuild_tensor_v2 over a new storage). */
  tensor(t: HostTensor, requiresGrad = false): PyValue {
    const cls = STORAGE_CLASS[t.dtype];
    if (!cls) throw new Error(`torch.save: no storage type for ${t.dtype}`);
    const key = String(this.storages.length);
    this.storages.push(tensorBytes(t));
    const numel = t.shape.reduce((a, b) => a * b, 1);
    const strides = t.shape.map((_, i) => t.shape.slice(i + 1).reduce((a, b) => a * b, 1));
    const storage = persistent(tuple('storage', pyGlobal('torch', cls), key, 'cpu', numel));
    return call(pyGlobal('torch._utils', '_rebuild_tensor_v2'), storage, 0, tuple(...t.shape), tuple(...strides), requiresGrad, orderedDict());
  }

  /** An nn.Parameter wrapping a dense tensor. */
  parameter(t: HostTensor, requiresGrad = true): PyValue {
    return call(pyGlobal('torch._utils', '_rebuild_parameter'), this.tensor(t), requiresGrad, orderedDict());
  }

  /** The zip file of `top` (what torch.save(top, f) writes). */
  save(top: PyValue, folder = 'archive'): Uint8Array {
    const mtime = new Date(2000, 0, 1); // fixed, so equal inputs give equal files
    const files: Zippable = {};
    // entries are written in this order, so each data offset is known when its padding is chosen
    let offset = 0;
    const add = (name: string, data: Uint8Array, align: boolean): void => {
      const path = `${folder}/${name}`;
      const nameLen = new TextEncoder().encode(path).length;
      let extra: Record<number, Uint8Array> | undefined;
      if (align) {
        // an extra field (id 'FB', as torch uses) pads the local header so the data starts on 64 bytes
        const base = offset + 30 + nameLen + 4;
        extra = { 0x4246: new Uint8Array((64 - (base % 64)) % 64) };
      }
      files[path] = [data, { level: 0, mtime, extra }];
      offset += 30 + nameLen + (extra ? 4 + extra[0x4246].length : 0) + data.length;
    };
    add('data.pkl', pickle(top), false);
    this.storages.forEach((s, i) => add(`data/${i}`, s, true));
    add('version', new TextEncoder().encode('3\n'), false);
    return zipSync(files);
  }
}
