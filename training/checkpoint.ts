// Training checkpoints as one safetensors file: the model (official names), its EMA (`ema.` prefix), the
// optimiser state (`optim.<key>.<slot>`) and, in the metadata, everything else needed to continue exactly:
// epoch and step counters, EMA updates, hyperparameters, the model config and the run options. Bytes only;
// the caller writes them atomically (temp file + rename).
import { stringify } from 'yaml';
import { tensor } from '../engine/tensor';
import { noGrad } from '../engine/tensor';
import type { HostTensor } from '../models/io/dtypes';
import { toFloat32 } from '../models/io/dtypes';
import { readSafetensors, writeSafetensors } from '../models/io/safetensors';
import { loadStateDict, stateDict } from '../models/weights';
import { parseModelConfig, type ModelConfig } from '../models/config';
import type { DetectionModel } from '../models/yolo';
import type { Optimizer } from './optim/optimizer';
import type { ModelEMA } from './optim/ema';
import type { Hyp } from './hyp';

/** Where training stands: epoch, best fitness and the other counters an exact resume needs. */
export interface TrainState {
  /** The epoch to run next (0-based). */
  epoch: number;
  /** Global batch counter (ni) of the next batch. */
  iteration: number;
  /** ni of the last optimiser step (official last_opt_step). */
  lastOptStep: number;
  bestFitness: number;
}

/** What a checkpoint stores besides tensors: training state, hyperparameters, options and class names. */
export interface CheckpointMeta {
  readonly state: TrainState;
  readonly hyp: Hyp;
  /** Free-form run options (epochs, batch, imgsz, seed, optimizer, ...) as given to the trainer. */
  readonly options: Record<string, unknown>;
  readonly names: readonly string[];
}

/** A training checkpoint (model, EMA, optimiser state and `meta`) as safetensors bytes. */
export async function saveCheckpoint(model: DetectionModel, ema: ModelEMA | null, opt: Optimizer, meta: CheckpointMeta): Promise<Uint8Array> {
  const tensors = new Map<string, HostTensor>(await stateDict(model));
  if (ema) for (const [k, t] of await stateDict(ema.ema)) tensors.set(`ema.${k}`, t);
  for (const [key, slots] of opt.state) {
    for (let i = 0; i < slots.length; i++) tensors.set(`optim.${key}.${i}`, { dtype: 'F32', shape: [...slots[i].shape], data: await slots[i].data() });
  }
  return writeSafetensors(tensors, {
    format: 'gelan-webgpu-checkpoint',
    config: stringify({ ...model.config.raw, nc: model.nc }),
    nc: String(model.nc),
    state: JSON.stringify(meta.state),
    hyp: JSON.stringify(meta.hyp),
    options: JSON.stringify(meta.options),
    names: JSON.stringify(meta.names),
    optimizer: JSON.stringify({ name: opt.name, steps: opt.steps, groups: opt.groups }),
    ema: JSON.stringify({ updates: ema?.updates ?? 0 }),
  });
}

/** A checkpoint read back by readCheckpoint(). */
export interface LoadedCheckpoint {
  readonly config: ModelConfig;
  readonly meta: CheckpointMeta;
  readonly tensors: Map<string, HostTensor>;
  readonly optimizer: { name: string; steps: number };
  readonly emaUpdates: number;
}

/** Reads checkpoint bytes written by saveCheckpoint; `file` names them in errors. */
export function readCheckpoint(bytes: Uint8Array, file: string): LoadedCheckpoint {
  const f = readSafetensors(bytes, file);
  const m = f.metadata;
  if (!m || m.format !== 'gelan-webgpu-checkpoint') throw new Error(`${file}: not a gelan-webgpu training checkpoint (use it as --weights instead)`);
  const json = <T>(k: string): T => {
    try {
      return JSON.parse(m[k]) as T;
    } catch {
      throw new Error(`${file}: checkpoint metadata '${k}' is missing or corrupt`);
    }
  };
  return {
    config: parseModelConfig(m.config, `${file} (embedded model yaml)`),
    meta: { state: json<TrainState>('state'), hyp: json<Hyp>('hyp'), options: json<Record<string, unknown>>('options'), names: json<string[]>('names') },
    tensors: f.tensors,
    optimizer: json<{ name: string; steps: number }>('optimizer'),
    emaUpdates: json<{ updates: number }>('ema').updates,
  };
}

/** Put a checkpoint's tensors back into a model of the same config, its EMA and its optimiser. */
export function restoreCheckpoint(ck: LoadedCheckpoint, file: string, model: DetectionModel, ema: ModelEMA | null, opt: Optimizer): void {
  const pick = (prefix: string): Map<string, HostTensor> =>
    new Map([...ck.tensors].filter(([k]) => (prefix ? k.startsWith(prefix) : !k.startsWith('ema.') && !k.startsWith('optim.'))).map(([k, t]) => [k.slice(prefix.length), t]));
  loadStateDict(model, pick(''), file);
  if (ema) {
    loadStateDict(ema.ema, pick('ema.'), `${file} (ema)`);
    ema.updates = ck.emaUpdates;
  }
  noGrad(model.device, () => {
    for (const st of opt.state.values()) st.forEach((t) => t.dispose());
    opt.state.clear();
    const slots = new Map<string, { i: number; t: HostTensor }[]>();
    for (const [k, t] of pick('optim.')) {
      const dot = k.lastIndexOf('.');
      const key = k.slice(0, dot);
      const list = slots.get(key) ?? [];
      list.push({ i: Number(k.slice(dot + 1)), t });
      slots.set(key, list);
    }
    for (const [key, list] of slots) {
      list.sort((a, b) => a.i - b.i);
      opt.state.set(key, list.map(({ t }) => tensor(model.device, toFloat32(t), [...t.shape]).keep()));
    }
  });
  opt.steps = ck.optimizer.steps;
}
