// Recording of the multi-tensor optimiser kernels (kernels/optim.wgsl.ts): tensors are grouped into dispatches
// of as many slots as the device's storage-buffer limit allows, so an optimiser step or an EMA update costs a
// few dozen dispatches instead of one or more per tensor.
import { type MultiKind, OPT_WG, elementsPerWorkgroup, multiSlots, multiTensorKernel } from '../../kernels/optim.wgsl';
import type { Device } from '../../engine/device';
import { runKernel } from '../../engine/ops';
import type { Tensor } from '../../engine/tensor';

export interface MultiSlot {
  /** The slot's own tensors by their per-slot binding name (e.g. { w, g }); slot k binds them as w{k}, g{k}. */
  readonly tensors: Readonly<Record<string, Tensor>>;
  /** Elements. */
  readonly n: number;
  /** Offset into the state arenas (sgd, adamw). */
  readonly offset?: number;
}

/** Slots per dispatch of `kind` on this device. */
export const slotsFor = (dev: Device, kind: MultiKind): number => multiSlots(kind, dev.limits.maxStorageBuffersPerShaderStage);

/** Workgroups `kind` uses for a tensor of n elements. */
export const workgroupsFor = (kind: MultiKind, n: number): number => Math.ceil(n / elementsPerWorkgroup(kind));

/**
 * Split `items` into runs of consecutive items with the same `key`, each cut into pieces of at most `size`
 * (one dispatch each).
 */
export function batches<T>(items: readonly T[], size: number, key: (t: T) => unknown = () => 0): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  for (const t of items) {
    if (cur.length > 0 && (cur.length === size || key(cur[0]) !== key(t))) {
      out.push(cur);
      cur = [];
    }
    cur.push(t);
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

/** Record one dispatch of `kind` over `slots` (at most slotsFor(kind)); returns the workgroups it used. */
export function dispatchMulti(
  kind: MultiKind,
  slots: readonly MultiSlot[],
  shared: Readonly<Record<string, Tensor>>,
  params: Readonly<Record<string, number>>,
  opts: { nesterov?: boolean } = {},
): number {
  const src = multiTensorKernel({ kind, slots: slots.length, ...opts });
  const values: Record<string, number> = { ...params };
  let total = 0;
  slots.forEach((s, k) => {
    if (k > 0) values[`s${k}`] = total;
    values[`n${k}`] = s.n;
    if (s.offset !== undefined) values[`o${k}`] = s.offset;
    total += workgroupsFor(kind, s.n);
  });
  values.total = total;
  const named: Record<string, Tensor> = { ...shared };
  slots.forEach((s, k) => {
    for (const [name, t] of Object.entries(s.tensors)) named[`${name}${k}`] = t;
  });
  runKernel(src, named, values, { invocations: total * OPT_WG });
  return total;
}

/** Throws unless `t` is a dense float32 tensor starting at element 0 of its buffer (what the kernels index). */
export function assertFlat(what: string, t: Tensor): void {
  if (!(t.dtype === 'f32' && t.isContiguous && t.offset === 0)) throw new Error(`${what} is not a dense float32 tensor at offset 0 (${t.toString()})`);
}
