// gelan train / val / detect end to end on a tiny run of the embedded shapes data (built CLI in dist/).
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { ROOT, builtCli } from './built-cli';
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
  // the closing line names only files that are there
  const listed = /^results in (.*): (.*)$/m.exec(r.out);
  expect(listed, r.out).not.toBeNull();
  for (const f of listed![2].split(', ')) expect(existsSync(join(listed![1], f)), f).toBe(true);
}, 600_000);

test('bad input is named by its option and refused before any work: no output, no device, no run folder', () => {
  const hyp = join(cli.dir, 'h.yaml');
  writeFileSync(hyp, 'lr0: 0.01\nlearning_rate: 3\n');
  const pt = join(ROOT, 'test/fixtures/yolov9/gelan-t.pt');
  const cases: [string[], RegExp][] = [
    [['train', '--data', join(cli.dir, 'nope.yaml')], /--data .*nope\.yaml: no such file or folder/],
    [['train', '--cfg', 'yolov9-zz'], /--cfg yolov9-zz: not a built-in config/],
    [['train', '--hyp', hyp], /h\.yaml: unknown hyperparameter 'learning_rate'/],
    [['train', '--hyp', join(cli.dir, 'nope-hyp.yaml')], /^gelan: --hyp .*nope-hyp\.yaml: no such file$/m],
    [['train', '--imgsz', '100'], /^gelan: --imgsz must be a positive multiple of 32, got 100$/m],
    [['train', '--imgsz', '0'], /^gelan: --imgsz must be a positive integer, got 0$/m],
    [['train', '--batch', '-1'], /^gelan: --batch must be a positive integer, got -1$/m],
    [['train', '--epochs', '0'], /^gelan: --epochs must be a positive integer, got 0$/m],
    [['train', '--close-mosaic', '-2'], /^gelan: --close-mosaic must be a non-negative integer, got -2$/m],
    [['train', '--optimizer', 'Adam'], /^gelan: --optimizer must be one of SGD, AdamW, got Adam$/m],
    [['train', '--names', 'a,,b'], /^gelan: --names must be a comma-separated list of non-empty names, got 'a,,b'$/m],
    [['train', '--weights', join(cli.dir, 'nope.pt')], /^gelan: --weights .*nope\.pt: no such file$/m],
    [['train', '--resume', join(cli.dir, 'nope.safetensors')], /^gelan: --resume .*nope\.safetensors: no such file$/m],
    [['demo', '--minutes', '0'], /^gelan: --minutes must be a positive number, got 0$/m],
    [['val', '--weights', pt, '--conf', '2'], /^gelan: --conf must be a number from 0 to 1, got 2$/m],
    [['val', '--weights', pt, '--imgsz', '100'], /^gelan: --imgsz must be a positive multiple of 32, got 100$/m],
    [['detect', '--weights', pt, '--source', join(cli.dir, 'nope')], /^gelan: --source .*nope: no such file or folder$/m],
    [['detect', '--weights', pt, '--source', pt, '--iou', '-0.1'], /^gelan: --iou must be a number from 0 to 1, got -0\.1$/m],
    [['detect', '--weights', pt, '--source', pt, '--imgsz', '48'], /^gelan: --imgsz must be a positive multiple of 32, got 48$/m],
  ];
  for (const [args, msg] of cases) {
    const project = join(cli.dir, 'bad-runs');
    const r = gelan(...args, ...(['train', 'demo', 'detect'].includes(args[0]) ? ['--project', project] : []));
    expect(r.code, args.join(' ')).toBe(1);
    expect(r.err, args.join(' ')).toMatch(msg);
    expect(r.out, args.join(' ')).toBe('');
    expect(existsSync(project), args.join(' ')).toBe(false);
  }
}, 300_000);

test('a run that fails before its first checkpoint leaves no run folder; detect keeps no empty one', () => {
  const data = join(cli.dir, 'broken');
  mkdirSync(join(data, 'images'), { recursive: true });
  mkdirSync(join(data, 'labels'), { recursive: true });
  for (const n of ['a', 'b']) {
    writeFileSync(join(data, 'images', `${n}.jpg`), 'not an image');
    writeFileSync(join(data, 'labels', `${n}.txt`), '0 0.5 0.5 0.2 0.2\n');
  }
  const project = join(cli.dir, 'failed-runs');
  const t = gelan('train', '--cfg', 'gelan-shapes', '--data', join(data, 'images'), '--names', 'a', '--imgsz', '64', '--batch', '2', '--epochs', '1', '--nbs', '2', '--min-warmup', '1', '--project', project);
  expect(t.code).toBe(1);
  // it got as far as training (the model line), then the image failed to decode
  expect(t.out).toMatch(/builtin:gelan-shapes: [\d,]+ parameters/);
  // both images are broken; which one the loader decodes first depends on its prefetch
  expect(t.err).toMatch(/broken\/images\/[ab]\.jpg: not a JPEG or PNG image/);
  expect(existsSync(project)).toBe(false);
  const d = gelan('detect', '--weights', join(ROOT, 'test/fixtures/yolov9/gelan-t.pt'), '--source', join(data, 'images'), '--imgsz', '64', '--project', project);
  expect(d.code).toBe(1);
  expect(d.err).toMatch(/broken\/images\/a\.jpg: not a JPEG or PNG image/);
  expect(existsSync(project)).toBe(false);
}, 300_000);

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
  expect(existsSync(join(cli.dir, 'runs/train/tiles3'))).toBe(false);
}, 600_000);
