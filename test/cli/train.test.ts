// gelan train / val / detect end to end on a tiny run of the embedded shapes data (built CLI in dist/).
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { builtCli } from './built-cli';
import { decodeImage } from '../../training/data/image';

const cli = builtCli('gelan-train-', 600_000);
const gelan = cli.gelan;

test('train writes the run folder; val and detect use its weights; resume of a finished run is a no-op', () => {
  const tiny = ['--data', 'shapes', '--shapes-train', '16', '--shapes-val', '8', '--imgsz', '64', '--batch', '8', '--epochs', '2', '--hyp', 'demo', '--optimizer', 'AdamW', '--nbs', '8', '--min-warmup', '2'];
  const t = gelan('train', '--cfg', 'yolov9-shapes', ...tiny, '--name', 'tiny');
  expect(t.code, t.err).toBe(0);
  const dir = join(cli.dir, 'runs/train/tiny');
  for (const f of ['weights/last.safetensors', 'weights/best.safetensors', 'results.csv', 'results.png', 'val_batch0_pred.jpg', 'hyp.yaml', 'opt.yaml']) expect(existsSync(join(dir, f)), f).toBe(true);
  const csv = readFileSync(join(dir, 'results.csv'), 'utf8').trim().split('\n');
  expect(csv[0].split(',').map((s) => s.trim())).toEqual(['epoch', 'train/box_loss', 'train/cls_loss', 'train/dfl_loss', 'metrics/precision', 'metrics/recall', 'metrics/mAP_0.5', 'metrics/mAP_0.5:0.95', 'val/box_loss', 'val/cls_loss', 'val/dfl_loss', 'x/lr0', 'x/lr1', 'x/lr2']);
  expect(csv.length).toBe(3);
  expect(Number(csv[2].split(',')[1])).toBeGreaterThan(0);
  expect(decodeImage(new Uint8Array(readFileSync(join(dir, 'results.png')))).width).toBeGreaterThan(500);

  const v = gelan('val', '--weights', join(dir, 'weights/best.safetensors'), '--data', 'shapes', '--shapes-val', '8', '--imgsz', '64');
  expect(v.code, v.err).toBe(0);
  expect(v.out).toMatch(/^all\s+8\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+$/m);
  expect(v.out).toMatch(/^circle /m);
  // --half: the fused model in f16 (lavapipe has shader-f16; elsewhere a clear error)
  const vh = gelan('val', '--weights', join(dir, 'weights/best.safetensors'), '--data', 'shapes', '--shapes-val', '8', '--imgsz', '64', '--half');
  if (vh.code === 0) expect(vh.out).toMatch(/^all\s+8\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+$/m);
  else expect(vh.err).toMatch(/needs the shader-f16 feature/);

  const d = gelan('detect', '--weights', join(dir, 'weights/best.safetensors'), '--source', join(dir, 'results.png'), '--imgsz', '64', '--conf', '0.01', '--save-txt', '--name', 'd');
  expect(d.code, d.err).toBe(0);
  expect(existsSync(join(cli.dir, 'runs/detect/d/results.png'))).toBe(true);
  expect(readdirSync(join(cli.dir, 'runs/detect/d/labels'))).toEqual(['results.txt']);
  for (const line of readFileSync(join(cli.dir, 'runs/detect/d/labels/results.txt'), 'utf8').trim().split('\n').filter(Boolean)) {
    const f = line.split(' ').map(Number);
    expect(f.length).toBe(6);
    expect(f.slice(1, 5).every((x) => x >= 0 && x <= 1)).toBe(true);
  }

  const r = gelan('train', '--resume', join(dir, 'weights/last.safetensors'));
  expect(r.code, r.err).toBe(0);
  expect(r.out).toMatch(/resuming .* at epoch 2/);
}, 600_000);

test('bad input is named: missing data, unknown config, wrong hyp key', () => {
  expect(gelan('train', '--data', join(cli.dir, 'nope.yaml')).err).toMatch(/--data .*nope\.yaml: no such file or folder/);
  expect(gelan('train', '--cfg', 'yolov9-zz').err).toMatch(/--cfg yolov9-zz: not a built-in config/);
  const hyp = join(cli.dir, 'h.yaml');
  writeFileSync(hyp, 'lr0: 0.01\nlearning_rate: 3\n');
  expect(gelan('train', '--hyp', hyp).err).toMatch(/h\.yaml: unknown hyperparameter 'learning_rate'/);
}, 120_000);

test('--tile-search measures the run\'s shapes after the first step and --tile-cache saves them; a second run loads them', () => {
  const cache = join(cli.dir, 'tiles.json');
  const tiny = ['--cfg', 'gelan-shapes', '--data', 'shapes', '--shapes-train', '8', '--shapes-val', '8', '--imgsz', '64', '--batch', '8', '--epochs', '1', '--hyp', 'demo', '--nbs', '8', '--min-warmup', '2'];
  const t = gelan('train', ...tiny, '--name', 'tiles', '--tile-search', '--tile-cache', cache);
  expect(t.code, t.err).toBe(0);
  const found = /tile search: (\d+) shapes without a measured tiling/.exec(t.out);
  expect(found, t.out).not.toBeNull();
  const saved = JSON.parse(readFileSync(cache, 'utf8')) as { adapter: string; choices: Record<string, object> };
  expect(Object.keys(saved.choices).length).toBe(Number(found![1]));
  expect(Object.keys(saved.choices).some((k) => k.startsWith('conv2d.fwd '))).toBe(true);
  expect(t.out).toMatch(new RegExp(`tile search: ${found![1]} choices saved to `));
  const again = gelan('train', ...tiny, '--name', 'tiles2', '--tile-cache', cache);
  expect(again.code, again.err).toBe(0);
  expect(again.out).toContain(`tile cache: ${found![1]} measured tilings from ${cache}`);
  writeFileSync(cache, '{"adapter": "another GPU", "choices": {}}');
  const other = gelan('train', ...tiny, '--name', 'tiles3', '--tile-cache', cache);
  expect(other.code).not.toBe(0);
  expect(other.err).toMatch(/tiles\.json: measured on 'another GPU', this device is/);
}, 600_000);
