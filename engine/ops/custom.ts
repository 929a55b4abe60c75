// The entry point for kernels brought by code above the engine (the detection assigner, the multi-tensor
// optimisers): tensors bound by the kernel's declared binding names, each checked before anything is recorded.
import type { KernelSource, ParamValues } from '../../kernels/common';
import { OpError, fmtShape } from '../errors';
import { type Backward, record } from '../tape';
import type { Tensor } from '../tensor';

/** How much work: a count of invocations along x (a 1-D kernel), or explicit workgroup counts. */
export type KernelWork = { readonly invocations: number } | { readonly workgroups: readonly [number, number, number] };

/**
 * Record one dispatch of `kernel` with `tensors` named by its bindings. Every tensor must be alive, dense from
 * its first element (custom kernels index storage from 0) and of the declared element type.
 */
export function runKernel(kernel: KernelSource, tensors: Readonly<Record<string, Tensor>>, params: ParamValues, work: KernelWork): void {
  const bufs: Record<string, Tensor['storage']['buf']> = {};
  let dev: Tensor['device'] | null = null;
  for (const b of kernel.bindings) {
    const t = tensors[b.name];
    if (t === undefined) throw new OpError(kernel.name, `no tensor for binding '${b.name}' (declared: ${kernel.bindings.map((d) => d.name).join(', ')})`);
    t.assertAlive(kernel.name, `binding '${b.name}'`);
    if (!(t.isContiguous && t.offset === 0)) throw new OpError(kernel.name, `binding '${b.name}' needs a dense tensor from element 0, got a view of shape ${fmtShape(t.shape)}`);
    if ((b.type === 'f32' || b.type === 'f16') && t.dtype !== b.type) throw new OpError(kernel.name, `binding '${b.name}' is ${b.type}, got a ${t.dtype} tensor of shape ${fmtShape(t.shape)}`);
    if (dev && t.device !== dev) throw new OpError(kernel.name, `binding '${b.name}' is on another device`);
    dev = t.device;
    bufs[b.name] = t.storage.buf;
  }
  if (!dev) throw new OpError(kernel.name, 'a custom kernel needs at least one tensor binding');
  const grid = 'invocations' in work ? dev.grid1d(work.invocations, kernel.workgroupSize[0]) : work.workgroups;
  dev.dispatch(kernel, bufs, params, grid);
}

/**
 * Make `out`, computed from `inputs` by custom kernels, differentiable: `backward(gy, saved)` returns one gradient
 * (or null) per input. `saved` are kept (as views) until the backward has run. Returns `out`.
 */
export function withBackward(out: Tensor, op: string, inputs: readonly Tensor[], saved: readonly Tensor[], backward: (gy: Tensor, saved: readonly Tensor[]) => readonly (Tensor | null)[]): Tensor {
  const bw: Backward = (gy, s) => backward(gy, s);
  return record(out, op, inputs, saved, bw);
}
