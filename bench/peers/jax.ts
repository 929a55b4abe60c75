// jax-js (@jax-js/jax) on the shared device.
// Needs: only the navigator shim — jax-js always requests its own device through navigator.gpu, and our shim's
// adapter hands it the shared device (checked with getWebGPUDevice()). NCHW / OIHW natively
// (lax.convGeneralDilated, featureGroupCount for groups). Every function runs under jit(); gradients are
// jit(vjp) of the forward (input gradient: vjp w.r.t. x, weight gradient: vjp w.r.t. w, the block: vjp w.r.t.
// every parameter). Arrays are reference counted: inputs are passed as `.ref` so they survive the call.
// jax-js is lazy: run() records, sync() = blockUntilReady(outputs) (which dispatches and waits) +
// queue.onSubmittedWorkDone().
import { blockUntilReady, defaultDevice, getWebGPUDevice, init, jit, lax, nn, numpy as np, vjp } from '@jax-js/jax';
import type { Array as JArray } from '@jax-js/jax';
import type { BlockCase, Case, ConvCase } from '../cases';
import { convOut } from '../cases';
import type { Prepared } from '../harness';
import { type CaseData, type Peer, type PeerContext, packageVersion } from '../peer-api';

type Fn = ((...a: JArray[]) => unknown) & { dispose?: () => void };

export default async function create(ctx: PeerContext): Promise<Peer> {
  const version = `@jax-js/jax ${packageVersion('@jax-js/jax', import.meta.url)}`;
  const got = await init('webgpu');
  if (!got.includes('webgpu')) throw new Error('jax-js found no WebGPU (init returned ' + got.join(', ') + ')');
  defaultDevice('webgpu');
  const used = getWebGPUDevice();
  if (used !== ctx.device) throw new Error('jax-js did not take the shared device');
  const flush = (): Promise<undefined> => ctx.device.queue.onSubmittedWorkDone();

  const arr = (data: Float32Array, shape: number[]): JArray => np.array(data as Float32Array<ArrayBuffer>).reshape(shape);

  /** A Prepared around a jit function of fixed inputs whose outputs are a list of arrays. */
  function prepared(fn: Fn, inputs: (JArray | JArray[])[], read: (outs: JArray[]) => Promise<Float32Array[]>): Prepared {
    let outs: JArray[] | null = null;
    const refs = (): unknown[] => inputs.map((i) => (Array.isArray(i) ? i.map((t) => t.ref) : i.ref));
    const flat = (v: unknown): JArray[] => (Array.isArray(v) ? (v as unknown[]).flatMap(flat) : [v as JArray]);
    return {
      run() {
        outs = flat((fn as (...a: unknown[]) => unknown)(...refs()));
      },
      async sync() {
        await blockUntilReady(outs!);
        await flush();
      },
      async results() {
        return read(outs!);
      },
      teardown() {
        for (const o of outs ?? []) o.dispose();
        outs = null;
      },
      dispose() {
        for (const i of inputs.flat()) i.dispose();
        fn.dispose?.();
      },
    };
  }

  // data() consumes a reference: read through .ref so teardown() can dispose as usual
  const data = async (a: JArray): Promise<Float32Array> => (await a.ref.data()) as Float32Array;

  function conv(c: ConvCase, d: NonNullable<CaseData['conv']>): Prepared {
    const [oh, ow] = convOut(c);
    const x = arr(d.x, [c.n, c.c, c.h, c.w]);
    const w = arr(d.w, [c.o, c.c / c.groups, c.k, c.k]);
    const dy = arr(d.dy, [c.n, c.o, oh, ow]);
    const f = (xx: JArray, ww: JArray): JArray =>
      lax.convGeneralDilated(xx, ww, [c.stride, c.stride], [
        [c.pad, c.pad],
        [c.pad, c.pad],
      ], { featureGroupCount: c.groups });
    if (c.pass === 'fwd') {
      dy.dispose(); // the output gradient is unused in the forward
      return prepared(jit(f) as Fn, [x, w], async (o) => [await data(o[0])]);
    }
    if (c.pass === 'dgrad') {
      const g = jit((xx: JArray, ww: JArray, gy: JArray) => {
        const [y, back] = vjp((t: JArray) => f(t, ww), [xx]);
        y.dispose();
        const [gx] = back(gy) as JArray[];
        back.dispose();
        return gx;
      });
      return prepared(g as Fn, [x, w, dy], async (o) => [await data(o[0])]);
    }
    const g = jit((xx: JArray, ww: JArray, gy: JArray) => {
      const [y, back] = vjp((t: JArray) => f(xx, t), [ww]);
      y.dispose();
      const [gw] = back(gy) as JArray[];
      back.dispose();
      return gw;
    });
    return prepared(g as Fn, [x, w, dy], async (o) => [await data(o[0])]);
  }

  function block(c: BlockCase, d: NonNullable<CaseData['block']>): Prepared {
    const names = d.weights.map((w) => w.name);
    const ps = d.weights.map((w) => arr(w.data, [...w.shape]));
    const x = arr(d.x, [c.n, c.c1, c.h, c.w]);
    const dy = arr(d.dy, [c.n, c.c2, c.h, c.w]);
    // the block on a name → array map, as models/blocks.ts defines it; every parameter is used exactly once
    const forward = (p: Map<string, JArray>, input: JArray): JArray => {
      const convBn = (name: string, t: JArray, act: boolean): JArray => {
        const w = p.get(`${name}.conv.weight`)!;
        const k = w.shape[2];
        const y = lax.convGeneralDilated(t, w, [1, 1], [
          [k >> 1, k >> 1],
          [k >> 1, k >> 1],
        ]);
        const ch = y.shape[1];
        const mean = np.mean(y.ref, [0, 2, 3], { keepdims: true });
        const variance = np.var_(y.ref, [0, 2, 3], { keepdims: true });
        const inv = np.reciprocal(np.sqrt(np.add(variance, 1e-3)));
        const z = np.add(
          np.multiply(np.multiply(np.subtract(y, mean), inv), p.get(`${name}.bn.weight`)!.reshape([1, ch, 1, 1])),
          p.get(`${name}.bn.bias`)!.reshape([1, ch, 1, 1]),
        );
        return act ? nn.silu(z) : z;
      };
      const repConvN = (name: string, t: JArray): JArray => nn.silu(np.add(convBn(`${name}.conv1`, t.ref, false), convBn(`${name}.conv2`, t, false)));
      const repNcsp = (name: string, t: JArray): JArray => {
        let a = convBn(`${name}.cv1`, t.ref, true);
        for (let i = 0; i < c.c5; i++) a = np.add(a.ref, convBn(`${name}.m.${i}.cv2`, repConvN(`${name}.m.${i}.cv1`, a), true));
        return convBn(`${name}.cv3`, np.concatenate([a, convBn(`${name}.cv2`, t, true)], 1), true);
      };
      const t = convBn('cv1', input, true);
      const [y0, y1] = np.split(t, 2, 1);
      const y2 = convBn('cv2.1', repNcsp('cv2.0', y1.ref), true);
      const y3 = convBn('cv3.1', repNcsp('cv3.0', y2.ref), true);
      return convBn('cv4', np.concatenate([y0, y1, y2, y3], 1), true);
    };
    const step = jit((params: JArray[], xx: JArray, gy: JArray) => {
      const [y, back] = vjp((q: JArray[]) => forward(new Map(q.map((t, i) => [names[i], t])), xx), [params]);
      const [grads] = back(gy) as unknown as [JArray[]];
      back.dispose();
      return [y, grads];
    });
    const iFirst = names.indexOf('cv1.conv.weight');
    const iLast = names.indexOf('cv4.conv.weight');
    // outputs flattened: [y, grad_0, grad_1, ...]
    return prepared(step as unknown as Fn, [ps, x, dy], async (o) => [await data(o[0]), await data(o[1 + iFirst]), await data(o[1 + iLast])]);
  }

  function matmul(d: NonNullable<CaseData['matmul']>, m: number, k: number, n: number): Prepared {
    return prepared(jit((a: JArray, b: JArray) => np.matmul(a, b)) as Fn, [arr(d.a, [m, k]), arr(d.b, [k, n])], async (o) => [await data(o[0])]);
  }

  return {
    name: 'jax',
    version,
    setup: [
      'navigator = {gpu, userAgent} shim only; its requestAdapter().requestDevice() returns the shared device (verified with getWebGPUDevice())',
      "init('webgpu'), defaultDevice('webgpu'); NCHW/OIHW natively; ops under jit(), gradients as jit(vjp)",
      'sync = blockUntilReady(outputs) (jax-js is lazy: this dispatches and waits) + queue.onSubmittedWorkDone()',
    ],
    async prepare(c: Case, d: CaseData) {
      if (c.kind === 'conv') return conv(c, d.conv!);
      if (c.kind === 'matmul') return matmul(d.matmul!, c.m, c.k, c.n);
      if (c.kind === 'block') return block(c, d.block!);
      return { skip: 'no GELAN model definition for jax-js (a port of the whole graph and its weights; the block case covers the building block)' };
    },
    async dispose() {
      await flush();
    },
  };
}
