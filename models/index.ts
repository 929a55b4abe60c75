// Public API of the models layer: configs, building, fusing, removing the auxiliary branch, weights.
import type { Device } from '../engine/device';
import { type ModelConfig, parseModelConfig, withClassCount } from './config';
import { builtinConfig, isBuiltinConfig } from './registry';
import { DetectionModel } from './yolo';

export { parseModelConfig, withClassCount, ConfigError, type ModelConfig, type LayerRow } from './config';
export { BUILTIN_CONFIGS, OFFICIAL_CONFIGS, PRESET_CONFIGS, builtinConfig, isBuiltinConfig } from './registry';
export { DetectionModel, planModel, type ModelOutput, type ResolvedRow, SUPPORTED_MODULES } from './yolo';
export { type BranchOutput, makeAnchors, REG_MAX } from './heads';
export { fuseModel } from './fuse';
export { auxRemovalMapping, removeAuxBranch } from './reparam';
export { stateDict, loadStateDict, readWeightFile, saveSafetensors, type WeightFile } from './weights';
export { Module } from './module';

/** mulberry32: a small deterministic PRNG for weight initialisation. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A config from a built-in name (`gelan-t`) or YAML text; `nc` replaces the class count. */
export function resolveConfig(cfg: string | ModelConfig, opts: { nc?: number; source?: string } = {}): ModelConfig {
  if (typeof cfg !== 'string') return opts.nc !== undefined ? withClassCount(cfg, opts.nc) : cfg;
  if (isBuiltinConfig(cfg)) return builtinConfig(cfg, opts);
  if (!cfg.includes('\n') && !cfg.includes(':')) throw new Error(`unknown model config '${cfg}' (built-in: gelan-t/s/m/c/e, yolov9-t/s/m/c/e, or YAML text)`);
  return parseModelConfig(cfg, opts.source ?? 'model yaml', opts);
}

/** Build a model with PyTorch's default initialisation from a seed (official head bias init included). */
export function createModel(device: Device, cfg: string | ModelConfig, opts: { nc?: number; seed?: number } = {}): DetectionModel {
  return new DetectionModel(device, resolveConfig(cfg, opts), seededRandom(opts.seed ?? 0));
}
