// `gelan export` and `gelan reparam` on the built CLI with a user's own dual-head YAML (nc 3, half width, other
// block depths): the single-head graph is derived from it, the ONNX export runs in onnxruntime-node and matches the
// dual model's main branch on our engine, the .pt export reads back bit-identical; bad input fails with one line
// naming the file and the tensor or option.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, test } from 'vitest';
import { noGrad, tensor, tidy } from '../../engine/tensor';
import { type DetectionModel, createModel, parseModelConfig, readWeightFile, saveSafetensors, seededRandom } from '../../models';
import { readSafetensors, writeSafetensors } from '../../models/io/safetensors';
import { ROOT, builtCli } from './built-cli';
import { testDevice } from '../helpers';

const cli = builtCli('gelan-export-');
const gelan = cli.gelan;

const YAML = readFileSync(join(ROOT, 'models/configs/yolov9-t.yaml'), 'utf8')
  .replace('nc: 80', 'nc: 3')
  .replace('width_multiple: 1.0', 'width_multiple: 0.5')
  .replaceAll('[64, 64, 32, 3]', '[64, 64, 32, 2]');

let dual: DetectionModel;
let weights = '';
beforeAll(async () => {
  const dev = await testDevice();
  dual = createModel(dev, parseModelConfig(YAML, 'mine.yaml'), { seed: 3 });
  dual.eval();
  weights = join(cli.dir, 'mine.safetensors');
  writeFileSync(weights, await saveSafetensors(dual));
});

/** The one line of stderr that is the whole error (Dawn's adapter warnings aside). */
const oneLine = (err: string): string => {
  const lines = err.trim().split('\n').filter((l) => !l.startsWith('Warning: '));
  expect(lines).toHaveLength(1);
  return lines[0];
};

describe('gelan export / reparam with a user YAML', () => {
  test('reparam derives the single-head graph when --cfg is not given', () => {
    const r = gelan('reparam', '--weights', weights, '--out', join(cli.dir, 'g.safetensors'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/mine\.safetensors .*\(auxiliary branch removed\).*main-branch output max relative difference/);
    const g = readWeightFile(new Uint8Array(readFileSync(join(cli.dir, 'g.safetensors'))), 'g.safetensors');
    expect(g.config!.nc).toBe(3);
    expect(g.config!.rows[g.config!.rows.length - 1].module).toBe('DDetect');
  });

  test('export --format onnx --dynamic runs in onnxruntime-node and equals the dual model\'s main branch', async () => {
    const out = join(cli.dir, 'mine.onnx');
    const r = gelan('export', '--weights', weights, '--dynamic', '--output', out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain('auxiliary branch removed');
    const s = await ort.InferenceSession.create(readFileSync(out));
    const x = Float32Array.from({ length: 2 * 3 * 96 * 64 }, seededRandom(4));
    const got = (await s.run({ images: new ort.Tensor('float32', x, [2, 3, 96, 64]) })).output0;
    expect(got.dims).toEqual([2, 7, 12 * 8 + 6 * 4 + 3 * 2]);
    const dev = dual.device;
    const xt = tensor(dev, x, [2, 3, 96, 64]);
    const y = noGrad(dev, () => tidy(dev, () => dual.forward(xt).main.y!));
    const want = await y.data();
    y.dispose();
    xt.dispose();
    let d = 0;
    let m = 0;
    const a = got.data as Float32Array;
    for (let i = 0; i < want.length; i++) {
      d = Math.max(d, Math.abs(a[i] - want[i]));
      m = Math.max(m, Math.abs(want[i]));
    }
    console.log(`custom yaml (nc 3, width 0.5) dynamic ONNX at 96x64, batch 2: max |onnx − ours| / max |ours| = ${(d / m).toExponential(2)}`);
    expect(d / m).toBeLessThan(1e-4);
    await s.release();
  });

  test('export --format pt writes the official layout; our reader gets the same tensors back', () => {
    const out = join(cli.dir, 'mine.pt');
    const r = gelan('export', '--weights', weights, '--format', 'pt', '--output', out);
    expect(r.code, r.err).toBe(0);
    const a = readSafetensors(new Uint8Array(readFileSync(weights)), 'a').tensors;
    const b = readWeightFile(new Uint8Array(readFileSync(out)), out);
    expect(b.config!.nc).toBe(3);
    expect([...b.tensors.keys()].sort()).toEqual([...a.keys()].sort());
  });

  test('bad input: one line naming the file and the tensor or option', () => {
    const pt = join(ROOT, 'test/fixtures/yolov9/gelan-t.pt');
    let e = gelan('export', '--weights', pt, '--cfg', 'yolov9-t');
    expect(e.code).toBe(1);
    expect(oneLine(e.err)).toMatch(/^gelan: .*gelan-t\.pt does not fit builtin:yolov9-t: missing model\.\d+\./);

    const st = readSafetensors(new Uint8Array(readFileSync(weights)), 'w');
    const extra = new Map(st.tensors);
    extra.set('model.7.cv9.weight', { dtype: 'F32', shape: [1], data: Float32Array.of(0) });
    const bad = join(cli.dir, 'extra.safetensors');
    writeFileSync(bad, writeSafetensors(extra, st.metadata ?? {}));
    e = gelan('export', '--weights', bad);
    expect(oneLine(e.err)).toMatch(/^gelan: .*extra\.safetensors does not fit .*: unexpected model\.7\.cv9\.weight/);

    e = gelan('export', '--weights', weights, '--opset', '12');
    expect(oneLine(e.err)).toMatch(/^gelan: .*mine\.safetensors: --opset 12 cannot be honoured: the export supports opsets 17 to 21$/);
    e = gelan('export', '--weights', weights, '--conf', '0.3');
    expect(oneLine(e.err)).toBe('gelan: --conf applies only with --nms');
    e = gelan('export', '--weights', weights, '--format', 'pt', '--nms');
    expect(oneLine(e.err)).toBe('gelan: --nms applies only to --format onnx');
    e = gelan('export', '--weights', weights, '--format', 'tflite');
    expect(oneLine(e.err)).toBe('gelan: --format must be one of onnx, pt, got tflite');
    e = gelan('export', '--weights', weights, '--imgsz', '100');
    expect(oneLine(e.err)).toMatch(/mine\.safetensors: --imgsz 100 must be positive multiples of the model's largest stride 32$/);
    e = gelan('export', '--weights', weights, '--output', weights);
    expect(oneLine(e.err)).toMatch(/--output .*mine\.safetensors would overwrite the weights/);
  });
});
