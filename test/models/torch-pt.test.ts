// `.pt` export in the official layout (models/export/torch-pt.ts) against what the official code observed
// (test/fixtures/gen/pt_roundtrip.py): our export of the official tiny-yolov9.pt is byte-identical to the export the
// official code loaded with bit-identical tensors and outputs; and, where /usr/bin/python3 with torch and an official
// checkout are present, the official code checks today's export live.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { createModel, exportTorchCheckpoint, modelFromWeights, readWeightFile } from '../../models';
import { ROOT } from '../cli/built-cli';
import { PYTHON, YOLOV9_DIR, officialUnavailable } from '../cli/official';
import { testDevice } from '../helpers';

const DIR = join(ROOT, 'test/fixtures/yolov9/pt');
const OFFICIAL = join(DIR, 'tiny-yolov9.pt');
const report = JSON.parse(readFileSync(join(DIR, 'roundtrip.json'), 'utf8')) as {
  ours_sha256: string;
  ok: boolean;
  train_transfer: string;
  official_vs_ours: { tensors: number; identical_tensors: number; unfused: { identical: boolean }; fused: { identical: boolean } };
  resaved_vs_official: { tensors: number; identical_tensors: number; unfused: { identical: boolean } };
};

const reason = officialUnavailable();

let dev: Device;
let ours: Uint8Array;
beforeAll(async () => {
  dev = await testDevice();
  const w = readWeightFile(new Uint8Array(readFileSync(OFFICIAL)), OFFICIAL);
  const m = modelFromWeights(dev, w, OFFICIAL);
  ours = await exportTorchCheckpoint(m, { names: w.names ?? undefined });
  m.dispose();
});

describe('pt export: official → ours → official', () => {
  test('the fixture records a clean round trip in the official code', () => {
    expect(report.ok).toBe(true);
    expect(report.official_vs_ours.identical_tensors).toBe(report.official_vs_ours.tensors);
    expect(report.official_vs_ours.unfused.identical && report.official_vs_ours.fused.identical).toBe(true);
    expect(report.resaved_vs_official.identical_tensors).toBe(report.resaved_vs_official.tensors);
    expect(report.train_transfer).toBe(`${report.official_vs_ours.tensors}/${report.official_vs_ours.tensors}`);
  });

  test('today\'s export is byte-identical to the one the official code verified', () => {
    expect(createHash('sha256').update(ours).digest('hex')).toBe(report.ours_sha256);
  });

  test('our reader reads the export back: every tensor bit-identical to the official file, names and config kept', () => {
    const a = readWeightFile(new Uint8Array(readFileSync(OFFICIAL)), OFFICIAL);
    const b = readWeightFile(ours, 'ours.pt');
    expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
    for (const [k, t] of a.tensors) {
      const u = b.tensors.get(k)!;
      expect(u.dtype, k).toBe(t.dtype);
      expect(u.shape, k).toEqual(t.shape);
      expect(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), k).toBe(true);
    }
    expect(b.names).toEqual(['circle', 'square', 'triangle']);
    expect(b.config!.nc).toBe(3);
    expect(b.config!.widthMultiple).toBe(0.25);
  });

  test.skipIf(reason !== null)(`the official code loads today's export live${reason ? ` (skipped: ${reason})` : ''}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'gelan-pt-'));
    try {
      const path = join(dir, 'ours.pt');
      writeFileSync(path, ours);
      const r = spawnSync(PYTHON, [join(ROOT, 'test/fixtures/gen/pt_roundtrip.py'), '--check', path], {
        encoding: 'utf8',
        env: { ...process.env, YOLOV9_DIR, YOLOV9_COMMIT: process.env.YOLOV9_COMMIT ?? 'checkout' },
        timeout: 300_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const live = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; official_vs_ours: { identical_tensors: number; tensors: number } };
      console.log(`official code on today's export: ${live.official_vs_ours.identical_tensors}/${live.official_vs_ours.tensors} tensors identical, ok=${live.ok}`);
      expect(live.ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.skipIf(reason !== null)(`yolov9-c (ADown, CBLinear, CBFuse, Silence) behaves as the official model built from its yaml, live${reason ? ` (skipped: ${reason})` : ''}`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gelan-pt-'));
    try {
      const path = join(dir, 'yolov9-c.pt');
      const m = createModel(dev, 'yolov9-c', { seed: 1 });
      writeFileSync(path, await exportTorchCheckpoint(m));
      m.dispose();
      const r = spawnSync(PYTHON, [join(ROOT, 'test/fixtures/gen/pt_roundtrip.py'), '--check-model', path], {
        encoding: 'utf8',
        env: { ...process.env, YOLOV9_DIR, YOLOV9_COMMIT: process.env.YOLOV9_COMMIT ?? 'checkout' },
        timeout: 300_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const live = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ok: boolean; official_vs_ours: { tensors: number } };
      console.log(`official code on our yolov9-c export: ${live.official_vs_ours.tensors} tensors, outputs identical (unfused and fused): ${live.ok}`);
      expect(live.ok).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

if (reason) console.log(`torch-pt.test.ts: live official-code check skipped: ${reason}`);
