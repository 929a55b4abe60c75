// The README's scale-out path, command by command: our weights → `gelan export --format pt` → the official
// train_dual.py --weights (under torchrun when torch sees CUDA, else the same script in one CPU process: the
// official DDP launch asserts a CUDA device per process) → `gelan convert` of its best.pt → `gelan reparam` →
// `gelan export --format onnx --nms`, run in onnxruntime-node. Needs the official code (test/cli/official.ts).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, test } from 'vitest';
import { createModel, parseModelConfig, saveSafetensors } from '../../models';
import { encodePng } from '../../training/data/image';
import { ROOT, builtCli } from './built-cli';
import { PYTHON, YOLOV9_DIR, hasCuda, officialUnavailable } from './official';
import { testDevice } from '../helpers';

const reason = officialUnavailable();
if (reason) console.log(`scale-out.test.ts skipped: ${reason}`);
const cli = builtCli('gelan-scale-');

/** Four 64×64 images with one coloured box each, YOLO labels, and the dataset yaml. */
function tinyDataset(dir: string): string {
  for (const sub of ['images/train', 'labels/train']) mkdirSync(join(dir, sub), { recursive: true });
  for (let i = 0; i < 4; i++) {
    const data = new Uint8Array(64 * 64 * 3).fill(114);
    const [x0, y0, w, h] = [8 + 8 * i, 20, 20, 16];
    for (let y = y0; y < y0 + h; y++) for (let x = x0; x < x0 + w; x++) data.set([220, 40 * i, 30], 3 * (y * 64 + x));
    writeFileSync(join(dir, `images/train/${i}.png`), encodePng({ width: 64, height: 64, data }));
    writeFileSync(join(dir, `labels/train/${i}.txt`), `${i % 3} ${(x0 + w / 2) / 64} ${(y0 + h / 2) / 64} ${w / 64} ${h / 64}\n`);
  }
  const yaml = join(dir, 'data.yaml');
  writeFileSync(yaml, `path: ${dir}\ntrain: images/train\nval: images/train\nnc: 3\nnames: ['circle', 'square', 'triangle']\n`);
  return yaml;
}

describe('scale-out: ours → official train_dual.py → ours → ONNX', () => {
  test.skipIf(reason !== null)(`every command of the README section${reason ? ` (skipped: ${reason})` : ''}`, async () => {
    const dir = cli.dir;
    const cfgText = readFileSync(join(ROOT, 'models/configs/yolov9-t.yaml'), 'utf8').replace('nc: 80', 'nc: 3').replace('width_multiple: 1.0', 'width_multiple: 0.25');
    const cfgPath = join(dir, 'yolov9-tiny.yaml');
    writeFileSync(cfgPath, cfgText);
    const dev = await testDevice();
    const m = createModel(dev, parseModelConfig(cfgText, cfgPath), { seed: 5 });
    writeFileSync(join(dir, 'ours.safetensors'), await saveSafetensors(m));
    m.dispose();

    // 1. gelan export --weights ours.safetensors --format pt --output ours.pt
    let r = cli.gelan('export', '--weights', 'ours.safetensors', '--format', 'pt', '--output', 'ours.pt');
    expect(r.code, r.err).toBe(0);

    // 2. torchrun --nproc_per_node N train_dual.py --weights ours.pt … (the official code, unmodified)
    const data = tinyDataset(join(dir, 'data'));
    const args = [
      join(ROOT, 'test/cli/official_run.py'), YOLOV9_DIR, 'train_dual.py', '--weights', join(dir, 'ours.pt'), '--cfg', cfgPath, '--data', data,
      '--hyp', join(YOLOV9_DIR, 'data/hyps/hyp.scratch-high.yaml'), '--epochs', '1', '--batch-size', '2', '--img', '64', '--workers', '0',
      '--project', join(dir, 'runs'), '--name', 'exp', '--noplots',
    ];
    const cuda = hasCuda();
    const t = cuda
      ? spawnSync('torchrun', ['--nproc_per_node', '1', ...args, '--device', '0'], { cwd: dir, encoding: 'utf8', timeout: 600_000 })
      : spawnSync(PYTHON, [...args, '--device', 'cpu'], { cwd: dir, encoding: 'utf8', timeout: 600_000 });
    const log = `${t.stdout}\n${t.stderr}`;
    expect(t.status, log.slice(-3000)).toBe(0);
    const transferred = /Transferred (\d+)\/(\d+) items from/.exec(log);
    console.log(`train_dual.py ${cuda ? 'under torchrun (DDP, 1 process)' : 'in one CPU process (no CUDA: the official DDP launch needs a GPU per process)'}: ${transferred?.[0] ?? 'no transfer line'}`);
    // everything but the class convs of the head (nc 3 here and in ours.pt, so all of them) transfers
    expect(transferred && transferred[1] === transferred[2]).toBe(true);

    // 3. gelan convert runs/exp/weights/best.pt best.safetensors
    r = cli.gelan('convert', join(dir, 'runs/exp/weights/best.pt'), 'best.safetensors');
    expect(r.code, r.err).toBe(0);
    // 3b. gelan train --weights best.safetensors … (fine-tune the result in Node, same code path as the page)
    r = cli.gelan('train', '--weights', 'best.safetensors', '--cfg', cfgPath, '--data', data, '--epochs', '1', '--batch', '2', '--imgsz', '64', '--project', join(dir, 'ft'), '--name', 'exp');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/transferred (\d+)\/\1 tensors from best\.safetensors/);
    // 4. gelan reparam --weights best.safetensors --out deploy.safetensors
    r = cli.gelan('reparam', '--weights', 'best.safetensors', '--out', 'deploy.safetensors');
    expect(r.code, r.err).toBe(0);
    // 5. gelan export --weights best.safetensors --format onnx --dynamic --nms
    r = cli.gelan('export', '--weights', 'best.safetensors', '--format', 'onnx', '--dynamic', '--nms', '--conf', '0.001', '--output', 'best.onnx');
    expect(r.code, r.err).toBe(0);
    const s = await ort.InferenceSession.create(readFileSync(join(dir, 'best.onnx')));
    const out = await s.run({ images: new ort.Tensor('float32', new Float32Array(3 * 64 * 64).fill(0.45), [1, 3, 64, 64]) });
    expect(out.det_boxes.dims).toEqual([1, 100, 4]);
    await s.release();
  });
});
