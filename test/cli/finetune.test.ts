// gelan train --weights: fine-tuning from weights of another class count or the counterpart config (built CLI).
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { ROOT, builtCli } from './built-cli';

const cli = builtCli('gelan-finetune-', 600_000);
const FX = (f: string): string => join(ROOT, 'test', 'fixtures', f);
const tiny = ['--data', 'shapes', '--shapes-train', '8', '--shapes-val', '8', '--imgsz', '64', '--batch', '8', '--epochs', '1', '--hyp', 'demo', '--nbs', '8', '--min-warmup', '2', '--val-every', '9'];

test('--weights transfers matching tensors and reports the rest; nothing matching is an error', () => {
  // official gelan-t (80 classes) into gelan-t for the 6 shapes classes: only the class branch stays new
  const t = cli.gelan('train', '--cfg', 'gelan-t', '--weights', FX('yolov9/gelan-t.pt'), ...tiny, '--name', 'ft');
  expect(t.code, t.err).toBe(0);
  expect(t.out).toMatch(/^transferred \d+\/\d+ tensors from .*gelan-t\.pt; left out \(kept their initialisation\): model\.22\.cv3; \d+ of them by shape/m);
  // trained gelan-shapes weights into the PGI model: through the auxiliary-branch mapping
  const d = cli.gelan('train', '--cfg', 'yolov9-shapes', '--weights', FX('demo/gelan-shapes.safetensors'), ...tiny, '--name', 'ft2');
  expect(d.code, d.err).toBe(0);
  expect(d.out).toMatch(/^transferred \d+\/\d+ tensors from .*gelan-shapes\.safetensors \(gelan→yolov9 layer mapping\); left out \(kept their initialisation\): model\.22, /m);
  const bad = cli.gelan('train', '--cfg', 'gelan-shapes', '--weights', FX('io/reference.safetensors'), ...tiny, '--name', 'bad');
  expect(bad.code).not.toBe(0);
  expect(bad.err).toMatch(/reference\.safetensors: no tensor matches .* by name and shape/);
}, 600_000);
