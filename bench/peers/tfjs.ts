// TensorFlow.js (tfjs-core + tfjs-backend-webgpu) on the shared device.
// Needs: `navigator.gpu` present when the backend package is imported (it registers its own 'webgpu' backend
// factory then, which would request a device of its own); we remove that registration and register
// `new WebGPUBackend(device, adapterInfo)` on the shared device. Layout NHWC (tfjs' WebGPU conv kernels are
// NHWC), weights HWIO, explicit padding (its 'same' pads stride-2 convs asymmetrically, unlike PyTorch).
// Grouped conv: tfjs has none (only depthwise), so it is expressed as per-group convs on channel slices +
// concat, which is what a tfjs user writes. Input/weight gradients: the Conv2DBackpropInput /
// Conv2DBackpropFilter kernels that tfjs' own conv2d gradient calls. Sync: end tfjs' open compute pass,
// submit its command encoder, then queue.onSubmittedWorkDone().
import * as tf from '@tensorflow/tfjs-core';
// tfjs-core alone registers no gradients (the @tensorflow/tfjs union package imports this)
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import type { BlockCase, Case, ConvCase } from '../cases';
import { convOut } from '../cases';
import type { Prepared } from '../harness';
import { type CaseData, type Peer, type PeerContext, packageVersion } from '../peer-api';

interface BackendInternals {
  endComputePassEncoder(): void;
  submitQueue(): void;
  commandEncoder: GPUCommandEncoder | null;
}

/** OIHW → HWIO (host side, untimed). */
function oihwToHwio(w: Float32Array, o: number, i: number, kh: number, kw: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((y * kw + x) * i + b) * o + a] = w[((a * i + b) * kh + y) * kw + x];
  return out;
}

function hwioToOihw(w: Float32Array, o: number, i: number, kh: number, kw: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) out[((a * i + b) * kh + y) * kw + x] = w[((y * kw + x) * i + b) * o + a];
  return out;
}

export function nchwToNhwc(x: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let a = 0; a < n; a++) for (let b = 0; b < c; b++) for (let y = 0; y < h; y++) for (let z = 0; z < w; z++) out[((a * h + y) * w + z) * c + b] = x[((a * c + b) * h + y) * w + z];
  return out;
}

export function nhwcToNchw(x: Float32Array, n: number, c: number, h: number, w: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let a = 0; a < n; a++) for (let b = 0; b < c; b++) for (let y = 0; y < h; y++) for (let z = 0; z < w; z++) out[((a * c + b) * h + y) * w + z] = x[((a * h + y) * w + z) * c + b];
  return out;
}

export default async function create(ctx: PeerContext): Promise<Peer> {
  const webgpu = await import('@tensorflow/tfjs-backend-webgpu');
  const version = `tfjs-core ${tf.version_core}, tfjs-backend-webgpu ${packageVersion('@tensorflow/tfjs-backend-webgpu', import.meta.url)}`;
  tf.removeBackend('webgpu'); // the factory its import registered (it would request a device of its own)
  tf.registerBackend('webgpu', () => new webgpu.WebGPUBackend(ctx.device, ctx.adapterInfo));
  if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") failed');
  await tf.ready();
  const backend = tf.backend() as unknown as BackendInternals;
  const sync = async (): Promise<void> => {
    backend.endComputePassEncoder();
    if (backend.commandEncoder) backend.submitQueue();
    await ctx.device.queue.onSubmittedWorkDone();
  };

  function conv(c: ConvCase, d: NonNullable<CaseData['conv']>): Prepared {
    const [oh, ow] = convOut(c);
    const g = c.groups;
    const cg = c.c / g;
    const og = c.o / g;
    const pad: tf.backend_util.ExplicitPadding = [
      [0, 0],
      [c.pad, c.pad],
      [c.pad, c.pad],
      [0, 0],
    ];
    const x = tf.tensor4d(nchwToNhwc(d.x, c.n, c.c, c.h, c.w), [c.n, c.h, c.w, c.c]);
    const dy = tf.tensor4d(nchwToNhwc(d.dy, c.n, c.o, oh, ow), [c.n, oh, ow, c.o]);
    // one HWIO filter per group (the whole filter when g = 1)
    const ws = Array.from({ length: g }, (_, j) =>
      tf.tensor4d(oihwToHwio(d.w.subarray(j * og * cg * c.k * c.k, (j + 1) * og * cg * c.k * c.k), og, cg, c.k, c.k), [c.k, c.k, cg, og]),
    );
    const split = (t: tf.Tensor4D): tf.Tensor4D[] => (g === 1 ? [t] : tf.split(t, g, 3));
    const cat = (ts: tf.Tensor4D[]): tf.Tensor4D => (ts.length === 1 ? ts[0] : tf.concat4d(ts, 3));
    const attrs = { strides: c.stride, pad, dataFormat: 'NHWC' as const };
    let out: tf.Tensor | null = null;
    const compute = (): tf.Tensor =>
      tf.tidy(() => {
        if (c.pass === 'fwd') {
          const xs = split(x);
          return cat(xs.map((xi, j) => tf.conv2d(xi, ws[j], c.stride, pad)));
        }
        if (c.pass === 'dgrad') {
          const dys = split(dy);
          return cat(
            dys.map(
              (dyi, j) =>
                tf.engine().runKernel(tf.Conv2DBackpropInput, { dy: dyi, filter: ws[j] }, { ...attrs, inputShape: [c.n, c.h, c.w, cg] }) as tf.Tensor4D,
            ),
          );
        }
        const xs = split(x);
        const dys = split(dy);
        return cat(
          xs.map(
            (xi, j) =>
              tf.engine().runKernel(tf.Conv2DBackpropFilter, { x: xi, dy: dys[j] }, { ...attrs, filterShape: [c.k, c.k, cg, og] }) as tf.Tensor4D,
          ),
        );
      });
    return {
      note: g > 1 ? 'tfjs has no grouped conv: per-group convs on channel slices + concat' : undefined,
      run() {
        out = compute();
      },
      sync,
      async results() {
        const v = (await out!.data()) as Float32Array;
        if (c.pass === 'fwd') return [nhwcToNchw(v, c.n, c.o, oh, ow)];
        if (c.pass === 'dgrad') return [nhwcToNchw(v, c.n, c.c, c.h, c.w)];
        return [hwioToOihw(v, c.o, cg, c.k, c.k)];
      },
      teardown() {
        out?.dispose();
        out = null;
      },
      dispose() {
        x.dispose();
        dy.dispose();
        ws.forEach((w) => w.dispose());
      },
    };
  }

  function block(c: BlockCase, d: NonNullable<CaseData['block']>): Prepared {
    const names = d.weights.map((w) => w.name);
    const vals = d.weights.map((w) =>
      w.shape.length === 4 ? tf.tensor4d(oihwToHwio(w.data, w.shape[0], w.shape[1], w.shape[2], w.shape[3]), [w.shape[2], w.shape[3], w.shape[1], w.shape[0]]) : tf.tensor1d(w.data),
    );
    const x = tf.tensor4d(nchwToNhwc(d.x, c.n, c.c1, c.h, c.w), [c.n, c.h, c.w, c.c1]);
    const dy = tf.tensor4d(nchwToNhwc(d.dy, c.n, c.c2, c.h, c.w), [c.n, c.h, c.w, c.c2]);
    // the block on a name → tensor map, as models/blocks.ts defines it (official RepNCSPELAN4)
    const forward = (p: Map<string, tf.Tensor>, input: tf.Tensor4D): tf.Tensor4D => {
      const convBn = (name: string, t: tf.Tensor4D, act: boolean): tf.Tensor4D => {
        const w = p.get(`${name}.conv.weight`) as tf.Tensor4D;
        const k = w.shape[0];
        const y = tf.conv2d(t, w, 1, [
          [0, 0],
          [k >> 1, k >> 1],
          [k >> 1, k >> 1],
          [0, 0],
        ]);
        const { mean, variance } = tf.moments(y, [0, 1, 2]);
        const z = tf.add(tf.mul(tf.mul(tf.sub(y, mean), tf.rsqrt(tf.add(variance, 1e-3))), p.get(`${name}.bn.weight`)!), p.get(`${name}.bn.bias`)!) as tf.Tensor4D;
        return act ? (tf.mul(z, tf.sigmoid(z)) as tf.Tensor4D) : z;
      };
      const repConvN = (name: string, t: tf.Tensor4D): tf.Tensor4D => {
        const s = tf.add(convBn(`${name}.conv1`, t, false), convBn(`${name}.conv2`, t, false)) as tf.Tensor4D;
        return tf.mul(s, tf.sigmoid(s)) as tf.Tensor4D;
      };
      const repNcsp = (name: string, t: tf.Tensor4D): tf.Tensor4D => {
        let a = convBn(`${name}.cv1`, t, true);
        for (let i = 0; i < c.c5; i++) a = tf.add(a, convBn(`${name}.m.${i}.cv2`, repConvN(`${name}.m.${i}.cv1`, a), true)) as tf.Tensor4D;
        return convBn(`${name}.cv3`, tf.concat4d([a, convBn(`${name}.cv2`, t, true)], 3), true);
      };
      const t = convBn('cv1', input, true);
      const [y0, y1] = tf.split(t, 2, 3) as tf.Tensor4D[];
      const y2 = convBn('cv2.1', repNcsp('cv2.0', y1), true);
      const y3 = convBn('cv3.1', repNcsp('cv3.0', y2), true);
      return convBn('cv4', tf.concat4d([y0, y1, y2, y3], 3), true);
    };
    const asMap = (ts: tf.Tensor[]): Map<string, tf.Tensor> => new Map(ts.map((t, i) => [names[i], t]));
    const lossAndGrads = tf.grads((...ws: tf.Tensor[]) => tf.sum(tf.mul(forward(asMap(ws), x), dy)));
    let grads: tf.Tensor[] | null = null;
    let y: tf.Tensor | null = null;
    const iFirst = names.indexOf('cv1.conv.weight');
    const iLast = names.indexOf('cv4.conv.weight');
    return {
      run() {
        grads = lossAndGrads(vals);
      },
      sync,
      async results() {
        y = tf.tidy(() => forward(asMap(vals), x));
        const out = nhwcToNchw((await y.data()) as Float32Array, c.n, c.c2, c.h, c.w);
        const w0 = d.weights[iFirst].shape;
        const w1 = d.weights[iLast].shape;
        return [
          out,
          hwioToOihw((await grads![iFirst].data()) as Float32Array, w0[0], w0[1], w0[2], w0[3]),
          hwioToOihw((await grads![iLast].data()) as Float32Array, w1[0], w1[1], w1[2], w1[3]),
        ];
      },
      teardown() {
        grads?.forEach((t) => t.dispose());
        grads = null;
        y?.dispose();
        y = null;
      },
      dispose() {
        vals.forEach((t) => t.dispose());
        x.dispose();
        dy.dispose();
      },
    };
  }

  function matmul(d: NonNullable<CaseData['matmul']>, m: number, k: number, n: number): Prepared {
    const a = tf.tensor2d(d.a, [m, k]);
    const b = tf.tensor2d(d.b, [k, n]);
    let out: tf.Tensor | null = null;
    return {
      run() {
        out = tf.matMul(a, b);
      },
      sync,
      async results() {
        return [(await out!.data()) as Float32Array];
      },
      teardown() {
        out?.dispose();
        out = null;
      },
      dispose() {
        a.dispose();
        b.dispose();
      },
    };
  }

  return {
    name: 'tfjs',
    version,
    setup: [
      'navigator = {gpu, userAgent} shim before import (the package registers its backend only when navigator.gpu exists)',
      "tf.removeBackend('webgpu'), then registerBackend('webgpu', () => new WebGPUBackend(sharedDevice, adapterInfo))",
      'NHWC tensors, HWIO filters, explicit [[0,0],[p,p],[p,p],[0,0]] padding',
      'sync = end its compute pass + submitQueue() + queue.onSubmittedWorkDone()',
    ],
    async prepare(c: Case, d: CaseData) {
      if (c.kind === 'conv') return conv(c, d.conv!);
      if (c.kind === 'matmul') return matmul(d.matmul!, c.m, c.k, c.n);
      if (c.kind === 'block') return block(c, d.block!);
      return { skip: 'no GELAN model definition for tfjs (a port of the whole graph and its weights; the block case covers the building block)' };
    },
    async dispose() {
      await sync();
      tf.disposeVariables();
      tf.removeBackend('webgpu');
    },
  };
}
