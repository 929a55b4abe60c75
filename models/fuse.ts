// Deployment transforms of a model, done on the GPU: every Conv+BN pair becomes one conv with bias (run as a
// single conv + bias + SiLU kernel), and every RepConvN's two branches become one 3×3 conv.
import { addCenteredKernel, foldBatchNorm } from '../engine/ops/fold';
import { noGrad } from '../engine/tensor';
import type { Module } from './module';
import { Conv } from './layers';
import { RepConvN } from './blocks';

function foldConv(c: Conv): void {
  const bn = c.bn;
  if (!bn) return;
  const named = new Map([...bn.stateEntries()].map(([k, t]) => [k, t] as const));
  const f = foldBatchNorm(c.conv.weight, c.conv.bias, {
    gamma: named.get('weight')!,
    beta: named.get('bias')!,
    mean: named.get('running_mean')!,
    var: named.get('running_var')!,
    eps: bn.eps,
  });
  c.conv.setTensor('weight', f.weight);
  c.conv.addBias(f.bias);
  c.removeBatchNorm();
}

/** Fold all BatchNorms and RepConvN branches in place; returns the number of convs removed by folding. */
export function fuseModel(root: Module): { foldedBn: number; foldedRep: number } {
  let foldedBn = 0;
  let foldedRep = 0;
  noGrad(root.device, () => {
    const visit = (m: Module): void => {
      if (m instanceof RepConvN && m.conv1 && m.conv2) {
        foldConv(m.conv1);
        foldConv(m.conv2);
        foldedBn += 2;
        m.mergeBranches(addCenteredKernel(m.conv1.conv.weight, m.conv2.conv.weight));
        foldedRep++;
        return;
      }
      if (m instanceof Conv && m.bn) {
        foldConv(m);
        foldedBn++;
        return;
      }
      for (const kid of m.childModules.values()) visit(kid);
    };
    visit(root);
  });
  return { foldedBn, foldedRep };
}
