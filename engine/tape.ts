// The tape: each differentiable op attaches a GradNode to its output — the inputs that need a gradient, the
// tensors it saved, and a closure mapping the output gradient to input gradients (built from other ops, so
// gradients of gradients stay possible and every backward is itself a GPU kernel). Depends on no op: the walk
// that runs the closures is engine/autograd.ts.
import { OpError } from './errors';
import { type Tensor, view } from './tensor';

/**
 * Input gradients from the output gradient. A node whose op declared `sums` > 1 may get the output gradient in
 * parts (`more`: the contributions of further uses of the output), which it sums itself instead of the walk
 * adding them first.
 */
export type Backward = (gy: Tensor, saved: readonly Tensor[], more: readonly Tensor[]) => readonly (Tensor | null)[];

export interface GradNode {
  readonly op: string;
  /** Inputs in op order; null where the input needs no gradient. */
  readonly inputs: readonly (Tensor | null)[];
  /**
   * Views of the tensors the backward reads, taken when the op ran: they keep the data alive even if the op
   * (or the user) disposes the originals. They belong to the scope the op ran in and are released after
   * backward() used them.
   */
  readonly saved: readonly Tensor[];
  /** Gradients for `inputs` (null entries allowed) given the output gradient and the saved views. */
  readonly backward: Backward;
  /** How many parts of the output gradient `backward` takes (1 + more.length ≤ sums); default 1. */
  readonly sums?: number;
}

/**
 * Attach a backward to `out` if gradients are being recorded and any input requires one.
 * Returns `out` for chaining.
 */
export function record(
  out: Tensor,
  op: string,
  inputs: readonly Tensor[],
  saved: readonly Tensor[],
  backward: Backward,
  sums = 1,
): Tensor {
  if (out.device.noGradDepth > 0 || !inputs.some((t) => t.requiresGrad)) return out;
  out.requiresGrad = true;
  out.node = { op, inputs: inputs.map((t) => (t.requiresGrad ? t : null)), saved: saved.map((s) => view(s, s.shape, s.strides, s.offset)), backward, sums };
  return out;
}

/** Whether op `inputs` will record a backward (lets ops skip saving extra tensors in inference). */
export const needsGrad = (inputs: readonly Tensor[]): boolean =>
  inputs.length > 0 && inputs[0].device.noGradDepth === 0 && inputs.some((t) => t.requiresGrad);

/** What a node becomes after backward() used it: a second backward through it fails clearly. */
export function freed(op: string): GradNode {
  return {
    op,
    inputs: [],
    saved: [],
    backward: () => {
      throw new OpError('backward', `tried to backward through ${op} a second time: its graph was freed by the first backward()`);
    },
  };
}

