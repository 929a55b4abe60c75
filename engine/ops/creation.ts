// Tensors made on the GPU without an upload.
import type { Device } from '../device';
import type { Shape } from '../shape';
import { type DType, type Tensor, empty } from '../tensor';
import { pointwise } from './run';

/** A new tensor of `shape` filled with `value`. */
export function full(device: Device, shape: Shape, value: number, dtype: DType = 'f32'): Tensor {
  const out = empty(device, shape, dtype, 'full');
  return pointwise({ op: 'full', expr: 'p.s0', inputs: [], shape, s0: value, into: out });
}

/** A new tensor of `shape` filled with 0. */
export const zeros = (device: Device, shape: Shape, dtype: DType = 'f32'): Tensor => full(device, shape, 0, dtype);
/** A new tensor of `shape` filled with 1. */
export const ones = (device: Device, shape: Shape, dtype: DType = 'f32'): Tensor => full(device, shape, 1, dtype);
/** Zeros with the device, shape and dtype of `t`. */
export const zerosLike = (t: Tensor): Tensor => zeros(t.device, t.shape, t.dtype);
/** Ones with the device, shape and dtype of `t`. */
export const onesLike = (t: Tensor): Tensor => ones(t.device, t.shape, t.dtype);
