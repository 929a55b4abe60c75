// Shared pieces of the CLI commands: resolving --cfg (a built-in name, a YAML file, or a weights file carrying its
// config), reading weight files, checking --imgsz against a model's strides, building a model from weights, and
// writing files atomically. Everything here runs before a device is opened, except modelFromWeights.
import { existsSync, readFileSync } from 'node:fs';
import type { Device } from '../engine/device';
import { type DetectionModel, type ModelConfig, type WeightFile, builtinConfig, isBuiltinConfig, modelFromWeights as buildFromWeights, parseModelConfig, planModel, readWeightFile, withClassCount } from '../models';
import { invalid } from './options';

const WEIGHTS_FILE = /\.(safetensors|pt|pth)$/i;

/**
 * `--cfg`: a built-in name (gelan-t, yolov9-c.yaml, …), a YAML file in the official format, or a weights file
 * (.safetensors, official .pt) whose config is read from its metadata.
 */
export function configArg(value: string, nc?: number, option = '--cfg'): ModelConfig {
  if (isBuiltinConfig(value) && !existsSync(value)) return builtinConfig(value, { nc });
  if (!existsSync(value)) throw new Error(`${option} ${value}: not a built-in config (gelan-t/s/m/c/e, yolov9-t/s/m/c/e) and no such file`);
  if (WEIGHTS_FILE.test(value)) {
    const config = readWeights(value, option).config;
    if (!config) throw new Error(`${option} ${value}: the weights file carries no model config (give a built-in name or a YAML file)`);
    return nc === undefined ? config : withClassCount(config, nc);
  }
  return parseModelConfig(readFileSync(value, 'utf8'), value, { nc });
}

export function readWeights(path: string, option = '--weights'): WeightFile {
  if (!existsSync(path)) throw new Error(`${option} ${path}: no such file`);
  return readWeightFile(new Uint8Array(readFileSync(path)), path);
}

/** The largest stride of a config (32 for the official ones): image sides must be multiples of it. */
export const maxStride = (config: ModelConfig): number => Math.max(...planModel(config).rows.map((r) => r.stride));

/** `--imgsz` must be a multiple of the model's largest stride. */
export function checkImageSize(imgsz: number, config: ModelConfig, option = '--imgsz'): void {
  const stride = maxStride(config);
  if (imgsz % stride !== 0) throw invalid(option, `a positive multiple of ${stride}`, String(imgsz));
}

/** `--weights` (and `--cfg` when given), read and checked without a device: the file exists and has a config. */
export interface WeightsArg {
  readonly path: string;
  readonly weights: WeightFile;
  /** The config given with --cfg (it wins over the file's). */
  readonly cfg?: ModelConfig;
  /** The config the model will have (the --cfg one or the file's). */
  readonly config: ModelConfig;
}

export function weightsArg(path: string, cfg?: string): WeightsArg {
  const weights = readWeights(path);
  const given = cfg ? configArg(cfg) : undefined;
  const config = given ?? weights.config;
  if (!config) throw new Error(`--weights ${path} carries no model config: give one with --cfg`);
  return { path, weights, cfg: given, config };
}

/** Build the model for a weight file: its own config unless --cfg is given, then load and check every tensor. */
export function modelFromWeights(device: Device, w: string | WeightsArg, cfg?: string): { model: DetectionModel; weights: WeightFile } {
  const arg = typeof w === 'string' ? weightsArg(w, cfg) : w;
  return { model: buildFromWeights(device, arg.weights, arg.path, arg.cfg), weights: arg.weights };
}

export { writeAtomic } from './atomic';
