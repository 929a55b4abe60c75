// onnxruntime-web (WebGPU execution provider) on the shared device.
// Needs: the `onnxruntime-web/webgpu` build; env.webgpu.device = the shared device (and the same device in the
// execution-provider options), preferredLayout 'NHWC', env.wasm.numThreads = 1, the model as bytes (written
// by onnx-encode.ts: one small graph per case), inputs and outputs as GPU buffers on the shared device
// (Tensor.fromGpuBuffer: no upload or download inside the timed run). Its wasm memory is a SharedArrayBuffer
// and Dawn refuses views of one, so the device it gets copies SharedArrayBuffer views passed to
// queue.writeBuffer and setBindGroup (session creation fails otherwise). The launcher runs V8 with
// --liftoff-only so its wasm is not re-compiled in the background while we measure.
// What each case is in ONNX: forward = Conv (group attribute for grouped convs); input gradient =
// ConvTranspose of dy with the same weights (output_padding where the stride leaves a remainder); weight
// gradient = Transpose(x) ⊛ Transpose(dy) as a Conv with dilation = stride, then Transpose (+ Slice when the
// stride leaves a remainder) — groups > 1 cannot be expressed this way without computing every C×O pair, so
// that case is skipped; matmul = MatMul. No autodiff: the block's forward+backward and training steps are
// skipped. Sync: `await session.run()` then queue.onSubmittedWorkDone().
import * as ort from 'onnxruntime-web/webgpu';
import type { Case, ConvCase } from '../cases';
import { convOut } from '../cases';
import type { Prepared } from '../harness';
import { type CaseData, type Peer, type PeerContext, packageVersion } from '../peer-api';
import { type OnnxGraph, encodeModel } from './onnx-encode';

const isShared = (b: unknown): boolean => typeof SharedArrayBuffer !== 'undefined' && b instanceof SharedArrayBuffer;

/** A copy of `d` in a plain ArrayBuffer when it is (a view of) a SharedArrayBuffer. */
function unshare<T>(d: T): T {
  if (ArrayBuffer.isView(d) && isShared(d.buffer)) {
    if (d instanceof DataView) return new DataView(new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice().buffer) as T;
    return (d as unknown as { slice(): T }).slice(); // a typed array's slice() has a fresh, unshared buffer
  }
  if (isShared(d)) return new Uint8Array(d as unknown as SharedArrayBuffer).slice().buffer as T;
  return d;
}

/** The shared device, with SharedArrayBuffer views copied on their way into writeBuffer and setBindGroup. */
function unsharedDevice(device: GPUDevice): GPUDevice {
  const bind = <T extends object>(target: T, key: PropertyKey): unknown => {
    const v = Reflect.get(target, key, target) as unknown;
    return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
  };
  const wrapPass = (pass: GPUComputePassEncoder): GPUComputePassEncoder =>
    new Proxy(pass, {
      get(t, k) {
        if (k === 'setBindGroup') return (i: number, g: GPUBindGroup | null, ...rest: unknown[]) => (t.setBindGroup as (...a: unknown[]) => void)(i, g, ...rest.map(unshare));
        return bind(t, k);
      },
    });
  const queue = new Proxy(device.queue, {
    get(t, k) {
      if (k === 'writeBuffer') return (buf: GPUBuffer, off: number, data: unknown, ...rest: unknown[]) => (t.writeBuffer as (...a: unknown[]) => void)(buf, off, unshare(data), ...rest);
      return bind(t, k);
    },
  });
  return new Proxy(device, {
    get(t, k) {
      if (k === 'queue') return queue;
      if (k === 'createCommandEncoder') {
        return (desc?: GPUCommandEncoderDescriptor) => {
          const enc = t.createCommandEncoder(desc);
          return new Proxy(enc, {
            get(e, key) {
              if (key === 'beginComputePass') return (d?: GPUComputePassDescriptor) => wrapPass(e.beginComputePass(d));
              return bind(e, key);
            },
          });
        };
      }
      return bind(t, k);
    },
  });
}

export default async function create(ctx: PeerContext): Promise<Peer> {
  const version = `onnxruntime-web ${packageVersion('onnxruntime-web', import.meta.url)} (webgpu build)`;
  const device = unsharedDevice(ctx.device);
  ort.env.wasm.numThreads = 1;
  ort.env.logLevel = 'error';
  (ort.env.webgpu as { device: unknown }).device = device;
  const sync = (): Promise<undefined> => ctx.device.queue.onSubmittedWorkDone();

  const gpuBuffer = (data: Float32Array | number): GPUBuffer => {
    const bytes = typeof data === 'number' ? data * 4 : data.byteLength;
    const b = ctx.device.createBuffer({ size: Math.max(16, bytes), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    if (typeof data !== 'number') ctx.device.queue.writeBuffer(b, 0, data as Float32Array<ArrayBuffer>);
    return b;
  };
  const readBuffer = async (b: GPUBuffer, n: number): Promise<Float32Array> => {
    const r = ctx.device.createBuffer({ size: n * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const e = ctx.device.createCommandEncoder();
    e.copyBufferToBuffer(b, 0, r, 0, n * 4);
    ctx.device.queue.submit([e.finish()]);
    await r.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(r.getMappedRange().slice(0));
    r.unmap();
    r.destroy();
    return out;
  };

  /** A session over `graph`, fed from GPU buffers, writing into a preallocated GPU output. */
  async function prepared(graph: OnnxGraph, feeds: Record<string, Float32Array>, note?: string): Promise<Prepared> {
    const session = await ort.InferenceSession.create(encodeModel(graph), {
      executionProviders: [{ name: 'webgpu', device, preferredLayout: 'NHWC' } as ort.InferenceSession.ExecutionProviderConfig],
      graphOptimizationLevel: 'all',
    });
    const bufs: GPUBuffer[] = [];
    const inputs: Record<string, ort.Tensor> = {};
    for (const v of graph.inputs) {
      const b = gpuBuffer(feeds[v.name]);
      bufs.push(b);
      inputs[v.name] = ort.Tensor.fromGpuBuffer(b as never, { dataType: 'float32', dims: v.dims });
    }
    const out = graph.outputs[0];
    const n = out.dims.reduce((a, b) => a * b, 1);
    const outBuf = gpuBuffer(n);
    bufs.push(outBuf);
    const fetches = { [out.name]: ort.Tensor.fromGpuBuffer(outBuf as never, { dataType: 'float32', dims: out.dims }) };
    return {
      note,
      async run() {
        await session.run(inputs, fetches);
      },
      sync,
      async results() {
        return [await readBuffer(outBuf, n)];
      },
      async dispose() {
        await session.release();
        await sync();
        bufs.forEach((b) => b.destroy());
      },
    };
  }

  function convGraph(c: ConvCase, d: NonNullable<CaseData['conv']>): { graph: OnnxGraph; feeds: Record<string, Float32Array>; note?: string } | { skip: string } {
    const [oh, ow] = convOut(c);
    const xd = [c.n, c.c, c.h, c.w];
    const wd = [c.o, c.c / c.groups, c.k, c.k];
    const yd = [c.n, c.o, oh, ow];
    const p = c.pad;
    if (c.pass === 'fwd') {
      return {
        graph: {
          nodes: [{ op: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attrs: { kernel_shape: [c.k, c.k], strides: [c.stride, c.stride], pads: [p, p, p, p], group: c.groups } }],
          inputs: [{ name: 'x', dims: xd }],
          initializers: [{ name: 'w', dims: wd, data: d.w }],
          outputs: [{ name: 'y', dims: yd }],
        },
        feeds: { x: d.x },
      };
    }
    if (c.pass === 'dgrad') {
      // ConvTranspose output = (oh − 1)·s − 2p + k + output_padding must give back h
      const op = c.h - ((oh - 1) * c.stride - 2 * p + c.k);
      return {
        graph: {
          nodes: [
            {
              op: 'ConvTranspose',
              inputs: ['dy', 'w'],
              outputs: ['dx'],
              attrs: { kernel_shape: [c.k, c.k], strides: [c.stride, c.stride], pads: [p, p, p, p], group: c.groups, output_padding: [op, op] },
            },
          ],
          inputs: [{ name: 'dy', dims: yd }],
          initializers: [{ name: 'w', dims: wd, data: d.w }],
          outputs: [{ name: 'dx', dims: xd }],
        },
        feeds: { dy: d.dy },
        note: 'input gradient as ConvTranspose(dy, w) (no autodiff)',
      };
    }
    if (c.groups !== 1) {
      return { skip: 'no weight-gradient op in ONNX; the dilated-conv formulation cannot be grouped (it would compute every C×O pair)' };
    }
    // dW[o,i,a,b] = Σ_n,y,x dy[n,o,y,x]·x[n,i,y·s+a−p,x·s+b−p]: a conv of x (C as batch, N as channels) with dy
    // (O as filters, N as channels), dilation s; its output is C×O×kh'×kw' with kh' ≥ k, cropped to k.
    const kh = c.h + 2 * p - c.stride * (oh - 1);
    const kw = c.w + 2 * p - c.stride * (ow - 1);
    const crop = kh !== c.k || kw !== c.k;
    return {
      graph: {
        nodes: [
          { op: 'Transpose', inputs: ['x'], outputs: ['xt'], attrs: { perm: [1, 0, 2, 3] } },
          { op: 'Transpose', inputs: ['dy'], outputs: ['dyt'], attrs: { perm: [1, 0, 2, 3] } },
          { op: 'Conv', inputs: ['xt', 'dyt'], outputs: ['g'], attrs: { kernel_shape: [oh, ow], dilations: [c.stride, c.stride], pads: [p, p, p, p] } },
          ...(crop ? [{ op: 'Slice', inputs: ['g', 'starts', 'ends', 'axes'], outputs: ['gc'] }] : []),
          { op: 'Transpose', inputs: [crop ? 'gc' : 'g'], outputs: ['dw'], attrs: { perm: [1, 0, 2, 3] } },
        ],
        inputs: [
          { name: 'x', dims: xd },
          { name: 'dy', dims: yd },
        ],
        initializers: crop
          ? [
              { name: 'starts', dims: [2], data: { int64: [0, 0] } },
              { name: 'ends', dims: [2], data: { int64: [c.k, c.k] } },
              { name: 'axes', dims: [2], data: { int64: [2, 3] } },
            ]
          : [],
        outputs: [{ name: 'dw', dims: wd }],
      },
      feeds: { x: d.x, dy: d.dy },
      note: 'weight gradient as Transpose + Conv(dilation = stride) + Transpose (no autodiff, no weight-gradient op)',
    };
  }

  return {
    name: 'ort',
    version,
    setup: [
      "import 'onnxruntime-web/webgpu'; env.wasm.numThreads = 1; env.webgpu.device = shared device; EP {name: 'webgpu', device, preferredLayout: 'NHWC'}",
      'model bytes written in memory per case (bench/peers/onnx-encode.ts); inputs/outputs are GPU buffers (Tensor.fromGpuBuffer)',
      'SharedArrayBuffer views copied before queue.writeBuffer / setBindGroup (Dawn rejects them); V8 --liftoff-only',
      'dgrad = ConvTranspose, wgrad = Transpose + dilated Conv + Transpose (no autodiff); sync = await run() + onSubmittedWorkDone()',
    ],
    async prepare(c: Case, d: CaseData) {
      if (c.kind === 'conv') {
        const g = convGraph(c, d.conv!);
        return 'skip' in g ? g : prepared(g.graph, g.feeds, g.note);
      }
      if (c.kind === 'matmul') {
        return prepared(
          {
            nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
            inputs: [
              { name: 'a', dims: [c.m, c.k] },
              { name: 'b', dims: [c.k, c.n] },
            ],
            outputs: [{ name: 'y', dims: [c.m, c.n] }],
          },
          { a: d.matmul!.a, b: d.matmul!.b },
        );
      }
      if (c.kind === 'block') return { skip: 'onnxruntime-web has no autodiff (inference only): no forward+backward' };
      return { skip: 'no autodiff for training steps, and no ONNX export of the GELAN models here' };
    },
    async dispose() {
      await sync();
    },
  };
}
