// Shared pieces of the CLI commands: resolving --cfg (a built-in name or a YAML file), reading weight files,
// building a model from weights, and writing files atomically.
import { existsSync, readFileSync } from 'node:fs';
import type { Device } from '../engine/device';
import { type DetectionModel, type ModelConfig, type WeightFile, builtinConfig, isBuiltinConfig, modelFromWeights as buildFromWeights, parseModelConfig, readWeightFile } from '../models';

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
  return { model: buildFromWeights(device, weights, path, cfg ? configArg(cfg) : undefined), weights };
}

export { writeAtomic } from './atomic';
