/**
 * A/B timing of conv2d tilings in one process, interleaved on the same inputs: the forward kernel (FwdTune) or
 * the weight-gradient schedule (WgradTune).
 *
 *   npx tsx bench/conv-ab.ts fwd|wgrad [reps=9] [shape filter regex] ['{"planned":{},"no subgroups":{"lanes":1}}'] [f32|f16]
 *
 * In f16, '{"matrices":{"sgmat":{}},"window":{"outChannels":16,"columns":8}}' compares the subgroup-matrix kernels with the SIMT
 * ones (on an adapter with subgroup matrices, e.g. in scripts/subgroup-matrix-env.sh's root).
 *
 * Per variant: median GPU time of every dispatch the op makes (for the weight gradient its kernel and the sum of
 * the row splits, from Device.profileStart), GFLOP/s (and at the best sample), and the median process CPU time
 * (all threads, lavapipe's workers included: less sensitive than wall or GPU time to other jobs on a shared
 * machine). Results are checked against the first variant.
 */
import { createDevice, tensor } from '../engine';
import { type FwdTune, convForwardTuned, convGeometry, convWgrad, type WgradTune } from '../engine/ops/conv2d';
import type { Tensor } from '../engine/tensor';

const op = process.argv[2];
if (op !== 'fwd' && op !== 'wgrad') throw new Error(`usage: conv-ab.ts fwd|wgrad [reps] [filter] [variants JSON]; got op '${op}'`);
const reps = Number(process.argv[3] ?? 9);
const filter = new RegExp(process.argv[4] ?? '.');
const defaults = op === 'wgrad' ? { planned: {}, 'no subgroups': { lanes: 1 } } : { planned: {}, '8 columns': { columns: 8 } };
const variants = (process.argv[5] ? JSON.parse(process.argv[5]) : defaults) as Record<string, WgradTune & FwdTune>;
const dtype = process.argv[6] === 'f16' ? 'f16' : 'f32';
// f16 outputs of different summation orders differ by about one f16 rounding
const tol = dtype === 'f16' ? 2e-3 : 1e-4;

interface Shape {
  name: string;
  n: number;
  c: number;
  h: number;
  o: number;
  k: number;
  s: number;
  g: number;
}
const SHAPES: Shape[] = [
  { name: '1x64x80x80->64 3x3', n: 1, c: 64, h: 80, o: 64, k: 3, s: 1, g: 1 },
  { name: '1x128x40x40->128 3x3', n: 1, c: 128, h: 40, o: 128, k: 3, s: 1, g: 1 },
  { name: '1x32x160x160->64 3x3 s2', n: 1, c: 32, h: 160, o: 64, k: 3, s: 2, g: 1 },
  { name: '1x256x20x20->256 1x1', n: 1, c: 256, h: 20, o: 256, k: 1, s: 1, g: 1 },
  { name: '1x64x40x40->64 3x3 g4', n: 1, c: 64, h: 40, o: 64, k: 3, s: 1, g: 4 },
  { name: '1x128x80x80->64 1x1', n: 1, c: 128, h: 80, o: 64, k: 1, s: 1, g: 1 },
  { name: '8x256x20x20->256 1x1', n: 8, c: 256, h: 20, o: 256, k: 1, s: 1, g: 1 },
  // the most frequent gelan-t shapes of a training step at 320, batch 8
  { name: 't 8x24x20x20->24 3x3', n: 8, c: 24, h: 20, o: 24, k: 3, s: 1, g: 1 },
  { name: 't 8x16x40x40->16 3x3', n: 8, c: 16, h: 40, o: 16, k: 3, s: 1, g: 1 },
  { name: 't 8x32x10x10->32 3x3', n: 8, c: 32, h: 10, o: 32, k: 3, s: 1, g: 1 },
  { name: 't 8x24x20x20->24 1x1', n: 8, c: 24, h: 20, o: 24, k: 1, s: 1, g: 1 },
  { name: 't 8x48x20x20->24 1x1', n: 8, c: 48, h: 20, o: 24, k: 1, s: 1, g: 1 },
  { name: 't 8x16x40x40->16 1x1', n: 8, c: 16, h: 40, o: 16, k: 1, s: 1, g: 1 },
  { name: 't 8x3x320x320->16 3x3 s2', n: 8, c: 3, h: 320, o: 16, k: 3, s: 2, g: 1 },
  { name: 't 8x16x160x160->32 3x3 s2', n: 8, c: 16, h: 160, o: 32, k: 3, s: 2, g: 1 },
  { name: 't 8x48x20x20->48 3x3', n: 8, c: 48, h: 20, o: 48, k: 3, s: 1, g: 1 },
  // the most frequent yolov9-t shapes of a training step at 192, batch 16
  { name: 'v 16x64x24x24->64 3x3', n: 16, c: 64, h: 24, o: 64, k: 3, s: 1, g: 1 },
  { name: 'v 16x16x24x24->16 3x3', n: 16, c: 16, h: 24, o: 16, k: 3, s: 1, g: 1 },
  { name: 'v 16x24x12x12->24 3x3', n: 16, c: 24, h: 12, o: 24, k: 3, s: 1, g: 1 },
  { name: 'v 16x64x24x24->128 1x1', n: 16, c: 64, h: 24, o: 128, k: 1, s: 1, g: 1 },
  { name: 'v 16x192x12x12->96 1x1', n: 16, c: 192, h: 12, o: 96, k: 1, s: 1, g: 1 },
  { name: '8x64x80x80->64 3x3', n: 8, c: 64, h: 80, o: 64, k: 3, s: 1, g: 1 },
  { name: '8x128x40x40->128 3x3', n: 8, c: 128, h: 40, o: 128, k: 3, s: 1, g: 1 },
];

// f16 runs may use the subgroup matrices even on a software adapter, where they are off by default
const dev = await createDevice({ subgroupMatrix: dtype === 'f16' ? true : 'auto' });
const median = (a: number[]): number => [...a].sort((p, q) => p - q)[Math.floor(a.length / 2)];
const rand = (n: number, seed: number): Float32Array => {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32) * 2 - 1);
};

for (const sh of SHAPES.filter((s) => filter.test(s.name))) {
  const x = tensor(dev, rand(sh.n * sh.c * sh.h * sh.h, 1), [sh.n, sh.c, sh.h, sh.h], { dtype });
  const w = tensor(dev, rand(sh.o * (sh.c / sh.g) * sh.k * sh.k, 2), [sh.o, sh.c / sh.g, sh.k, sh.k], { dtype });
  const g = convGeometry(x, w, null, { stride: sh.s, padding: (sh.k - 1) / 2, groups: sh.g });
  const gy = tensor(dev, rand(sh.n * sh.o * g.OH * g.OW, 3), [sh.n, sh.o, g.OH, g.OW], { dtype });
  const flops = 2 * sh.n * sh.o * (sh.c / sh.g) * sh.k * sh.k * g.OH * g.OW;
  // an empty variant ({}) is the engine's own plan (the device's rule or tile search), not a tiling of defaults
  const run = (v: WgradTune & FwdTune): Tensor => {
    const tune = Object.keys(v).length > 0 ? v : undefined;
    return op === 'wgrad' ? convWgrad(gy, x, g, tune) : convForwardTuned(x, w, g, tune);
  };
  // warm-up (pipeline compilation) and a check against the first variant
  let refData: Float32Array | null = null;
  for (const [name, v] of Object.entries(variants)) {
    const out = run(v);
    const d = await out.data();
    out.dispose();
    if (!refData) refData = d;
    else {
      let diff = 0;
      let scale = 0;
      for (let i = 0; i < d.length; i++) {
        diff = Math.max(diff, Math.abs(d[i] - refData[i]));
        scale = Math.max(scale, Math.abs(refData[i]));
      }
      if (diff > tol * scale) console.log(`  ${sh.name} ${name}: MISMATCH max |diff| ${diff} vs max ${scale}`);
    }
  }
  const times: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (let r = 0; r < reps; r++) {
    for (const [name, v] of Object.entries(variants)) {
      await dev.sync();
      dev.profileStart();
      const c0 = process.cpuUsage();
      const out = run(v);
      await dev.sync();
      const c1 = process.cpuUsage(c0);
      const prof = await dev.profileEnd();
      out.dispose();
      times[name].push(prof.reduce((a, p) => a + p.ms, 0));
      cpu[name].push((c1.user + c1.system) / 1000);
    }
  }
  const cells = Object.entries(times).map(
    ([name, t]) =>
      `${name} ${median(t).toFixed(1)} ms ${(flops / median(t) / 1e6).toFixed(1)} (best ${(flops / Math.min(...t) / 1e6).toFixed(1)}) GF/s, cpu ${median(cpu[name]).toFixed(0)} ms`,
  );
  console.log(`${sh.name.padEnd(26)} ${cells.join(' | ')}`);
  for (const t of [x, w, gy]) t.dispose();
}
dev.dispose();
process.exit(0);
