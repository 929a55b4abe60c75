// Continuity between the demo page and the CLI, in Node: a run built as the page builds it (web/demo/run.ts) on a
// zipped YOLO dataset, fine-tuned from weights of another class count, checkpointed after its first epoch, is
// continued by `gelan train --resume`; the resumed epochs equal those of an uninterrupted `gelan train` with the
// same options; and the page's resume path continues the checkpoint with the same epochs (the browser test
// test/browser/user-data.test.ts uploads a Node checkpoint to the page itself).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { ROOT, builtCli } from './built-cli';
import { createDevice } from '../../engine/create-device';
import { readWeightFile } from '../../models';
import { bytesSource, openZip } from '../../training/data/archive';
import { openUserDataset } from '../../training/data/user-dataset';
import { readCheckpoint } from '../../training/checkpoint';
import { demoHyp } from '../../training/presets/demo';
import { createRun, demoRecord, resumeRun, trainArgs } from '../../web/demo/run';
import { shapesZip } from '../shared/yolo-zip';

const cli = builtCli('gelan-tab-resume-', 600_000);
const WEIGHTS = join(ROOT, 'test', 'fixtures', 'demo', 'gelan-shapes.safetensors');

/** results.csv rows (epoch → the columns as printed: 5 significant digits). */
const csvRows = (file: string): string[][] =>
  readFileSync(file, 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map((s) => s.trim()));

test('a run started as in the tab (zip dataset, fine-tuned) continues in Node, and through the page resume path, with the uninterrupted epochs', async () => {
  const zipPath = join(cli.dir, 'three.zip');
  const { bytes } = await shapesZip({ images: 20, imgsz: 64, classes: 3, seed: 4 });
  writeFileSync(zipPath, bytes);
  const rec = demoRecord({ cfg: 'gelan-shapes', imgsz: 64, batch: 8, epochs: 3, trainImages: 0, valImages: 0, seed: 1, maxSteps: 0 }, 'three.zip', 'gelan-shapes.safetensors');

  // the tab's side: the page's code path on the same bytes
  const dev = await createDevice();
  let firstEpoch: readonly number[] = [];
  try {
    const zip = await openZip(bytesSource(bytes), 'three.zip');
    const data = await openUserDataset(zip.fs, '/', { label: 'three.zip' });
    expect(data.names.length).toBe(3);
    const run = createRun(dev, rec, data, { hyp: demoHyp(), weights: readWeightFile(new Uint8Array(readFileSync(WEIGHTS)), WEIGHTS) });
    expect(run.transfer!.line).toMatch(/^transferred 692\/698 tensors from gelan-shapes\.safetensors/);
    run.trainer.onEpoch((e) => {
      firstEpoch = e.train;
      run.trainer.stop();
    });
    await run.trainer.run();
    writeFileSync(join(cli.dir, 'tab-last.safetensors'), await run.trainer.checkpoint(run.names));
    run.trainer.dispose();
    run.model.dispose();
  } finally {
    dev.dispose();
  }

  const full = cli.gelan('train', ...trainArgs(rec, WEIGHTS), '--name', 'full');
  expect(full.code, full.err).toBe(0);
  expect(full.out).toMatch(/^transferred 692\/698 tensors from .*gelan-shapes\.safetensors/m);
  expect(full.out).toContain('three.zip (16 train / 4 val images, 3 classes, names from data.yaml; no val split: every 5th image held out for validation)');
  const r = cli.gelan('train', '--resume', 'tab-last.safetensors');
  expect(r.code, r.err).toBe(0);
  expect(r.out).toMatch(/resuming tab-last\.safetensors at epoch 1, iteration 2/);
  expect(r.out).not.toMatch(/^transferred/m);
  const want = csvRows(join(cli.dir, 'runs/train/full/results.csv'));
  const got = csvRows(join(cli.dir, 'runs/train/tab/results.csv'));
  // epochs 2 and 3 of the resumed run: losses, validation and learning rates as printed by the uninterrupted run
  expect(got).toEqual(want.slice(1));
  // epoch 1 in the tab's code path: the same mean losses (the CSV keeps 5 significant digits)
  firstEpoch.forEach((v, i) => expect(Math.abs(v - Number(want[0][i + 1])) / v, `epoch 1 column ${i + 1}`).toBeLessThan(1e-4));
  console.log(`tab → Node resume: epoch losses (box+cls+dfl) ${want.map((row) => (Number(row[1]) + Number(row[2]) + Number(row[3])).toFixed(4)).join(' ')}; resumed rows equal the uninterrupted run's`);

  // and the same checkpoint continued through the page's resume path (resumeRun, what the page does with a Node
  // run's last.safetensors) gives the uninterrupted epochs too
  const ckBytes = new Uint8Array(readFileSync(join(cli.dir, 'tab-last.safetensors')));
  const ck = readCheckpoint(ckBytes, 'last.safetensors');
  expect(ck.meta.state.epoch).toBe(1);
  const dev2 = await createDevice();
  const resumed: (readonly number[])[] = [];
  try {
    const zip = await openZip(bytesSource(bytes), 'three.zip');
    const run = resumeRun(dev2, ck, 'last.safetensors', await openUserDataset(zip.fs, '/', { label: 'three.zip' }));
    run.trainer.onEpoch((e) => void resumed.push(e.train));
    await run.trainer.run();
    run.trainer.dispose();
    run.model.dispose();
  } finally {
    dev2.dispose();
  }
  expect(resumed.length).toBe(2);
  resumed.forEach((row, k) => row.forEach((v, i) => expect(Math.abs(v - Number(want[k + 1][i + 1])) / v, `epoch ${k + 2} column ${i + 1}`).toBeLessThan(1e-4)));
}, 600_000);
