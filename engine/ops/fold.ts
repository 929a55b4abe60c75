// Weight folding for deployment (not differentiable: it rewrites parameters, it is not part of a model's
// computation). Conv+BatchNorm → Conv with bias, and a 1×1 kernel added at the centre of a k×k kernel.
import { FOLD_WG, addCenterKernel, foldBnKernel } from '../../kernels/fold.wgsl';
import { OpError, fmtShape } from '../errors';
import { type Tensor, empty } from '../tensor';
import { denseFromStart } from './layout';
import { zeros } from './creation';


/** Fold BatchNorm (γ, β, running μ, σ², eps) into the preceding conv's weight [O, …] and optional bias. */
export function foldBatchNorm(
  weight: Tensor,
  bias: Tensor | null,
  bn: { gamma: Tensor; beta: Tensor; mean: Tensor; var: Tensor; eps: number },
): { weight: Tensor; bias: Tensor } {
  const O = weight.shape[0];
  for (const t of [bn.gamma, bn.beta, bn.mean, bn.var, ...(bias ? [bias] : [])]) {
    t.assertAlive('foldBatchNorm');
    if (t.rank !== 1 || t.shape[0] !== O) throw new OpError('foldBatchNorm', `per-channel tensor ${fmtShape(t.shape)} does not match weight ${fmtShape(weight.shape)}`);
  }
  const dev = weight.device;
  const given = [weight, bias, bn.gamma, bn.beta, bn.mean, bn.var];
  const ins = [weight, bias ?? zeros(dev, [O]), bn.gamma, bn.beta, bn.mean, bn.var].map(denseFromStart);
  const [W, B, gamma, beta, mean, var_] = ins.map((t) => t.storage.buf);
  const w = empty(dev, weight.shape, 'f32', 'foldBatchNorm');
  const b = empty(dev, [O], 'f32', 'foldBatchNorm');
  const K = weight.size / O;
  dev.dispatch(foldBnKernel(), { W, B, gamma, beta, mean, var_, Wout: w.storage.buf, Bout: b.storage.buf }, { O, K, eps: bn.eps }, dev.grid1d(Math.max(O * K, O), FOLD_WG));
  ins.forEach((t, i) => {
    if (t !== given[i]) t.dispose();
  });
  return { weight: w, bias: b };
}

/** k×k kernel [O, C, k, k] plus a 1×1 kernel [O, C, 1, 1] placed at its centre tap (odd k). */
export function addCenteredKernel(k3: Tensor, k1: Tensor): Tensor {
  const [O, C, kh, kw] = k3.shape;
  if (k3.rank !== 4 || kh !== kw || kh % 2 !== 1 || k1.rank !== 4 || k1.shape[0] !== O || k1.shape[1] !== C || k1.shape[2] !== 1 || k1.shape[3] !== 1) {
    throw new OpError('addCenteredKernel', `expects [O, C, k, k] (odd k) and [O, C, 1, 1], got ${fmtShape(k3.shape)} and ${fmtShape(k1.shape)}`);
  }
  const dev = k3.device;
  const a = denseFromStart(k3);
  const b = denseFromStart(k1);
  const out = empty(dev, k3.shape, 'f32', 'addCenteredKernel');
  const kk = kh * kw;
  dev.dispatch(addCenterKernel(), { K3: a.storage.buf, K1: b.storage.buf, Kout: out.storage.buf }, { n: k3.size, kk, center: (kk - 1) / 2 }, dev.grid1d(k3.size, FOLD_WG));
  if (a !== k3) a.dispose();
  if (b !== k1) b.dispose();
  return out;
}
