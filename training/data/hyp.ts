// Augmentation hyperparameters, named as in the official hyp YAML files so a parsed YAML can be passed as is.

/** The augmentation hyperparameters of a hyp YAML. */
export interface AugmentHyp {
  /** HSV gains: hue, saturation, value (fractions). */
  hsv_h: number;
  hsv_s: number;
  hsv_v: number;
  /** Rotation ± degrees. */
  degrees: number;
  /** Translation ± fraction of the output size. */
  translate: number;
  /** Scale ± gain: s ~ U(1 − scale, 1 + scale). */
  scale: number;
  /** Shear ± degrees. */
  shear: number;
  /** Perspective ± fraction (0–0.001). */
  perspective: number;
  /** Flip probabilities. */
  flipud: number;
  fliplr: number;
  /** Mosaic probability (while mosaic is enabled). */
  mosaic: number;
  /** MixUp probability (only after a mosaic). */
  mixup: number;
  /** Copy-paste fraction: share of eligible objects pasted mirrored (polygon datasets only). */
  copy_paste: number;
}

/** `data/hyps/hyp.scratch-high.yaml`, the recipe used for every released YOLOv9/GELAN model. */
export const SCRATCH_HIGH: Readonly<AugmentHyp> = Object.freeze({
  hsv_h: 0.015,
  hsv_s: 0.7,
  hsv_v: 0.4,
  degrees: 0.0,
  translate: 0.1,
  scale: 0.9,
  shear: 0.0,
  perspective: 0.0,
  flipud: 0.0,
  fliplr: 0.5,
  mosaic: 1.0,
  mixup: 0.15,
  copy_paste: 0.3,
});

const KEYS = Object.keys(SCRATCH_HIGH) as (keyof AugmentHyp)[];

/**
 * Defaults (scratch-high) overridden by `overrides`; keys that are not augmentation settings (lr0, box, ...) are
 * ignored, so a whole hyp YAML object may be passed. Values must be finite numbers.
 */
export function augmentHyp(overrides: Partial<AugmentHyp> | Record<string, unknown> = {}): AugmentHyp {
  const out = { ...SCRATCH_HIGH };
  for (const k of KEYS) {
    const v = (overrides as Record<string, unknown>)[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`hyperparameter ${k} must be a finite number, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out;
}
