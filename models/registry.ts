// Built-in model configs (the official YAML files, shipped unchanged in models/configs/) and resolution of a
// `--cfg` argument: a built-in name, or YAML text the caller read from a file or a URL.
import gelanT from './configs/gelan-t.yaml?raw';
import gelanS from './configs/gelan-s.yaml?raw';
import gelanM from './configs/gelan-m.yaml?raw';
import gelanC from './configs/gelan-c.yaml?raw';
import gelanE from './configs/gelan-e.yaml?raw';
import yolov9T from './configs/yolov9-t.yaml?raw';
import yolov9S from './configs/yolov9-s.yaml?raw';
import yolov9M from './configs/yolov9-m.yaml?raw';
import yolov9C from './configs/yolov9-c.yaml?raw';
import yolov9E from './configs/yolov9-e.yaml?raw';
import yolov9Shapes from './presets/yolov9-shapes.yaml?raw';
import gelanShapes from './presets/gelan-shapes.yaml?raw';
import { type ModelConfig, parseModelConfig } from './config';

/** The official configs, unchanged. */
export const OFFICIAL_CONFIGS: Readonly<Record<string, string>> = {
  'gelan-t': gelanT,
  'gelan-s': gelanS,
  'gelan-m': gelanM,
  'gelan-c': gelanC,
  'gelan-e': gelanE,
  'yolov9-t': yolov9T,
  'yolov9-s': yolov9S,
  'yolov9-m': yolov9M,
  'yolov9-c': yolov9C,
  'yolov9-e': yolov9E,
};

/** Our own small configs in the same format (models/presets/): the main job trains yolov9-shapes. */
export const PRESET_CONFIGS: Readonly<Record<string, string>> = {
  'yolov9-shapes': yolov9Shapes,
  'gelan-shapes': gelanShapes,
};

/** Model YAML text by name: the official YOLOv9/GELAN configs and our presets. */
export const BUILTIN_CONFIGS: Readonly<Record<string, string>> = { ...OFFICIAL_CONFIGS, ...PRESET_CONFIGS };

/** Whether `name` (with or without .yaml) is one of BUILTIN_CONFIGS. */
export const isBuiltinConfig = (name: string): boolean => Object.prototype.hasOwnProperty.call(BUILTIN_CONFIGS, name.replace(/\.ya?ml$/, ''));

/** A built-in config by name (`gelan-t`, `yolov9-c.yaml`, …), optionally with another class count. */
export function builtinConfig(name: string, opts: { nc?: number } = {}): ModelConfig {
  const key = name.replace(/\.ya?ml$/, '');
  const text = BUILTIN_CONFIGS[key];
  if (text === undefined) throw new Error(`unknown model config '${name}' (built-in: ${Object.keys(BUILTIN_CONFIGS).join(', ')}; or give a YAML file path)`);
  return parseModelConfig(text, `builtin:${key}`, opts);
}
