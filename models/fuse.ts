// Deployment transforms of a model, done on the GPU: every Conv+BN pair becomes one conv with bias (run as a
// single conv + bias + SiLU kernel), and every RepConvN's two branches become one 3×3 conv.
import { addCenteredKernel, foldBatchNorm } from '../engine/ops/fold';
import { noGrad } from '../engine/tensor';
import { cast } from '../engine/ops/elementwise';
import { OpError } from '../engine/errors';
import type { DType } from '../kernels/common';
import type { Module } from './module';
import { Conv, Conv2d } from './layers';
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

/** Options of fuseModel(). */
export interface FuseOptions {
  /**
   * 'f16' also converts every conv weight and bias to f16 (needs shader-f16): the model then runs inference with
   * f16 activations end to end and decodes the head in f32. The f16 weights are frozen (inference only).
   */
  readonly dtype?: DType;
}

/** Every conv's weight and bias to f16, frozen (the fused model is for inference). */
function toHalf(m: Module): void {
  if (m instanceof Conv2d) {
    for (const [name, t] of [...m.namedParameters()]) {
      if (t.dtype === 'f16') continue;
      const h = cast(t, 'f16');
      m.setTensor(name, h);
      h.requiresGrad = false;
    }
  }
  for (const kid of m.childModules.values()) toHalf(kid);
}

/** Fold all BatchNorms and RepConvN branches in place; returns the number of convs removed by folding. */
export function fuseModel(root: Module, opts: FuseOptions = {}): { foldedBn: number; foldedRep: number } {
  if (opts.dtype === 'f16' && !root.device.features.f16) {
    throw new OpError('fuseModel', "dtype 'f16' needs the shader-f16 feature, which this device does not have; run the model in f32");
  }
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
    if (opts.dtype === 'f16') toHalf(root);
  });
  return { foldedBn, foldedRep };
}
