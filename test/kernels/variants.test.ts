// Every kernel variant compiles on this adapter and fits the tightest limits we target (headless Chromium's
// SwiftShader: 256 invocations per workgroup, 10 storage buffers per stage, 16 KiB of workgroup memory).
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { KernelSource } from '../../kernels/common';
import { elementwiseKernel } from '../../kernels/elementwise.wgsl';
import { reduceKernel, scatterArgKernel, type ReduceOp } from '../../kernels/reduce.wgsl';
import { matmulKernel } from '../../kernels/matmul.wgsl';
import { convWindowKernel } from '../../kernels/conv2d/fwd-window.wgsl';
import { flipWeightKernel } from '../../kernels/conv2d/flip.wgsl';
import { concatKernel } from '../../kernels/concat.wgsl';
import { convDgradKernel } from '../../kernels/conv2d/dgrad.wgsl';
import { convWgradKernel } from '../../kernels/conv2d/wgrad.wgsl';
import { bnApplyKernel, bnBwdApplyKernel, bnBwdReduceKernel, bnStatsKernel } from '../../kernels/batchnorm.wgsl';
import { avgPoolBwdKernel, avgPoolFwdKernel, maxPoolBwdKernel, maxPoolFwdKernel } from '../../kernels/pool.wgsl';
import { upsampleBwdKernel, upsampleFwdKernel } from '../../kernels/upsample.wgsl';
import { BINARY, UNARY } from '../../engine/ops/elementwise';
import type { Device } from '../../engine/device';
import { testDevice } from '../helpers';

function allVariants(): KernelSource[] {
  const out: KernelSource[] = [];
  for (const contiguous of [true, false]) {
    for (const [op, row] of Object.entries(UNARY)) {
      out.push(elementwiseKernel({ op, expr: row.fwd, inputs: ['f32'], out: 'f32', contiguous }));
      out.push(elementwiseKernel({ op: `${op}.grad`, expr: row.grad, inputs: ['f32', 'f32'], out: 'f32', contiguous }));
    }
    for (const [op, row] of Object.entries(BINARY)) {
      out.push(elementwiseKernel({ op, expr: row.fwd, inputs: ['f32', 'f32'], out: 'f32', contiguous }));
      for (const g of row.grads ?? []) out.push(elementwiseKernel({ op: `${op}.grad`, expr: g, inputs: ['f32', 'f32', 'f32'], out: 'f32', contiguous }));
    }
  }
  const ops: ReduceOp[] = ['sum', 'max', 'argmax', 'logsumexp', 'softmax', 'logsoftmax'];
  for (const op of ops) for (const mode of ['thread', 'group'] as const) out.push(reduceKernel({ op, mode }));
  out.push(scatterArgKernel(), matmulKernel());
  for (const to of [1, 4] as const) out.push(convDgradKernel({ tc: to }));
  // the weight-gradient kernel over the same geometries, with and without shared x loads (SG 4: SwiftShader)
  for (const [K, S, D] of [[1, 1, 1], [3, 1, 1], [3, 2, 1], [5, 1, 1], [3, 1, 2]] as const) {
    for (const SG of dev.features.subgroups ? [1, 4, 8] : [1]) {
      out.push(convWgradKernel({ KW: K, SW: S, DW: D, PW: (D * (K - 1)) / 2, R: K === 5 ? 1 : K, TO: SG === 1 ? 4 : 1, TC: 4, B: 8, SG, WG: 64 }));
    }
  }
  // the window forward kernel over the geometries GELAN uses (plus 5×5 and dilation), with and without subgroups
  for (const [K, S, D] of [[1, 1, 1], [3, 1, 1], [3, 2, 1], [5, 1, 1], [3, 1, 2]] as const) {
    for (const to of [1, 4, 8] as const) {
      for (const subgroups of to > 1 && dev.features.subgroups ? [false, true] : [false]) {
        for (const act of ['none', 'silu'] as const) out.push(convWindowKernel({ KH: K, KW: K, SH: S, SW: S, DH: D, DW: D, to, subgroups, bias: act === 'silu', act }));
      }
    }
  }
  out.push(flipWeightKernel());
  for (let k = 1; k <= 8; k++) out.push(concatKernel({ inputs: k }));
  out.push(bnStatsKernel({ update: true }), bnStatsKernel({ update: false }));
  for (const act of ['none', 'silu'] as const) {
    out.push(bnApplyKernel({ act }), bnBwdReduceKernel({ act }), bnBwdApplyKernel({ training: true, act }), bnBwdApplyKernel({ training: false, act }));
  }
  out.push(maxPoolFwdKernel(), maxPoolBwdKernel(), avgPoolFwdKernel(), avgPoolBwdKernel(), upsampleFwdKernel(), upsampleBwdKernel());
  if (dev.features.f16) out.push(...f16Variants());
  return out;
}

/** The f16 inference path (shader-f16 only): forward kernels with f16 storage, f32 or f16 accumulation in the conv. */
function f16Variants(): KernelSource[] {
  const out: KernelSource[] = [];
  for (const contiguous of [true, false]) {
    for (const [op, row] of Object.entries(UNARY)) out.push(elementwiseKernel({ op, expr: row.fwd, inputs: ['f16'], out: 'f16', contiguous }));
    for (const [op, row] of Object.entries(BINARY)) out.push(elementwiseKernel({ op, expr: row.fwd, inputs: ['f16', 'f16'], out: 'f16', contiguous }));
    out.push(elementwiseKernel({ op: 'cast', expr: 'a0', inputs: ['f32'], out: 'f16', contiguous }), elementwiseKernel({ op: 'cast', expr: 'a0', inputs: ['f16'], out: 'f32', contiguous }));
  }
  for (const [K, S, D] of [[1, 1, 1], [3, 1, 1], [3, 2, 1], [5, 1, 1], [3, 1, 2]] as const) {
    for (const to of [1, 4, 8] as const) {
      for (const subgroups of to > 1 && dev.features.subgroups ? [false, true] : [false]) {
        for (const acc of ['f32', 'f16'] as const) {
          for (const act of ['none', 'silu'] as const) out.push(convWindowKernel({ KH: K, KW: K, SH: S, SW: S, DH: D, DW: D, to, subgroups, bias: act === 'silu', act, dtype: 'f16', acc }));
        }
      }
    }
  }
  for (let k = 1; k <= 8; k++) out.push(concatKernel({ inputs: k, dtype: 'f16' }));
  out.push(maxPoolFwdKernel('f16'), avgPoolFwdKernel('f16'), upsampleFwdKernel('f16'));
  return out;
}

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

test('every variant fits SwiftShader limits', () => {
  for (const k of allVariants()) {
    const [x, y, z] = k.workgroupSize;
    expect(x * y * z, k.key).toBeLessThanOrEqual(256);
    expect(k.bindings.length, k.key).toBeLessThanOrEqual(10);
    const shared = [...k.code().matchAll(/var<workgroup>\s+\w+:\s*array<\w+,\s*(\d+)>/g)].reduce((s, m) => s + 4 * Number(m[1]), 0);
    expect(shared, k.key).toBeLessThanOrEqual(16384);
  }
});

test('every variant compiles', async () => {
  const variants = allVariants();
  for (const k of variants) {
    dev.gpu.pushErrorScope('validation');
    const module = dev.gpu.createShaderModule({ code: k.code() });
    const info = await module.getCompilationInfo();
    const errors = info.messages.filter((m) => m.type === 'error').map((m) => `${m.lineNum}:${m.linePos} ${m.message}`);
    expect(errors, k.key).toEqual([]);
    dev.kernel(k);
    expect(await dev.gpu.popErrorScope(), k.key).toBeNull();
  }
  console.log(`${variants.length} kernel variants compiled`);
});
