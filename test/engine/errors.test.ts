// Bad input gives an error that names the op and the shapes — never a hang, a silent NaN or a GPU validation
// error later.
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Device } from '../../engine/device';
import { empty, tensor, tidy } from '../../engine/tensor';
import * as ops from '../../engine/ops';
import { testDevice } from '../helpers';

let dev: Device;
beforeAll(async () => {
  dev = await testDevice();
});
afterAll(() => dev?.dispose());

const t = (shape: number[]) => tensor(dev, new Array(shape.reduce((a, b) => a * b, 1)).fill(0.5), shape);

test.each([
  ['add: shapes that do not broadcast', () => ops.add(t([2, 3]), t([4])), /^add: shapes \[2, 3\] and \[4\] cannot be broadcast/],
  ['where: three shapes', () => ops.where(t([2]), t([3]), t([2])), /^where: shapes \[2\] and \[3\] and \[2\]/],
  ['matmul: inner dims', () => ops.matmul(t([2, 3]), t([4, 5])), /^matmul: inner dimensions differ: \[2, 3\] · \[4, 5\]/],
  ['matmul: rank', () => ops.matmul(t([3]), t([3, 2])), /^matmul: inputs must have rank >= 2, got \[3\]/],
  ['conv2d: input rank', () => ops.conv2d(t([3, 8, 8]), t([4, 3, 3, 3])), /^conv2d: input must be 4-D NCHW, got input \[3, 8, 8\], weight \[4, 3, 3, 3\]/],
  ['conv2d: channels', () => ops.conv2d(t([1, 5, 8, 8]), t([4, 3, 3, 3])), /^conv2d: weight expects 3 input channels .*input \[1, 5, 8, 8\]/],
  ['conv2d: groups', () => ops.conv2d(t([1, 6, 8, 8]), t([4, 2, 3, 3]), null, { groups: 4 }), /^conv2d: groups=4 must divide input channels 6/],
  ['conv2d: bias', () => ops.conv2d(t([1, 3, 8, 8]), t([4, 3, 3, 3]), t([5])), /^conv2d: bias must have shape \[4\]/],
  ['conv2d: kernel larger than input', () => ops.conv2d(t([1, 3, 2, 2]), t([4, 3, 5, 5])), /^conv2d: kernel 5x5/],
  ['batchNorm2d: parameter shape', () => ops.batchNorm2d(t([2, 3, 4, 4]), t([4]), null, null, null, { training: true }), /^batchNorm2d: .*shape \[3\] for input \[2, 3, 4, 4\], got \[4\]/],
  ['batchNorm2d: residual shape', () => ops.batchNorm2d(t([2, 3, 4, 4]), null, null, null, null, { training: true, activation: 'silu', residual: t([2, 3, 4, 5]) }), /^batchNorm2d: residual must match the input: \[2, 3, 4, 5\] f32 vs \[2, 3, 4, 4\] f32/],
  ['batchNorm2d: eval without stats', () => ops.batchNorm2d(t([2, 3, 4, 4]), null, null, null, null, { training: false }), /^batchNorm2d: eval mode needs running statistics/],
  ['maxPool2d: rank', () => ops.maxPool2d(t([3, 4]), { kernel: 2 }), /^maxPool2d: input must be 4-D NCHW, got \[3, 4\]/],
  ['avgPool2d: padding', () => ops.avgPool2d(t([1, 1, 4, 4]), { kernel: 2, padding: 2 }), /^avgPool2d: padding 2,2/],
  ['upsampleNearest: rank', () => ops.upsampleNearest(t([4, 4]), { scale: 2 }), /^upsampleNearest: input must be 4-D/],
  ['reshape: element count', () => ops.reshape(t([2, 3]), [4, 2]), /^reshape: cannot reshape \[2, 3\] \(6 elements\) to \[4, 2\]/],
  ['permute: not a permutation', () => ops.permute(t([2, 3]), [0, 0]), /^permute: dims \[0,0\] are not a permutation/],
  ['concat: mismatched shapes', () => ops.concat([t([1, 2, 3]), t([1, 2, 4])], 1), /^concat: shapes \[1, 2, 3\], \[1, 2, 4\] differ outside axis 1/],
  ['split: sizes', () => ops.split(t([2, 5]), [2, 2], 1), /^split: sizes \[2,2\] sum to 4, not 5/],
  ['slice: range', () => ops.slice(t([2, 5]), 1, 3, 7), /^slice: range \[3, 7\) is out of bounds for axis 1 of \[2, 5\]/],
  ['sum: axis', () => ops.sum(t([2, 5]), 2), /^sum: axis 2 out of range for rank 2/],
  ['softmax: axis', () => ops.softmax(t([2, 5]), -3), /^softmax: axis -3 out of range/],
  ['clamp: bounds', () => ops.clamp(t([2]), 1, 0), /^clamp: min 1 is greater than max 0/],
  ['tensor: data size', () => tensor(dev, [1, 2, 3], [2, 2]), /^tensor: 3 values do not fill shape \[2, 2\]/],
  ['empty: invalid shape', () => empty(dev, [2, -1]), /^empty: invalid shape \[2, -1\]/],
])('%s', (_name, fn, message) => {
  const before = dev.memory().liveTensors;
  tidy(dev, () => {
    expect(fn).toThrow(message);
  });
  expect(dev.memory().liveTensors).toBe(before);
});

test('use after dispose names the op and the shape', () => {
  const x = t([2, 3]);
  x.dispose();
  expect(() => ops.exp(x)).toThrow(/^exp: input 0 of shape \[2, 3\] was used after dispose\(\)/);
  expect(() => ops.conv2d(x, x)).toThrow(/^conv2d: input of shape \[2, 3\] was used after dispose/);
  return expect(x.data()).rejects.toThrow(/^data: input of shape \[2, 3\] was used after dispose/);
});

test('a tensor larger than the device binding limit fails clearly instead of corrupting memory', () => {
  const limit = dev.limits.maxStorageBufferBindingSize;
  const side = Math.ceil(Math.sqrt(limit / 4)) + 1; // side² floats > limit
  tidy(dev, () => {
    const a = t([side, 1]);
    const b = t([1, side]);
    expect(() => ops.matmul(a, b)).toThrow(new RegExp(`^matmul: a f32 tensor of shape \\[${side}, ${side}\\] needs \\d+ bytes, more than this device's maxStorageBufferBindingSize`));
    expect(() => ops.full(dev, [side, side], 0)).toThrow(/^full: a f32 tensor of shape/);
  });
});

test('f16 tensors are rejected by f32-only ops with a hint to cast', () => {
  if (!dev.features.f16) return; // covered by the device test that declines shader-f16
  tidy(dev, () => {
    const h = tensor(dev, [1, 2], [2], { dtype: 'f16' });
    // (elementwise, conv, batch norm, pool, upsample, layout ops and sum take f16; softmax-like reductions and matmul do not)
    expect(() => ops.logsumexp(h, 0)).toThrow(/^logsumexp: expects float32 tensors, got f16 of shape \[2\]; cast\(\) it first/);
  });
});
