// Batched matmul with NumPy batch broadcasting: [..., M, K] · [..., K, N] -> [..., M, N].
// Backward: dA = dC · Bᵀ, dB = Aᵀ · dC, each summed over broadcast batch dims. Transposes are strides, not copies.
import { MM_TILE, MM_WG, matmulKernel } from '../../kernels/matmul.wgsl';
import { record } from '../autograd';
import { OpError, fmtShape } from '../errors';
import { broadcastShapes, numel } from '../shape';
import { type Tensor, empty } from '../tensor';
import { checkF32 } from './run';
import { transpose } from './layout';
import { sumTo } from './reduce';

export function matmul(a: Tensor, b: Tensor): Tensor {
  a.assertAlive('matmul', 'input a');
  b.assertAlive('matmul', 'input b');
  checkF32('matmul', [a, b]);
  if (a.rank < 2 || b.rank < 2) {
    throw new OpError('matmul', `inputs must have rank >= 2, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`);
  }
  const [M, K] = a.shape.slice(-2);
  const [K2, N] = b.shape.slice(-2);
  if (K !== K2) throw new OpError('matmul', `inner dimensions differ: ${fmtShape(a.shape)} · ${fmtShape(b.shape)} (${K} vs ${K2})`);
  const batch = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (batch.length > 6) throw new OpError('matmul', `at most 6 batch dims supported, got ${fmtShape(batch)}`);
  const nb = numel(batch);
  const dev = a.device;
  const out = empty(dev, [...batch, M, N], 'f32', 'matmul');
  const bstrides = (t: Tensor): number[] => {
    const tb = t.shape.slice(0, -2);
    const off = batch.length - tb.length;
    return batch.map((_, j) => (j < off || tb[j - off] === 1 ? 0 : t.strides[j - off]));
  };
  if (nb * M * N > 0) {
    const maxZ = dev.limits.maxComputeWorkgroupsPerDimension;
    if (nb > maxZ) throw new OpError('matmul', `batch of ${nb} exceeds the device's ${maxZ} workgroups per dimension`);
    dev.dispatch(
      matmulKernel(),
      [a.storage.buf, b.storage.buf, out.storage.buf],
      {
        bshape: batch,
        abst: bstrides(a),
        bbst: bstrides(b),
        brank: batch.length,
        M,
        N,
        K,
        asm_: a.strides[a.rank - 2],
        ask: a.strides[a.rank - 1],
        bsk: b.strides[b.rank - 2],
        bsn: b.strides[b.rank - 1],
        aoff: a.offset,
        boff: b.offset,
      },
      [Math.ceil(N / (MM_TILE * MM_WG[0])), Math.ceil(M / (MM_TILE * MM_WG[1])), nb],
    );
  }
  return record(out, 'matmul', [a, b], [a, b], (gy, [as, bs]) => {
    // dA = gy · Bᵀ, dB = Aᵀ · gy, then summed over the batch dims each input was broadcast along.
    const grad = (left: boolean): Tensor => {
      const other = transpose(left ? bs : as, -1, -2);
      const full = left ? matmul(gy, other) : matmul(other, gy);
      other.dispose();
      const g = sumTo(full, (left ? a : b).shape);
      if (g !== full) full.dispose();
      return g;
    };
    return [a.requiresGrad ? grad(true) : null, b.requiresGrad ? grad(false) : null];
  });
}
