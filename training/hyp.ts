// Training hyperparameters in the official `hyp` YAML format; defaults equal data/hyps/hyp.scratch-high.yaml.
import { parse } from 'yaml';
import { type AugmentHyp, SCRATCH_HIGH } from './data/hyp';

/** A hyperparameter set in the official hyp YAML format (learning rates, loss gains, augmentation). */
export interface Hyp extends AugmentHyp {
  lr0: number;
  lrf: number;
  momentum: number;
  weight_decay: number;
  warmup_epochs: number;
  warmup_momentum: number;
  warmup_bias_lr: number;
  /** Loss gains (the official loss hard-codes 7.5 / 0.5 / 1.5; kept for the file format). */
  box: number;
  cls: number;
  dfl: number;
  cls_pw: number;
  obj: number;
  obj_pw: number;
  iou_t: number;
  anchor_t: number;
  fl_gamma: number;
}

/** The official hyp.scratch-high.yaml. */
export const HYP_SCRATCH_HIGH: Readonly<Hyp> = Object.freeze({
  lr0: 0.01,
  lrf: 0.01,
  momentum: 0.937,
  weight_decay: 0.0005,
  warmup_epochs: 3.0,
  warmup_momentum: 0.8,
  warmup_bias_lr: 0.1,
  box: 7.5,
  cls: 0.5,
  cls_pw: 1.0,
  dfl: 1.5,
  obj: 0.7,
  obj_pw: 1.0,
  iou_t: 0.2,
  anchor_t: 5.0,
  fl_gamma: 0.0,
  ...SCRATCH_HIGH,
});

/** Parse a hyp YAML (official keys); missing keys keep the scratch-high values; unknown keys are errors. */
export function parseHyp(text: string, file: string, base: Readonly<Hyp> = HYP_SCRATCH_HIGH): Hyp {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new Error(`${file}: invalid YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error(`${file}: a hyp file must be a mapping of names to numbers`);
  const out: Hyp = { ...base };
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    if (!(k in base)) throw new Error(`${file}: unknown hyperparameter '${k}' (known: ${Object.keys(base).join(', ')})`);
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${file}: hyperparameter '${k}' must be a number, got ${JSON.stringify(v)}`);
    (out as unknown as Record<string, number>)[k] = v;
  }
  if (out.fl_gamma !== 0) throw new Error(`${file}: fl_gamma ${out.fl_gamma}: focal loss is not supported (the official recipes use 0)`);
  return out;
}
