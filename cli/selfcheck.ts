// `gelan selfcheck`: prints the adapter and what the engine obtained from it, then runs a small conv block
// forward and backward on the GPU and checks the result against a float64 CPU computation.
import { createDevice } from '../engine/create-device';
import { describeSubgroupMatrix } from '../engine/device';
import { conv2d, batchNorm2d, silu, sum, mul } from '../engine/ops';
import { tensor, tidy } from '../engine/tensor';

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
}

/** Float64 reference of Σ conv2d(x, w, pad 1)·r and its gradient with respect to w. */
function reference(x: number[], w: number[], r: number[], C: number, O: number, H: number): { loss: number; gw: number[] } {
  let loss = 0;
  const gw = new Array<number>(w.length).fill(0);
  for (let o = 0; o < O; o++)
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < H; xx++) {
        let acc = 0;
        const rv = r[(o * H + y) * H + xx];
        for (let c = 0; c < C; c++)
          for (let ky = 0; ky < 3; ky++)
            for (let kx = 0; kx < 3; kx++) {
              const iy = y + ky - 1;
              const ix = xx + kx - 1;
              if (iy < 0 || iy >= H || ix < 0 || ix >= H) continue;
              const xv = x[(c * H + iy) * H + ix];
              const wi = ((o * C + c) * 3 + ky) * 3 + kx;
              acc += w[wi] * xv;
              gw[wi] += rv * xv;
            }
        loss += acc * rv;
      }
  return { loss, gw };
}

export async function selfcheck(log: (s: string) => void = console.log): Promise<boolean> {
  const t0 = performance.now();
  const dev = await createDevice();
  const a = dev.adapter;
  log(`adapter: ${[a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(' / ') || '(no description)'}`);
  log(`features: shader-f16 ${dev.features.f16 ? 'yes' : 'no'}, subgroups ${dev.features.subgroups ? 'yes' : 'no'}, timestamp-query ${dev.features.timestampQuery ? 'yes' : 'no'}`);
  log(`subgroup matrices: ${describeSubgroupMatrix(dev)}`);
  const L = dev.limits;
  log(`limits: maxStorageBufferBindingSize ${L.maxStorageBufferBindingSize}, maxComputeInvocationsPerWorkgroup ${L.maxComputeInvocationsPerWorkgroup}, maxStorageBuffersPerShaderStage ${L.maxStorageBuffersPerShaderStage}`);
  const C = 16;
  const O = 32;
  const H = 40;
  const rnd = lcg(7);
  const xs = Array.from({ length: C * H * H }, rnd);
  const ws = Array.from({ length: O * C * 9 }, () => rnd() * 0.1);
  const rs = Array.from({ length: O * H * H }, rnd);
  const w = tensor(dev, ws, [O, C, 3, 3], { requiresGrad: true });
  const t1 = performance.now();
  let lossP: Promise<number> = Promise.resolve(NaN);
  let blockP: Promise<number> = Promise.resolve(NaN);
  tidy(dev, () => {
    const x = tensor(dev, xs, [1, C, H, H]);
    const r = tensor(dev, rs, [1, O, H, H]);
    const l = sum(mul(conv2d(x, w, null, { padding: 1 }), r));
    l.backward();
    lossP = l.item();
    // The rest of a Conv block (BatchNorm in training mode + SiLU), forward only, as a smoke test.
    blockP = sum(silu(batchNorm2d(conv2d(x, w, null, { padding: 1 }), null, null, null, null, { training: true, eps: 1e-3 }))).item();
  });
  const lossV = await lossP;
  const gwV = await w.grad!.data();
  const blockV = await blockP;
  const ms = performance.now() - t1;
  const ref = reference(xs, ws, rs, C, O, H);
  let err = 0;
  for (let i = 0; i < gwV.length; i++) err = Math.max(err, Math.abs(gwV[i] - ref.gw[i]) / (1 + Math.abs(ref.gw[i])));
  const lossErr = Math.abs(lossV - ref.loss) / (1 + Math.abs(ref.loss));
  // float32 sums of ~1600 products of O(1) values: a relative error above 1e-4 means a wrong kernel.
  const ok = err < 1e-4 && lossErr < 1e-4 && Number.isFinite(blockV);
  log(`conv2d 3x3 (1,${C},${H},${H})->${O} forward+backward: loss ${lossV.toFixed(4)} (float64 ${ref.loss.toFixed(4)}), weight-grad max rel err ${err.toExponential(2)}, ${ms.toFixed(0)} ms`);
  const m = dev.memory();
  w.dispose();
  log(`memory: ${m.liveTensors} live tensors, ${m.liveBytes} live bytes, ${m.pooledBytes} pooled bytes, ${m.pipelines} pipelines`);
  log(`self-check ${ok ? 'passed' : 'FAILED'} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  dev.dispose();
  return ok;
}
