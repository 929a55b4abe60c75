/// <reference types="vite/client" />
// Every kernel variant compiles on this adapter and fits the tightest limits we target (headless Chromium's
// SwiftShader: 256 invocations per workgroup, 10 storage buffers per stage, 16 KiB of workgroup memory).
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { KernelCaps, KernelSource, VariantList } from '../../kernels/common';
import { elementwiseKernel } from '../../kernels/elementwise.wgsl';
import { BINARY, UNARY } from '../../engine/ops/elementwise';
import type { Device } from '../../engine/device';
import { testDevice } from '../helpers';

// every kernel module, found on disk: a new module without a `variants` list fails the first test
const MODULES = import.meta.glob<{ variants?: VariantList }>('../../kernels/**/*.wgsl.ts', { eager: true });

const deviceCaps = (): KernelCaps => ({
  subgroups: dev.features.subgroups,
  f16: dev.features.f16,
  subgroupMatrix: dev.subgroupMatrix,
  maxStorageBuffers: dev.limits.maxStorageBuffersPerShaderStage,
});

function allVariants(caps: KernelCaps = deviceCaps()): KernelSource[] {
  const out = Object.values(MODULES).flatMap((m) => m.variants!(caps));
  // the elementwise ops' own expressions (the module lists one per arity)
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
  return out;
}

test('every kernel module declares its variants', () => {
  const names = Object.keys(MODULES);
  expect(names.length).toBeGreaterThanOrEqual(14);
  for (const [name, m] of Object.entries(MODULES)) expect(typeof m.variants, name).toBe('function');
  console.log(`${names.length} kernel modules: ${names.map((n) => n.replace('../../kernels/', '')).join(', ')}`);
});

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

test('every variant fits SwiftShader limits', () => {
  // variants sized by the storage-buffer limit (the multi-tensor optimisers) as built for SwiftShader's 10
  for (const k of allVariants({ ...deviceCaps(), maxStorageBuffers: 10 })) {
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
