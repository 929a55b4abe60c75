// The optimiser recipe against the official code (fixtures from test/fixtures/gen/yolov9_train.py): parameter
// groups of gelan-t in order, warmup lr/momentum/accumulate, LR schedules, EMA decay, gradient clipping, and a
// four-iteration sequence of forward (BN running stats) → clip → SGD-Nesterov step → EMA on a tiny Conv model.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { noGrad, tensor, tidy } from '../../engine/tensor';
import { readSafetensors } from '../../models/io/safetensors';
import { type HostTensor, toFloat32 } from '../../models/io/dtypes';
import { Module } from '../../models/module';
import { Conv, Conv2d } from '../../models/layers';
import { createModel } from '../../models';
import { parameterGroups } from '../../training/optim/groups';
import { Optimizer } from '../../training/optim/optimizer';
import { ModelEMA, emaDecay } from '../../training/optim/ema';
import { lrLambda, warmup } from '../../training/optim/schedule';
import { closeness, testDevice } from '../helpers';

const FX = (f: string): string => fileURLToPath(new URL(`../fixtures/yolov9/train/${f}`, import.meta.url));
const fx = readSafetensors(new Uint8Array(readFileSync(FX('optimizer.safetensors'))), 'optimizer').tensors;
const meta = readSafetensors(new Uint8Array(readFileSync(FX('optimizer.safetensors'))), 'optimizer').metadata!;
const num = (h: HostTensor): number[] => Array.from(h.data as ArrayLike<number | bigint>, Number);

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

test('gelan-t parameter groups: same members in the same order as smart_optimizer', () => {
  const want = JSON.parse(readFileSync(FX('optimizer-groups-gelan-t.json'), 'utf8')) as { groups: { params: string[] }[] };
  const m = createModel(dev, 'gelan-t');
  const g = parameterGroups(m);
  expect(g.bias.map((r) => r.key)).toEqual(want.groups[0].params);
  expect(g.weight.map((r) => r.key)).toEqual(want.groups[1].params);
  expect(g.bn.map((r) => r.key)).toEqual(want.groups[2].params);
  m.dispose();
});

describe('schedules (train.py formulas)', () => {
  const s = JSON.parse(meta.train_settings) as { epochs: number; lrf: number; lr0: number; momentum: number; warmup_bias_lr: number; warmup_momentum: number; nw: number; batch_size: number; nbs: number };
  test('LambdaLR linear and cosine', () => {
    for (const [kind, key] of [['linear', 'linear'], ['cosine', 'cos_lr'], ['fixed', 'fixed_lr']] as const) {
      const lf = num(fx.get(`sched.${key}.lf`)!);
      lf.forEach((v, e) => expect(Math.abs(lrLambda(kind, e, s.epochs, s.lrf) - v), `${kind} epoch ${e}`).toBeLessThan(1e-12));
    }
  });
  test('warmup lr per group, momentum and accumulate for every iteration', () => {
    const lr = num(fx.get('warmup.lr')!);
    const mom = num(fx.get('warmup.momentum')!);
    const acc = num(fx.get('warmup.accumulate')!);
    for (let ni = 0; ni <= s.nw; ni++) {
      const w = warmup(ni, lrLambda('linear', 0, s.epochs, s.lrf), { lr0: s.lr0, momentum: s.momentum, warmupBiasLr: s.warmup_bias_lr, warmupMomentum: s.warmup_momentum, warmupIters: s.nw, batch: s.batch_size, nominalBatch: s.nbs })!;
      expect(Math.abs(w.lr.bias - lr[3 * ni])).toBeLessThan(1e-12);
      expect(Math.abs(w.lr.weight - lr[3 * ni + 1])).toBeLessThan(1e-12);
      expect(Math.abs(w.lr.bn - lr[3 * ni + 2])).toBeLessThan(1e-12);
      expect(Math.abs(w.momentum - mom[ni])).toBeLessThan(1e-12);
      expect(w.accumulate, `ni ${ni}`).toBe(acc[ni]);
    }
  });
  test('EMA decay ramp', () => {
    const u = num(fx.get('ema.u')!);
    num(fx.get('ema.decay')!).forEach((d, i) => expect(Math.abs(emaDecay(u[i]) - d)).toBeLessThan(1e-15));
  });
});

/** The fixture's tiny model: stem = Conv(3, 4, 3, 1) (conv, BN, SiLU), head = nn.Conv2d(4, 2, 1, bias=True). */
class Tiny extends Module {
  readonly stem: Conv;
  readonly head: Conv2d;
  constructor() {
    super(dev);
    this.stem = this.child('stem', new Conv(dev, { c1: 3, c2: 4, k: 3, s: 1 }, () => 0.5));
    this.head = this.child('head', new Conv2d(dev, { c1: 4, c2: 2, k: 1, bias: true }, () => 0.5));
  }
}

test('four iterations: forward → clip(10) → SGD-Nesterov with warmup lr/momentum → EMA match the official run', async () => {
  const m = new Tiny();
  const init = (k: string): HostTensor => fx.get(`tiny.init.${k}`)!;
  for (const [k, t] of m.stateEntries()) m.setTensor(k, tensor(dev, toFloat32(init(k)), t.shape));
  const s = JSON.parse(meta.train_settings) as { weight_decay: number; batch_size: number; accumulate: number; nbs: number };
  const wd = (s.weight_decay * s.batch_size * s.accumulate) / s.nbs;
  const opt = new Optimizer(m, { lr: 0.01, momentum: 0.937, weightDecay: wd });
  const ema = new ModelEMA(m, 0, () => new Tiny());
  const input = fx.get('tiny.input')!;
  const seq = JSON.parse(meta.sequence) as { lr: number[]; momentum: number[] }[];
  for (let it = 0; it < seq.length; it++) {
    // forward in train mode updates the BN running stats; the fixture then sets the gradients explicitly
    noGrad(dev, () => tidy(dev, () => void m.head.forward(m.stem.forward(tensor(dev, toFloat32(input), [...input.shape])))));
    for (const [k, p] of m.namedParameters()) {
      const g = fx.get(`seq.${it}.grad_in.${k}`);
      if (g) p.grad = tensor(dev, toFloat32(g), p.shape).keep();
    }
    opt.groups.bias.lr = seq[it].lr[0];
    opt.groups.weight.lr = seq[it].lr[1];
    opt.groups.bn.lr = seq[it].lr[2];
    for (const k of ['bias', 'weight', 'bn'] as const) opt.groups[k].momentum = seq[it].momentum[0];
    opt.step();
    opt.zeroGrad();
    ema.update(m);
    // float32 updates of O(1) values: a few ulps
    for (const [k, t] of m.stateEntries()) {
      const c = closeness(await t.data(), toFloat32(fx.get(`seq.${it}.model.${k}`)!), 1e-6, 1e-5);
      expect(c.ok, `iteration ${it} model ${k}: ${c.worst}`).toBe(true);
    }
    for (const [k, t] of ema.ema.stateEntries()) {
      const c = closeness(await t.data(), toFloat32(fx.get(`seq.${it}.ema.${k}`)!), 1e-6, 1e-5);
      expect(c.ok, `iteration ${it} ema ${k}: ${c.worst}`).toBe(true);
    }
    for (const [k, st] of opt.state) {
      const c = closeness(await st[0].data(), toFloat32(fx.get(`seq.${it}.momentum_buffer.${k}`)!), 1e-6, 1e-5);
      expect(c.ok, `iteration ${it} momentum ${k}: ${c.worst}`).toBe(true);
    }
  }
  opt.dispose();
  ema.dispose();
  m.dispose();
});
