// Tensors made on the GPU without an upload.
import type { Device } from '../device';
import type { Shape } from '../shape';
import { type DType, type Tensor, empty } from '../tensor';
import { pointwise } from './run';

export function full(device: Device, shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
  const out = empty(device, shape, dtype, 'full');
  return pointwise({ op: 'full', expr: 'p.s0', inputs: [], shape, s0: value, into: out });
}

export const zeros = (device: Device, shape: Shape, dtype: DType = 'f32'): Tensor => full(device, shape, 0, dtype);
export const ones = (device: Device, shape: Shape, dtype: DType = 'f32'): Tensor => full(device, shape, 1, dtype);
export const zerosLike = (t: Tensor): Tensor => zeros(t.device, t.shape, t.dtype);
export const onesLike = (t: Tensor): Tensor => ones(t.device, t.shape, t.dtype);
