// Fine-tuning transfer: the weights of another model (another class count, or the GELAN / YOLOv9 counterpart of
// the same size) go into a freshly initialised model wherever a tensor's name and shape match, as the official
// train.py does with intersect_dicts; everything else keeps its initialisation. Between a dual-head YOLOv9 and its
// GELAN model the names differ by layer index where the auxiliary branch sits, so when the source config is known
// the keys are matched through the auxiliary-branch mapping of reparam.ts (the official conversion table) rather
// than by raw name. Runs the same in Node and in the browser (no file access: the caller reads the bytes).
import { tensor, noGrad } from '../engine/tensor';
import { fmtShape } from '../engine/errors';
import { type HostTensor, toFloat32 } from './io/dtypes';
import { type ModelConfig, withClassCount } from './config';
import { type AuxRemovalMapping, auxRemovalMapping, dualKey, gelanKey } from './reparam';
import { type DetectionModel, type ResolvedRow, planModel } from './yolo';

const NBT = '.num_batches_tracked';

/** How source names map to the model's: as they are, or through the auxiliary-branch renaming between a YOLOv9 and its GELAN model. */
export type TransferMapping = 'name' | 'yolov9→gelan' | 'gelan→yolov9';

/** What transferWeights did: counts, the modules left with their initialisation, and the one-line summary. */
export interface TransferReport {
  /** Tensors of the model (parameters and BatchNorm statistics) that received the source's values. */
  readonly transferred: number;
  /** Tensors of the model in all (num_batches_tracked is not counted: it follows its BatchNorm). */
  readonly total: number;
  readonly source: string;
  readonly mapping: TransferMapping;
  /** Modules whose tensors kept their initialisation: a whole row as `model.{i}`, else the tensor's module. */
  readonly leftOut: readonly string[];
  /** The model's keys whose source tensor exists but has another shape (e.g. the class convs). */
  readonly shapeMismatch: readonly string[];
  /** `transferred N/M tensors from W …; left out: …` */
  readonly line: string;
}

/** The source's config (to map YOLOv9 ↔ GELAN names) and an explicit mapping. */
export interface TransferOptions {
  /** The source's model config (a `.pt`'s yaml, our safetensors' metadata): enables the gelan ↔ yolov9 mapping. */
  readonly sourceConfig?: ModelConfig | null;
}

const headModule = (rows: readonly ResolvedRow[]): string => rows[rows.length - 1].module;

/** Source key for each model key, or null when the plain names are to be used. */
function keyMapping(model: DetectionModel, sourceConfig: ModelConfig | null | undefined): { map: (key: string) => string | null; mapping: TransferMapping } {
  const byName = { map: (k: string) => k, mapping: 'name' as const };
  if (!sourceConfig) return byName;
  const srcRows = planModel(withClassCount(sourceConfig, model.nc), model.inputChannels).rows;
  const src = headModule(srcRows);
  const dst = headModule(model.rows);
  let aux: AuxRemovalMapping;
  try {
    if (src === 'DualDDetect' && dst === 'DDetect') {
      aux = auxRemovalMapping(srcRows, model.rows, { dual: sourceConfig.source, gelan: model.config.source });
      return { map: (k) => dualKey(aux, k), mapping: 'yolov9→gelan' };
    }
    if (src === 'DDetect' && dst === 'DualDDetect') {
      aux = auxRemovalMapping(model.rows, srcRows, { dual: model.config.source, gelan: sourceConfig.source });
      return { map: (k) => gelanKey(aux, k), mapping: 'gelan→yolov9' };
    }
  } catch {
    // not counterparts of one size (another width, a user's own graph): the plain names decide
  }
  return byName;
}

/**
 * Copy every tensor of `tensors` whose (mapped) name and shape match into `model`; the rest keep their
 * initialisation. Throws when nothing matches, naming `source` and the first keys of both sides.
 */
export function transferWeights(model: DetectionModel, tensors: ReadonlyMap<string, HostTensor>, source: string, opts: TransferOptions = {}): TransferReport {
  const { map, mapping } = keyMapping(model, opts.sourceConfig);
  const entries = [...model.stateEntries()];
  const take: [string, HostTensor, readonly number[]][] = [];
  const missing: string[] = [];
  const shapeMismatch: string[] = [];
  for (const [key, t] of entries) {
    const sk = map(key);
    const h = sk === null ? undefined : tensors.get(sk);
    if (!h) missing.push(key);
    else if (JSON.stringify(h.shape) !== JSON.stringify(t.shape)) shapeMismatch.push(key);
    else take.push([key, h, t.shape]);
  }
  if (take.length === 0) {
    const first = (ks: Iterable<string>): string => [...ks].slice(0, 3).join(', ');
    throw new Error(
      `${source}: no tensor matches ${model.config.source} by name and shape (the file has ${tensors.size} tensors, e.g. ${first(tensors.keys()) || 'none'}; ` +
        `the model expects e.g. ${first(entries.map(([k]) => k))}) — is it a detection model's weights?`,
    );
  }
  const values = take.map(([key, h]) => {
    const v = toFloat32(h);
    if (v.some((x) => !Number.isFinite(x))) throw new Error(`${source}: ${map(key)} contains NaN or infinite values`);
    return v;
  });
  noGrad(model.device, () => take.forEach(([key, , shape], i) => model.setTensor(key, tensor(model.device, values[i], shape))));
  for (const [path, bn] of model.batchNorms()) {
    const sk = map(`${path}.weight`);
    const n = sk === null ? undefined : tensors.get(sk.replace(/\.weight$/, NBT));
    if (n && n.dtype === 'I64' && take.some(([k]) => k === `${path}.weight`)) bn.numBatchesTracked = Number(n.data[0]);
  }
  const leftOut = summariseLeftOut(entries.map(([k]) => k), new Set([...missing, ...shapeMismatch]));
  const via = mapping === 'name' ? '' : ` (${mapping} layer mapping)`;
  const eg = shapeMismatch[0];
  const shapes = eg ? `; ${shapeMismatch.length} of them by shape (e.g. ${eg} ${fmtShape(tensors.get(map(eg)!)!.shape)} → ${fmtShape(entries.find(([e]) => e === eg)![1].shape)})` : '';
  const line =
    `transferred ${take.length}/${entries.length} tensors from ${source}${via}` +
    (leftOut.length ? `; left out (kept their initialisation): ${leftOut.slice(0, 12).join(', ')}${leftOut.length > 12 ? `, … (${leftOut.length} modules)` : ''}` : '') +
    shapes;
  return { transferred: take.length, total: entries.length, source, mapping, leftOut, shapeMismatch, line };
}

/** Left-out keys as the largest modules (from `model.{i}` down) whose tensors were all left out. */
function summariseLeftOut(keys: readonly string[], left: ReadonlySet<string>): string[] {
  const count = new Map<string, [number, number]>();
  const prefixes = (k: string): string[] => {
    const parts = k.split('.');
    return Array.from({ length: parts.length - 2 }, (_, n) => parts.slice(0, n + 2).join('.'));
  };
  for (const k of keys) {
    for (const p of prefixes(k)) {
      const c = count.get(p) ?? [0, 0];
      count.set(p, [c[0] + 1, c[1] + (left.has(k) ? 1 : 0)]);
    }
  }
  const out: string[] = [];
  for (const k of keys) {
    if (!left.has(k)) continue;
    const name = prefixes(k).find((p) => count.get(p)![0] === count.get(p)![1]) ?? k;
    if (!out.includes(name)) out.push(name);
  }
  return out;
}
