// Public API of the models layer: configs, building, fusing, removing the auxiliary branch, weights.
import type { Device } from '../engine/device';
import { mulberry32 } from '../engine/random';
import { type ModelConfig, parseModelConfig, withClassCount } from './config';
import { builtinConfig, isBuiltinConfig } from './registry';
import { DetectionModel } from './yolo';
import { type WeightFile, loadStateDict } from './weights';

export { parseModelConfig, withClassCount, ConfigError, type ModelConfig, type LayerRow } from './config';
export { BUILTIN_CONFIGS, OFFICIAL_CONFIGS, PRESET_CONFIGS, builtinConfig, isBuiltinConfig } from './registry';
export { DetectionModel, planModel, type ModelOutput, type ResolvedRow, SUPPORTED_MODULES } from './yolo';
export { type BranchOutput, makeAnchors, REG_MAX } from './heads';
export { type FuseOptions, fuseModel } from './fuse';
export { auxRemovalMapping, removeAuxBranch } from './reparam';
export { gelanConfigFor } from './reparam-config';
export { type TransferMapping, type TransferOptions, type TransferReport, transferWeights } from './transfer';
export { stateDict, loadStateDict, readWeightFile, saveSafetensors, type WeightFile } from './weights';
export { Module } from './module';

/** A seeded generator for weight initialisation (mulberry32). */
export const seededRandom = mulberry32;

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

/**
 * The model a weight file describes, with every tensor loaded and checked: the file's own config unless `config`
 * is given (then the file's class count wins). `source` names the file in errors.
 */
export function modelFromWeights(device: Device, weights: WeightFile, source: string, config?: ModelConfig): DetectionModel {
  let cfg = config ?? weights.config;
  if (!cfg) throw new Error(`${source} carries no model config: give one (a built-in name or YAML; --cfg on the command line)`);
  if (config && weights.config && weights.config.nc !== config.nc) cfg = withClassCount(config, weights.config.nc);
  const model = new DetectionModel(device, cfg, seededRandom(0));
  try {
    loadStateDict(model, weights.tensors, source);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}
export { exportOnnx, type OnnxExportOptions, type OnnxNmsOptions, NMS_DEFAULTS, ONNX_OPSETS } from './export/onnx';
export { cloneModel, deployableModel } from './export/deployable';
export { exportTorchCheckpoint, type TorchExportOptions } from './export/torch-pt';
