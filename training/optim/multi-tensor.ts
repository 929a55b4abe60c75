// Arenas for the optimiser and EMA kernels (kernels/optim.wgsl.ts): every parameter, gradient or state tensor of a
// model gets a segment of one dense buffer per role, tensors are moved in and out by buffer copies (a few µs each)
// and a whole model's update is one dispatch per run of segments with the same settings, instead of one or more
// dispatches per tensor.
import { type MultiKind, OPT_MAX_SLOTS, OPT_WG, elementsPerWorkgroup, multiTensorKernel } from '../../kernels/optim.wgsl';
import type { Device } from '../../engine/device';
import { runKernel } from '../../engine/ops';
import type { Tensor } from '../../engine/tensor';

/** Where a tensor lives: elements [offset, offset + size) of arena `arena`. */
export interface Segment {
  readonly arena: number;
  readonly offset: number;
  readonly size: number;
  readonly shape: readonly number[];
}

/** The segments of a set of tensors and the element count of each arena. */
export interface ArenaLayout {
  readonly sizes: readonly number[];
  readonly segments: ReadonlyMap<string, Segment>;
}

/** A run of consecutive elements of one arena that one slot of a dispatch covers. */
export interface Run {
  readonly arena: number;
  readonly offset: number;
  readonly n: number;
}

/** Greedy packing of `items` in order; an arena never exceeds what one binding may cover. */
export function packArenas(dev: Device, items: Iterable<readonly [string, { readonly size: number; readonly shape: readonly number[] }]>): ArenaLayout {
  const cap = Math.floor(Math.min(dev.limits.maxStorageBufferBindingSize, dev.limits.maxBufferSize) / 4);
  const segments = new Map<string, Segment>();
  const sizes: number[] = [];
  for (const [key, t] of items) {
    if (t.size > cap) throw new Error(`arena layout: ${key} has ${t.size} elements, more than one storage binding of this device holds (${cap})`);
    if (sizes.length === 0 || sizes[sizes.length - 1] + t.size > cap) sizes.push(0);
    segments.set(key, { arena: sizes.length - 1, offset: sizes[sizes.length - 1], size: t.size, shape: t.shape });
    sizes[sizes.length - 1] += t.size;
  }
  return { sizes, segments };
}

/** Whether `layout` places exactly these tensors, each with its size. */
export function layoutFits(layout: ArenaLayout | null, items: ReadonlyMap<string, { readonly size: number }>): boolean {
  if (!layout || layout.segments.size !== items.size) return false;
  for (const [k, t] of items) if (layout.segments.get(k)?.size !== t.size) return false;
  return true;
}

/**
 * The runs covering `keys` (each a segment of `layout`, in layout order): adjacent segments of one arena with the
 * same `tag` merge. A segment left out (a parameter without a gradient) breaks a run.
 */
export function runsOf(layout: ArenaLayout, keys: readonly string[], tag: (k: string) => string = () => ''): (Run & { readonly tag: string })[] {
  const out: (Run & { tag: string })[] = [];
  for (const k of keys) {
    const s = layout.segments.get(k)!;
    const last = out[out.length - 1];
    if (last && last.arena === s.arena && last.tag === tag(k) && last.offset + last.n === s.offset) out[out.length - 1] = { ...last, n: last.n + s.size };
    else out.push({ arena: s.arena, offset: s.offset, n: s.size, tag: tag(k) });
  }
  return out;
}

/** Copy dense float32 `t` into its segment of `arena` (a buffer copy, not a dispatch). */
export function gather(arena: Tensor, at: Segment, t: Tensor): void {
  t.device.copy(t.storage.buf, t.offset * 4, arena.storage.buf.buffer, (arena.offset + at.offset) * 4, at.size * 4);
}

/** Copy the segment `at` of `arena` back into dense float32 `t`. */
export function scatter(arena: Tensor, at: Segment, t: Tensor): void {
  t.device.copy(arena.storage.buf, (arena.offset + at.offset) * 4, t.storage.buf.buffer, t.offset * 4, at.size * 4);
}

/** Workgroups `kind` uses for n elements. */
export const workgroupsFor = (kind: MultiKind, n: number): number => Math.ceil(n / elementsPerWorkgroup(kind));

/**
 * Record the dispatches of `kind` over `runs` of one arena set (OPT_MAX_SLOTS runs each); returns the workgroups
 * used (sumsq writes OPT_WG partials per workgroup).
 */
export function dispatchRuns(
  kind: MultiKind,
  runs: readonly Run[],
  arenas: Readonly<Record<string, Tensor>>,
  params: Readonly<Record<string, number>>,
  opts: { nesterov?: boolean } = {},
): number {
  let used = 0;
  for (let b = 0; b < runs.length; b += OPT_MAX_SLOTS) {
    const slots = runs.slice(b, b + OPT_MAX_SLOTS);
    const values: Record<string, number> = { ...params };
    if (kind === 'sumsq') values.base = (params.base ?? 0) + used;
    let total = 0;
    slots.forEach((s, k) => {
      if (k > 0) values[`s${k}`] = total;
      values[`n${k}`] = s.n;
      values[`o${k}`] = s.offset;
      total += workgroupsFor(kind, s.n);
    });
    values.total = total;
    runKernel(multiTensorKernel({ kind, slots: slots.length, ...opts }), arenas, values, { invocations: total * OPT_WG });
    used += total;
  }
  return used;
}

/** Throws unless `t` is a dense float32 tensor (what the arena copies move). */
export function assertFlat(what: string, t: Tensor): void {
  if (!(t.dtype === 'f32' && t.isContiguous)) throw new Error(`${what} is not a dense float32 tensor (${t.toString()})`);
}
