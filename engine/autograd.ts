// Reverse-mode autodiff. Each differentiable op attaches a GradNode to its output: the inputs that need a
// gradient, the tensors it saved, and a closure mapping the output gradient to input gradients (built from
// other ops, so gradients of gradients stay possible and every backward is itself a GPU kernel).
// backward() walks the graph once in reverse topological order, accumulating gradients of tensors used
// several times, stores leaf gradients in `.grad`, disposes intermediate gradients and frees the graph.
import { OpError, fmtShape } from './errors';
import { sameShape } from './shape';
import { type Tensor, view } from './tensor';
import { add } from './ops/elementwise';
import { ones } from './ops/creation';

export type Backward = (gy: Tensor, saved: readonly Tensor[]) => readonly (Tensor | null)[];

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
): Tensor {
  if (out.device.noGradDepth > 0 || !inputs.some((t) => t.requiresGrad)) return out;
  out.requiresGrad = true;
  out.node = { op, inputs: inputs.map((t) => (t.requiresGrad ? t : null)), saved: saved.map((s) => view(s, s.shape, s.strides, s.offset)), backward };
  return out;
}

/** Whether op `inputs` will record a backward (lets ops skip saving extra tensors in inference). */
export const needsGrad = (inputs: readonly Tensor[]): boolean =>
  inputs.length > 0 && inputs[0].device.noGradDepth === 0 && inputs.some((t) => t.requiresGrad);

function freed(op: string): GradNode {
  return {
    op,
    inputs: [],
    saved: [],
    backward: () => {
      throw new OpError('backward', `tried to backward through ${op} a second time: its graph was freed by the first backward()`);
    },
  };
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: GELAN graphs are deep enough to overflow recursion in some engines.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.node?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i];
      if (next && !seen.has(next)) {
        seen.add(next);
        stack.push([next, 0]);
      }
    } else {
      order.push(t);
      stack.pop();
    }
  }
  return order.reverse();
}

export function backward(root: Tensor, gradient?: Tensor): void {
  root.assertAlive('backward', 'the tensor backward() was called on');
  if (!root.requiresGrad) {
    throw new OpError('backward', `tensor of shape ${fmtShape(root.shape)} does not require grad (no input of the ops that made it had requiresGrad)`);
  }
  if (!gradient && root.size !== 1) {
    throw new OpError('backward', `an explicit gradient is needed for a non-scalar output of shape ${fmtShape(root.shape)}`);
  }
  if (gradient && !sameShape(gradient.shape, root.shape)) {
    throw new OpError('backward', `gradient shape ${fmtShape(gradient.shape)} does not match output shape ${fmtShape(root.shape)}`);
  }
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor>();
  grads.set(root, gradient ?? ones(root.device, root.shape, root.dtype));
  const owned = new Set<Tensor>(gradient ? [] : [grads.get(root)!]);
  for (const t of order) {
    const gy = grads.get(t);
    if (!gy) continue;
    grads.delete(t);
    const node = t.node;
    if (!node) {
      if (t.requiresGrad && !t.isDisposed) {
        // Leaf: accumulate into .grad, which outlives every scope.
        const g = owned.has(gy) ? gy : gy.detach();
        if (t.grad) {
          const sum = add(t.grad, g);
          t.grad.dispose();
          g.dispose();
          t.grad = sum.keep();
        } else {
          t.grad = g.keep();
        }
        owned.delete(gy);
      } else if (owned.has(gy)) {
        gy.dispose();
      }
      continue;
    }
    for (const s of node.saved) {
      if (s.isDisposed) {
        throw new OpError('backward', `${node.op} saved a tensor of shape ${fmtShape(s.shape)} that was freed when the tidy() scope it was made in ended; call backward() inside that scope`);
      }
    }
    const gins = node.backward(gy, node.saved);
    if (owned.has(gy)) {
      gy.dispose();
      owned.delete(gy);
    }
    const given = new Set<Tensor>();
    node.inputs.forEach((inp, i) => {
      // A closure may hand back gy itself or one tensor for two inputs: give each its own view.
      const g0 = gins[i];
      const g = g0 && (g0 === gy || given.has(g0)) ? g0.detach() : g0;
      if (g0) given.add(g0);
      if (!inp || !g) {
        if (g && !inp) g.dispose();
        return;
      }
      if (!sameShape(g.shape, inp.shape)) {
        throw new Error(`internal: ${node.op} backward produced gradient ${fmtShape(g.shape)} for input ${fmtShape(inp.shape)}`);
      }
      if (g.dtype !== inp.dtype) {
        throw new Error(`internal: ${node.op} backward produced a ${g.dtype} gradient for a ${inp.dtype} input ${fmtShape(inp.shape)}`);
      }
      const prev = grads.get(inp);
      if (prev) {
        const sum = add(prev, g);
        if (owned.has(prev)) prev.dispose();
        g.dispose();
        owned.delete(prev);
        grads.set(inp, sum);
        owned.add(sum);
      } else {
        grads.set(inp, g);
        owned.add(g);
      }
    });
    // Free the graph as PyTorch does (no retain_graph): saved tensors are released, and a second backward
    // through this tensor fails clearly instead of treating it as a leaf.
    node.saved.forEach((s) => s.dispose());
    t.node = freed(node.op);
  }
}
