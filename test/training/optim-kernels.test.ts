// The arena optimiser kernels (parameters, gradients and state gathered into arenas, one dispatch per group)
// against a float64 CPU reference: grad-norm clipping, SGD-Nesterov and AdamW (amsgrad) per parameter group, and
// the EMA, with parameters left without a gradient (which split the runs, more runs than one dispatch holds) and
// tensors larger than one workgroup's chunk — on this adapter's limits and on a device with WebGPU's default
// limits (8 storage buffers per stage, fewer than SwiftShader's 10).
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createDevice } from '../../engine/create-device';
import type { Device } from '../../engine/device';
import { noGrad, tensor } from '../../engine/tensor';
import { nodeGpu } from '../../engine/platform/node';
import { Module } from '../../models/module';
import { BatchNorm2d, Conv2d } from '../../models/layers';
import { type OptimizerName, Optimizer } from '../../training/optim/optimizer';
import { ModelEMA, emaDecay } from '../../training/optim/ema';
import { parameterGroups } from '../../training/optim/groups';
import { type MultiKind, OPT_MAX_SLOTS, multiTensorKernel } from '../../kernels/optim.wgsl';
import { packArenas, runsOf } from '../../training/optim/multi-tensor';
import { closeness, randn, rng, testDevice } from '../helpers';

let big: Device;
let small: Device;
let smallGpu: GPUDevice;
beforeAll(async () => {
  big = await testDevice();
  const adapter = await (await nodeGpu()).requestAdapter();
  smallGpu = await adapter!.requestDevice(); // WebGPU's default limits
  small = await createDevice({ device: smallGpu });
  expect(small.limits.maxStorageBuffersPerShaderStage).toBeLessThanOrEqual(10);
});
afterAll(() => {
  big?.dispose();
  small?.dispose();
  smallGpu?.destroy();
});

/** 40 convolutions (with and without bias, up to 73,728 weights) and 40 BatchNorms: 160 parameters, 3 groups. */
class Net extends Module {
  constructor(dev: Device) {
    super(dev);
    const r = rng(7);
    const init = (): number => r() * 0.2 - 0.1;
    const base: [number, number, number][] = [[3, 7, 1], [16, 16, 3], [64, 128, 3], [5, 3, 1], [32, 8, 3], [1, 1, 1], [128, 64, 1], [8, 300, 1], [4, 4, 3], [2, 70, 3], [9, 9, 1], [17, 33, 3]];
    const shapes = [...base, ...Array.from({ length: 28 }, (_, i): [number, number, number] => [1 + (i % 5), 2 + (i % 7), 1])];
    shapes.forEach(([c1, c2, k], i) => {
      this.child(`conv${i}`, new Conv2d(dev, { c1, c2, k, bias: i % 3 !== 1 }, init));
      this.child(`bn${i}`, new BatchNorm2d(dev, [5, 300, 64, 1][i % 4]));
    });
  }
}

interface Ref {
  p: Float64Array;
  state: Float64Array[];
}

/** PyTorch's clip_grad_norm_ + SGD(nesterov) / AdamW(amsgrad) step in float64 over the parameters with a gradient. */
function cpuStep(name: OptimizerName, refs: Map<string, Ref>, grads: Map<string, Float64Array>, group: (k: string) => { lr: number; momentum: number; wd: number }, t: number, maxNorm: number): number {
  let sq = 0;
  for (const g of grads.values()) for (const v of g) sq += v * v;
  const f = Math.min(1, maxNorm / (Math.sqrt(sq) + 1e-6));
  for (const [k, g0] of grads) {
    const r = refs.get(k)!;
    const { lr, momentum: mu, wd } = group(k);
    for (let i = 0; i < r.p.length; i++) {
      const g = g0[i] * f;
      if (name === 'SGD') {
        const d = g + wd * r.p[i];
        r.state[0][i] = t === 1 ? d : mu * r.state[0][i] + d;
        r.p[i] -= lr * (d + mu * r.state[0][i]);
      } else {
        const [m, v, vmax] = r.state;
        r.p[i] *= 1 - lr * wd;
        m[i] = mu * m[i] + (1 - mu) * g;
        v[i] = 0.999 * v[i] + 0.001 * g * g;
        vmax[i] = Math.max(vmax[i], v[i]);
        r.p[i] -= (lr / (1 - mu ** t)) * (m[i] / (Math.sqrt(vmax[i]) / Math.sqrt(1 - 0.999 ** t) + 1e-8));
      }
    }
  }
  return f;
}

async function runCase(dev: Device, name: OptimizerName, restoreAfter: number | null): Promise<void> {
  const m = new Net(dev);
  const ema = new ModelEMA(m, 0, () => new Net(dev));
  let opt = new Optimizer(m, { name, lr: 0.01, momentum: 0.9, weightDecay: 5e-3 });
  const groups = parameterGroups(m);
  const groupOf = new Map([...groups.bias, ...groups.weight, ...groups.bn].map((r) => [r.key, r.group]));
  const slots = name === 'SGD' ? 1 : 3;
  const refs = new Map<string, Ref>();
  for (const [k, p] of m.namedParameters()) refs.set(k, { p: Float64Array.from(await p.data()), state: Array.from({ length: slots }, () => new Float64Array(p.size)) });
  const emaRef = new Map<string, Float64Array>();
  for (const [k, t] of m.stateEntries()) emaRef.set(k, Float64Array.from(await t.data()));
  const r = rng(11);
  const lrs = [0.01, 0.02, 0.005, 0.01];
  // gradient scales: steps 1 and 3 exceed the clip norm, 0 and 2 do not
  const scales = [0.001, 1, 0.0005, 3];
  for (let step = 0; step < 4; step++) {
    const grads = new Map<string, Float64Array>();
    noGrad(dev, () => {
      for (const [k, p] of m.namedParameters()) {
        if (step === 0 && k === 'conv4.weight') continue; // a parameter without a gradient is left alone
        // every other one: more runs (of the arenas) than one dispatch holds
        if (step === 2 && [...m.namedParameters()].findIndex(([q]) => q === k) % 2 === 1) continue;
        const g = Float32Array.from(randn(r, p.size), (v) => v * scales[step]);
        grads.set(k, Float64Array.from(g));
        p.grad = tensor(dev, g, p.shape).keep();
      }
    });
    for (const g of ['bias', 'weight', 'bn'] as const) opt.groups[g].lr = lrs[step] * (g === 'bias' ? 2 : 1);
    if (restoreAfter !== null && step === restoreAfter) {
      // what restoreCheckpoint does: a new optimiser whose state map is filled with fresh tensors
      const saved = new Map<string, Float32Array[]>();
      for (const [k, st] of opt.state) saved.set(k, await Promise.all(st.map((t) => t.data())));
      const fresh = new Optimizer(m, { name, lr: 0.01, momentum: 0.9, weightDecay: 5e-3 });
      for (const g of ['bias', 'weight', 'bn'] as const) fresh.groups[g].lr = opt.groups[g].lr;
      fresh.steps = opt.steps;
      opt.dispose();
      opt = fresh;
      noGrad(dev, () => {
        for (const [k, st] of saved) opt.state.set(k, st.map((d) => tensor(dev, d, [d.length]).keep()));
      });
    }
    opt.step();
    opt.zeroGrad();
    ema.update(m);
    const f = cpuStep(name, refs, grads, (k) => ({ lr: opt.groups[groupOf.get(k)!].lr, momentum: 0.9, wd: groupOf.get(k) === 'weight' ? 5e-3 : 0 }), step + 1, 10);
    const clip = await opt.lastClip!.item();
    expect(Math.abs(clip - f), `step ${step} clip factor ${clip} vs ${f}`).toBeLessThan(1e-6 * Math.max(1, f) + 1e-9);
    if (step === 1 || step === 3) expect(f).toBeLessThan(1);
    const d = emaDecay(ema.updates);
    for (const [k, t] of m.stateEntries()) {
      const e = emaRef.get(k)!;
      const x = refs.get(k)?.p ?? Float64Array.from(await t.data());
      for (let i = 0; i < e.length; i++) e[i] = d * e[i] + (1 - d) * x[i];
    }
    for (const [k, p] of m.namedParameters()) {
      const c = closeness(await p.data(), refs.get(k)!.p, 2e-6, 2e-5);
      expect(c.ok, `${name} step ${step} ${k}: ${c.worst}`).toBe(true);
      const st = opt.state.get(k);
      expect(st?.length ?? 0, `state of ${k}`).toBe(grads.has(k) || step > 0 ? slots : 0);
      for (let s = 0; s < (st?.length ?? 0); s++) {
        const cs = closeness(await st![s].data(), refs.get(k)!.state[s], 1e-7, 2e-5);
        expect(cs.ok, `${name} step ${step} ${k} state ${s}: ${cs.worst}`).toBe(true);
      }
    }
    for (const [k, t] of ema.ema.stateEntries()) {
      const c = closeness(await t.data(), emaRef.get(k)!, 2e-6, 2e-5);
      expect(c.ok, `${name} step ${step} ema ${k}: ${c.worst}`).toBe(true);
    }
  }
  opt.dispose();
  ema.dispose();
  m.dispose();
}

describe.each([
  ['this adapter', () => big],
  ['default limits', () => small],
] as const)('multi-tensor optimiser on %s', (_, device) => {
  test('every kernel binds no more storage buffers than the device allows', () => {
    const limit = device().limits.maxStorageBuffersPerShaderStage;
    for (const kind of ['sumsq', 'sgd', 'adamw', 'ema'] as MultiKind[]) expect(multiTensorKernel({ kind, slots: OPT_MAX_SLOTS }).bindings.length, kind).toBeLessThanOrEqual(limit);
  });
  test('SGD-Nesterov, clipping and EMA match float64', () => runCase(device(), 'SGD', null));
  test('AdamW (amsgrad), clipping and EMA match float64', () => runCase(device(), 'AdamW', null));
  test('state put into the map from outside (a restored checkpoint) continues exactly', () => runCase(device(), 'AdamW', 2));
});

test('a step and an EMA update of 160 parameters take one dispatch per parameter group, plus clipping', () => {
  const m = new Net(big);
  const opt = new Optimizer(m, { name: 'SGD', lr: 0.01, momentum: 0.9, weightDecay: 5e-3 });
  const ema = new ModelEMA(m, 0, () => new Net(big));
  const names: string[] = [];
  const dispatch = big.dispatch.bind(big);
  big.dispatch = (src, ...rest): void => {
    names.push(src.name);
    dispatch(src, ...rest);
  };
  const step = (): void => {
    noGrad(big, () => {
      for (const [, p] of m.namedParameters()) p.grad = tensor(big, new Float32Array(p.size).fill(0.01), p.shape).keep();
    });
    opt.step();
    opt.zeroGrad();
    ema.update(m);
  };
  step(); // the first step also zero-fills the state arenas
  names.length = 0;
  try {
    step();
  } finally {
    big.dispatch = dispatch;
  }
  expect(names).toEqual(['optim.sumsq', 'optim.clip', 'optim.sgd', 'optim.sgd', 'optim.sgd', 'optim.ema']);
  opt.dispose();
  ema.dispose();
  m.dispose();
});

test('memory: the step allocates nothing that outlives it after the first', async () => {
  const m = new Net(big);
  const opt = new Optimizer(m, { name: 'AdamW', lr: 0.01, momentum: 0.9, weightDecay: 5e-3 });
  const live: number[] = [];
  for (let s = 0; s < 4; s++) {
    noGrad(big, () => {
      for (const [, p] of m.namedParameters()) p.grad = tensor(big, new Float32Array(p.size).fill(0.01), p.shape).keep();
    });
    opt.step();
    opt.zeroGrad();
    await big.sync();
    live.push(big.memory().liveBytes);
  }
  expect(new Set(live).size, live.join(', ')).toBe(1);
  opt.dispose();
  m.dispose();
});

test('arena layout: packs in order up to one binding per arena, refuses a tensor larger than a binding', () => {
  // a device that binds at most 100 float32 values per storage binding
  const dev = { limits: { maxStorageBufferBindingSize: 400, maxBufferSize: 1 << 30 } } as unknown as Device;
  const t = (size: number): { size: number; shape: number[] } => ({ size, shape: [size] });
  const l = packArenas(dev, [['a', t(60)], ['b', t(30)], ['c', t(20)], ['d', t(100)], ['e', t(1)]]);
  expect(l.sizes).toEqual([90, 20, 100, 1]);
  expect([...l.segments].map(([k, s]) => [k, s.arena, s.offset])).toEqual([['a', 0, 0], ['b', 0, 60], ['c', 1, 0], ['d', 2, 0], ['e', 3, 0]]);
  expect(runsOf(l, ['a', 'b', 'd']).map((r) => [r.arena, r.offset, r.n])).toEqual([[0, 0, 90], [2, 0, 100]]);
  expect(() => packArenas(dev, [['big', t(101)]])).toThrow(/arena layout: big has 101 elements, more than one storage binding of this device holds \(100\)/);
});
