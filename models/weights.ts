// Moving weights between a DetectionModel and files: state dicts keyed by the official names, safetensors
// (ours, with the model config in the metadata) and official PyTorch `.pt` checkpoints (fp16, upcast to f32).
import { stringify } from 'yaml';
import { tensor } from '../engine/tensor';
import { noGrad } from '../engine/tensor';
import { fmtShape } from '../engine/errors';
import { type HostTensor, toFloat32 } from './io/dtypes';
import { readSafetensors, writeSafetensors } from './io/safetensors';
import { type CheckpointEntry, loadTorchCheckpoint } from './io/torch-checkpoint';
import { attr, modelYaml, toPlain } from './io/torch-module';
import { type ModelConfig, parseModelConfig } from './config';
import type { DetectionModel } from './yolo';

const NBT = '.num_batches_tracked';

/** The model's state dict read back from the GPU (float32, plus int64 num_batches_tracked per BatchNorm). */
export async function stateDict(model: DetectionModel): Promise<Map<string, HostTensor>> {
  const out = new Map<string, HostTensor>();
  const bns = new Map([...model.batchNorms()].map(([k, bn]) => [k, bn] as const));
  for (const [key, t] of model.stateEntries()) {
    out.set(key, { dtype: 'F32', shape: [...t.shape], data: await t.data() });
    const owner = key.slice(0, key.lastIndexOf('.'));
    const bn = bns.get(owner);
    if (bn && key.endsWith('.running_var')) out.set(owner + NBT, { dtype: 'I64', shape: [], data: BigInt64Array.of(BigInt(bn.numBatchesTracked)) });
  }
  return out;
}

/**
 * Load a state dict (official names) into `model`, checking every shape. Missing or unexpected keys and shape
 * mismatches (e.g. a checkpoint made for another config) throw, naming `source` and the keys.
 */
export function loadStateDict(model: DetectionModel, tensors: ReadonlyMap<string, HostTensor>, source: string): void {
  const expected = [...model.stateEntries()];
  const known = new Set(expected.map(([k]) => k));
  const bns = new Map([...model.batchNorms()].map(([k, bn]) => [k, bn] as const));
  const missing = expected.filter(([k]) => !tensors.has(k)).map(([k]) => k);
  const unexpected = [...tensors.keys()].filter((k) => !known.has(k) && !(k.endsWith(NBT) && bns.has(k.slice(0, -NBT.length))));
  const what = model.config.source;
  if (missing.length > 0 || unexpected.length > 0) {
    const list = (ks: string[]): string => ks.slice(0, 5).join(', ') + (ks.length > 5 ? `, … (${ks.length} in all)` : '');
    throw new Error(
      `${source} does not fit ${what}: ` +
        [missing.length ? `missing ${list(missing)}` : '', unexpected.length ? `unexpected ${list(unexpected)}` : ''].filter(Boolean).join('; ') +
        ' — is it a checkpoint of another model config?',
    );
  }
  for (const [key, t] of expected) {
    const h = tensors.get(key)!;
    if (JSON.stringify(h.shape) !== JSON.stringify(t.shape)) {
      throw new Error(`${source}: ${key} has shape ${fmtShape(h.shape)} but ${what} expects ${fmtShape(t.shape)} — is it a checkpoint of another model config?`);
    }
  }
  noGrad(model.device, () => {
    for (const [key, t] of expected) {
      const h = tensors.get(key)!;
      const values = toFloat32(h);
      if (values.some((v) => !Number.isFinite(v))) throw new Error(`${source}: ${key} contains NaN or infinite values`);
      model.setTensor(key, tensor(model.device, values, t.shape));
    }
  });
  for (const [path, bn] of bns) {
    const n = tensors.get(path + NBT);
    if (n && n.dtype === 'I64') bn.numBatchesTracked = Number(n.data[0]);
  }
}

/** What readWeightFile() returns: the tensors and what the file says about the model. */
export interface WeightFile {
  readonly tensors: Map<string, HostTensor>;
  /** The model config stored with the weights (our safetensors metadata, or a .pt's DetectionModel.yaml). */
  readonly config: ModelConfig | null;
  /** Class names stored with the weights, if any. */
  readonly names: string[] | null;
  readonly format: 'safetensors' | 'torch';
}

/** Read weights from a safetensors or PyTorch `.pt` file's bytes; `name` is used in messages. */
export function readWeightFile(bytes: Uint8Array, name: string, opts: { entry?: CheckpointEntry } = {}): WeightFile {
  const isZip = bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b;
  if (isZip || /\.pt$|\.pth$/.test(name)) {
    const ck = loadTorchCheckpoint(bytes, name);
    const module = ck.module(opts.entry ?? 'auto');
    const yaml = modelYaml(module, name);
    const inputCh = typeof yaml.ch === 'number' ? yaml.ch : 3;
    const config = parseModelConfig(stringify(yaml), `${name} (embedded model yaml)`);
    if (inputCh !== 3) throw new Error(`${name}: models with ${inputCh} input channels are not supported`);
    const n = toPlain(attr(module, 'names'));
    const names = Array.isArray(n) ? n.map(String) : n !== null && typeof n === 'object' ? Object.values(n).map(String) : null;
    return { tensors: ck.stateDict(opts.entry ?? 'auto'), config, names, format: 'torch' };
  }
  const f = readSafetensors(bytes, name);
  const text = f.metadata?.config;
  let tensors = f.tensors;
  if (f.metadata?.format === 'gelan-webgpu-checkpoint') {
    // a training checkpoint: its EMA weights (what validation and best.pt use), as the official attempt_load
    const want = opts.entry === 'model' ? null : 'ema.';
    const ema = [...f.tensors].filter(([k]) => k.startsWith('ema.'));
    tensors = new Map(want && ema.length ? ema.map(([k, t]) => [k.slice(4), t]) : [...f.tensors].filter(([k]) => !k.startsWith('ema.') && !k.startsWith('optim.')));
  }
  let names: string[] | null = null;
  try {
    names = f.metadata?.names ? (JSON.parse(f.metadata.names) as string[]) : null;
  } catch {
    names = null;
  }
  return { tensors, config: text ? parseModelConfig(text, `${name} (embedded model yaml)`) : null, names, format: 'safetensors' };
}

/** Serialise a model's weights as safetensors with its config (YAML) and class count in the metadata. */
export async function saveSafetensors(model: DetectionModel, extra: Record<string, string> = {}): Promise<Uint8Array> {
  const sd = await stateDict(model);
  return writeSafetensors(sd, { format: 'gelan-webgpu', config: stringify({ ...model.config.raw, nc: model.nc }), nc: String(model.nc), ...extra });
}
