// Reverse-mode autodiff: backward() walks the tape (engine/tape.ts) once in reverse topological order,
// accumulating gradients of tensors used several times, stores leaf gradients in `.grad`, disposes intermediate
// gradients and frees the graph. Tensor.backward() reaches it through the device (Device.autograd), so the
// tensor and the tape depend on no op module.
import { OpError, fmtShape } from './errors';
import { sameShape } from './shape';
import type { Tensor } from './tensor';
import { freed } from './tape';
import { add } from './ops/elementwise';
import { ones } from './ops/creation';

export { type Backward, type GradNode, needsGrad, record } from './tape';

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
  // Each tensor's gradient so far, in parts: one part unless its node sums up to `sums` parts itself (BatchNorm
  // reads two in its backward kernels), so a tensor used twice costs no separate addition.
  const grads = new Map<Tensor, Tensor[]>();
  const first = gradient ?? ones(root.device, root.shape, root.dtype);
  grads.set(root, [first]);
  const owned = new Set<Tensor>(gradient ? [] : [first]);
  /** Dispose a gradient the walk made (never the caller's). */
  const release = (x: Tensor): void => {
    if (owned.delete(x)) x.dispose();
  };
  /** Parts of `t`'s gradient its node takes at once (leaves and most ops: 1). */
  const capacity = (t: Tensor): number => Math.max(1, t.node?.sums ?? 1);
  /** Add the last two parts into one (owned) tensor. */
  const merge = (parts: Tensor[]): void => {
    const b = parts.pop()!;
    const a = parts.pop()!;
    const sum = add(a, b);
    release(a);
    release(b);
    parts.push(sum);
    owned.add(sum);
  };
  for (const t of order) {
    const parts = grads.get(t);
    if (!parts) continue;
    grads.delete(t);
    const node = t.node;
    while (parts.length > capacity(t)) merge(parts);
    const [gy, ...more] = parts;
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
      } else release(gy);
      continue;
    }
    for (const s of node.saved) {
      if (s.isDisposed) {
        throw new OpError('backward', `${node.op} saved a tensor of shape ${fmtShape(s.shape)} that was freed when the tidy() scope it was made in ended; call backward() inside that scope`);
      }
    }
    // A closure may hand back a part of gy itself or one tensor for two inputs: give each its own view (taken
    // before the parts are released).
    const given = new Set<Tensor>();
    const gins = node.backward(gy, node.saved, more).map((g0) => {
      const g = g0 && (parts.includes(g0) || given.has(g0)) ? g0.detach() : g0;
      if (g0) given.add(g0);
      return g;
    });
    parts.forEach(release);
    node.inputs.forEach((inp, i) => {
      const g = gins[i];
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
      owned.add(g);
      const prev = grads.get(inp);
      if (!prev) grads.set(inp, [g]);
      else {
        prev.push(g);
        if (prev.length > capacity(inp)) merge(prev);
      }
    });
    // Free the graph as PyTorch does (no retain_graph): saved tensors are released, and a second backward
    // through this tensor fails clearly instead of treating it as a leaf.
    node.saved.forEach((s) => s.dispose());
    t.node = freed(node.op);
  }
}
