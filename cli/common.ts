// Shared pieces of the CLI commands: resolving --cfg (a built-in name or a YAML file), reading weight files,
// building a model from weights, and writing files atomically.
import { existsSync, readFileSync } from 'node:fs';
import type { Device } from '../engine/device';
import { type ModelConfig, DetectionModel, isBuiltinConfig, builtinConfig, loadStateDict, parseModelConfig, readWeightFile, seededRandom, type WeightFile, withClassCount } from '../models';

/** `--cfg`: a built-in name (gelan-t, yolov9-c.yaml, …) or a path to a YAML file in the official format. */
export function configArg(value: string, nc?: number): ModelConfig {
  if (isBuiltinConfig(value) && !existsSync(value)) return builtinConfig(value, { nc });
  if (!existsSync(value)) throw new Error(`--cfg ${value}: not a built-in config (gelan-t/s/m/c/e, yolov9-t/s/m/c/e) and no such file`);
  return parseModelConfig(readFileSync(value, 'utf8'), value, { nc });
}

export function readWeights(path: string): WeightFile {
  if (!existsSync(path)) throw new Error(`--weights ${path}: no such file`);
  return readWeightFile(new Uint8Array(readFileSync(path)), path);
}

/** Build the model for a weight file: its own config unless --cfg is given, then load and check every tensor. */
export function modelFromWeights(device: Device, path: string, cfg?: string): { model: DetectionModel; weights: WeightFile } {
  const weights = readWeights(path);
  let config = cfg ? configArg(cfg) : weights.config;
  if (!config) throw new Error(`${path} carries no model config: pass --cfg`);
  if (cfg && weights.config && weights.config.nc !== config.nc) config = withClassCount(config, weights.config.nc);
  const model = new DetectionModel(device, config, seededRandom(0));
  try {
    loadStateDict(model, weights.tensors, path);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return { model, weights };
}

export { writeAtomic } from './atomic';
