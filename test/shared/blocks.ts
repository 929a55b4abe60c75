// One GELAN/YOLOv9 block fixture (test/fixtures/yolov9/blocks/*.safetensors, made by running the official
// code: test/fixtures/gen/yolov9_blocks.py) run on the engine and checked: eval outputs, train outputs,
// BatchNorm running-stat updates, and the gradients of the inputs and of every parameter. Pure code (the caller
// supplies the file's bytes), shared by test/models/blocks.test.ts (Node) and test/browser (Chromium).
import type { Device } from '../../engine/device';
import { type Tensor, tensor, tidy } from '../../engine/tensor';
import { add, mul, sum } from '../../engine/ops';
import { readSafetensors } from '../../models/io/safetensors';
import { type HostTensor, toFloat32 } from '../../models/io/dtypes';
import type { Block, Value } from '../../models/module';
import { ADown, AConv, CBFuse, CBLinear, Concat, type Ctx, ELAN1, RepConvN, RepNBottleneck, RepNCSP, RepNCSPELAN4, SPPELAN, Upsample, conv } from '../../models/blocks';
import { DDetect, DualDDetect } from '../../models/heads';
import type { Expect } from './expect';
import { closeness } from './fixtures';

type Args = unknown[];
const n = (v: unknown): number => v as number;

function build(dev: Device, block: string, a: Args): Block {
  const ctx: Ctx = { rand: () => 0.5, act: 'silu' };
  switch (block) {
    case 'Conv': return conv(dev, ctx, n(a[0]), n(a[1]), n(a[2] ?? 1), n(a[3] ?? 1));
    case 'RepConvN': return new RepConvN(dev, n(a[0]), n(a[1]), ctx);
    case 'RepNBottleneck': return new RepNBottleneck(dev, n(a[0]), n(a[1]), ctx);
    case 'RepNCSP': return new RepNCSP(dev, n(a[0]), n(a[1]), ctx, n(a[2] ?? 1));
    case 'RepNCSPELAN4': return new RepNCSPELAN4(dev, n(a[0]), n(a[1]), n(a[2]), n(a[3]), ctx, n(a[4] ?? 1));
    case 'ELAN1': return new ELAN1(dev, n(a[0]), n(a[1]), n(a[2]), n(a[3]), ctx);
    case 'AConv': return new AConv(dev, n(a[0]), n(a[1]), ctx);
    case 'ADown': return new ADown(dev, n(a[0]), n(a[1]), ctx);
    case 'SPPELAN': return new SPPELAN(dev, n(a[0]), n(a[1]), n(a[2]), ctx);
    case 'Concat': return new Concat(dev, n(a[0]));
    case 'nn.Upsample': return new Upsample(dev, n(a[1]));
    case 'CBLinear': return new CBLinear(dev, n(a[0]), a[1] as number[], ctx);
    case 'CBFuse': return new CBFuse(dev, a[0] as number[]);
    case 'DDetect':
    case 'DualDDetect': {
      const h = block === 'DDetect' ? new DDetect(dev, n(a[0]), a[1] as number[], ctx) : new DualDDetect(dev, n(a[0]), a[1] as number[], ctx);
      h.strides = [8, 16, 32];
      return h;
    }
  }
  throw new Error(`no builder for ${block}`);
}

interface Layout {
  x: string;
  inputs: { name: string; path: string; shape: number[] }[];
}

/** Rebuild the block's input structure (tensor, list, or CBFuse's [tuples…, x]) from the flattened inputs. */
function inputsOf(layout: Layout, ins: Tensor[]): { value: Value; cbfuse: [Tensor[][], Tensor] | null } {
  const byName = new Map(layout.inputs.map((d, i) => [d.name, ins[i]] as const));
  if (!layout.x.startsWith('[')) return { value: byName.get(layout.x)!, cbfuse: null };
  const groups = [...layout.x.slice(1, -1).matchAll(/\(([^)]*)\)|(in\.\d+)/g)];
  if (groups.some((g) => g[1] !== undefined)) {
    const tuples = groups.filter((g) => g[1] !== undefined).map((g) => g[1].split(',').map((s) => s.trim()).filter(Boolean).map((k) => byName.get(k)!));
    const last = groups[groups.length - 1][2]!;
    return { value: [], cbfuse: [tuples, byName.get(last)!] };
  }
  return { value: groups.map((g) => byName.get(g[2]!)!), cbfuse: null };
}

const flat = (v: Value): Tensor[] => (Array.isArray(v) ? v : [v]);

function run(block: Block, layout: Layout, ins: Tensor[]): Tensor[] {
  const { value, cbfuse } = inputsOf(layout, ins);
  if (cbfuse) return [(block as CBFuse).fuse(cbfuse[0], cbfuse[1])];
  if (block instanceof DualDDetect) {
    const { aux, main } = block.run(value);
    return block.training ? [...aux.levels, ...main.levels] : [aux.y!, main.y!, ...aux.levels, ...main.levels];
  }
  if (block instanceof DDetect) {
    const r = block.run(value);
    return block.training ? r.levels : [r.y!, ...r.levels];
  }
  return flat(block.forward(value));
}

/** Float32 engine vs float64 (or float32) PyTorch: sums of up to ~300 products through several layers. */
export const BLOCK_ATOL = 2e-4;
export const BLOCK_RTOL = 2e-4;
/**
 * Plus a share of the tensor's largest magnitude: float32 rounding of gradients through training-mode
 * BatchNorm scales with the largest terms (official float32 itself is 1.4e-6 × max|g| off float64 there).
 */
export const BLOCK_SCALE_TOL = 1e-5;

/** Run the block fixture `file` (its bytes) on `dev` and check everything it holds; returns the max abs error. */
export async function runBlockFixture(dev: Device, bytes: Uint8Array, file: string, expect: Expect): Promise<number> {
  const load = (block: Block, fx: Map<string, HostTensor>): void => {
    const ours = [...block.stateEntries()].map(([k]) => k);
    const theirs = [...fx.keys()].filter((k) => k.startsWith('param.') && !k.endsWith('num_batches_tracked')).map((k) => k.slice(6));
    expect(ours.sort()).toEqual(theirs.sort()); // identical state-dict names
    for (const [k, t] of block.stateEntries()) block.setTensor(k, tensor(dev, toFloat32(fx.get(`param.${k}`)!), t.shape));
  };
  const check = (got: Float32Array, want: HostTensor, what: string): number => {
    const w = toFloat32(want);
    const scale = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const c = closeness(got, w, BLOCK_ATOL + BLOCK_SCALE_TOL * scale, BLOCK_RTOL);
    expect(c.ok, `${what}: max abs err ${c.maxAbs.toExponential(2)}; ${c.worst}`).toBe(true);
    return c.maxAbs;
  };

  const { tensors: fx, metadata } = readSafetensors(bytes, file);
  const meta = metadata!;
  const layout = JSON.parse(meta.layout) as Layout;
  const ref = (name: string): HostTensor => fx.get(`f64.${name}`) ?? fx.get(name)!;
  const before = dev.memory().liveTensors;
  const block = build(dev, meta.block, JSON.parse(meta.args) as Args);
  let maxErr = 0;
  // eval
  load(block, fx);
  block.eval();
  const evalOut = tidy(dev, () => run(block, layout, layout.inputs.map((d) => tensor(dev, toFloat32(fx.get(d.name)!), d.shape))).map((t) => t.data()));
  for (let j = 0; j < evalOut.length; j++) maxErr = Math.max(maxErr, check(await evalOut[j], ref(`eval.out.${j}`), `${file} eval.out.${j}`));
  expect(fx.has(`eval.out.${evalOut.length}`)).toBe(false);
  // train: outputs, running stats, gradients
  load(block, fx);
  block.train();
  const reads: [string, Promise<Float32Array>][] = [];
  const ins = layout.inputs.map((d) => tensor(dev, toFloat32(fx.get(d.name)!), d.shape, { requiresGrad: true }));
  tidy(dev, () => {
    const outs = run(block, layout, ins);
    outs.forEach((o, j) => reads.push([`train.out.${j}`, o.data()]));
    const loss = outs.map((o, j) => sum(mul(o, tensor(dev, toFloat32(fx.get(`upstream.${j}`)!), o.shape)))).reduce((a, b) => add(a, b));
    loss.backward();
  });
  ins.forEach((t, k) => {
    // an input the block does not read (an unused CBLinear part) has no gradient: PyTorch reports zeros
    if (fx.has(`grad.in.${k}`)) reads.push([`grad.in.${k}`, t.grad ? t.grad.data() : Promise.resolve(new Float32Array(t.size))]);
  });
  for (const [k, t] of block.stateEntries()) {
    if (fx.has(`train.param.${k}`)) reads.push([`train.param.${k}`, t.data()]);
    if (fx.has(`grad.param.${k}`)) {
      expect(t.grad, `${file}: no gradient reached ${k}`).not.toBeNull();
      reads.push([`grad.param.${k}`, t.grad!.data()]);
    }
  }
  const expectedReads = [...fx.keys()].filter((k) => /^(train\.out|grad\.in|train\.param|grad\.param)\./.test(k) && !k.endsWith('num_batches_tracked'));
  expect(reads.map(([k]) => k).sort()).toEqual(expectedReads.sort());
  for (const [k, p] of reads) maxErr = Math.max(maxErr, check(await p, ref(k), `${file} ${k}`));
  ins.forEach((t) => t.dispose());
  block.dispose();
  expect(dev.memory().liveTensors).toBe(before);
  return maxErr;
}
