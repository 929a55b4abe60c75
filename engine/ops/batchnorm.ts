// BatchNorm2d in training mode (batch statistics; running stats updated in place with momentum, unbiased
// variance, as PyTorch) and eval mode (running statistics). YOLOv9 uses eps 1e-3 and momentum 0.03.
import { BN_RESIDUAL_BUFFERS, BN_RUN, BN_WG, bnApplyKernel, bnBackwardKernel, bnTrainKernel } from '../../kernels/batchnorm.wgsl';
import { byVec4 } from '../../kernels/common';
import { record } from '../tape';
import { OpError, fmtShape } from '../errors';
import { sameShape } from '../shape';
import { type Tensor, empty } from '../tensor';
import { checkF32 } from './run';
import { copy, denseFromStart, densePlanes } from './layout';
import { ones, zeros } from './creation';
import { add, silu } from './elementwise';

/** Options of batchNorm2d(). */
export interface BatchNormOptions {
  readonly training: boolean;
  /** Weight of the new batch statistic in the running average (PyTorch's momentum). Default 0.1. */
  readonly momentum?: number;
  readonly eps?: number;
  /** Fused activation after the affine transform (YOLO's Conv block: BN then SiLU). */
  readonly activation?: 'none' | 'silu';
  /**
   * Added to the normalised output before the activation, y = act(BN(x) + residual): RepConvN's sum of its two
   * branches. One kernel each way in training mode with SiLU (where the device binds 11 storage buffers), else a
   * separate add and activation.
   */
  readonly residual?: Tensor;
}


/** Batch normalisation over [N, C, H, W] (torch.nn.functional.batch_norm): batch statistics in training mode, which also update the running ones, else the running statistics. */
export function batchNorm2d(
  x: Tensor,
  weight: Tensor | null,
  bias: Tensor | null,
  runningMean: Tensor | null,
  runningVar: Tensor | null,
  o: BatchNormOptions,
): Tensor {
  x.assertAlive('batchNorm2d', 'input');
  if (x.rank !== 4) throw new OpError('batchNorm2d', `input must be 4-D NCHW, got ${fmtShape(x.shape)}`);
  const [N, C, H, W] = x.shape;
  const per = [weight, bias, runningMean, runningVar];
  for (const t of per) {
    if (!t) continue;
    t.assertAlive('batchNorm2d', 'parameter');
    if (t.rank !== 1 || t.shape[0] !== C) {
      throw new OpError('batchNorm2d', `weight, bias and running stats must have shape [${C}] for input ${fmtShape(x.shape)}, got ${fmtShape(t.shape)}`);
    }
  }
  // x may be f16 (mixed-precision training: f16 activations); statistics and parameters are f32
  checkF32('batchNorm2d', per.filter((t): t is Tensor => t !== null));
  const dtype = x.dtype;
  if ((runningMean === null) !== (runningVar === null)) throw new OpError('batchNorm2d', 'give both running statistics or neither');
  if (!o.training && !runningMean) throw new OpError('batchNorm2d', 'eval mode needs running statistics');
  for (const t of [runningMean, runningVar]) {
    if (t && !(t.isContiguous && t.offset === 0)) throw new OpError('batchNorm2d', 'running statistics must be dense tensors (they are updated in place)');
  }
  const M = N * H * W;
  if (o.training && M < 2) throw new OpError('batchNorm2d', `training mode needs more than one value per channel, got input ${fmtShape(x.shape)}`);
  const eps = o.eps ?? 1e-5;
  const momentum = o.momentum ?? 0.1;
  const dev = x.device;
  const act = o.activation ?? 'none';
  const res = o.residual ?? null;
  // one subgroup per channel where a workgroup of that size is exactly one subgroup (software adapters, see BnLanes)
  const lanes = dev.software && dev.features.subgroups && dev.subgroupMinSize >= 4 && dev.subgroupMinSize === dev.subgroupMaxSize ? { lanes: dev.subgroupMinSize } : {};
  if (res) {
    res.assertAlive('batchNorm2d', 'residual');
    if (!sameShape(res.shape, x.shape) || res.dtype !== dtype) {
      throw new OpError('batchNorm2d', `residual must match the input: ${fmtShape(res.shape)} ${res.dtype} vs ${fmtShape(x.shape)} ${dtype}`);
    }
    if (!o.training || act !== 'silu' || dev.limits.maxStorageBuffersPerShaderStage < BN_RESIDUAL_BUFFERS) {
      const z = batchNorm2d(x, weight, bias, runningMean, runningVar, { ...o, activation: 'none', residual: undefined });
      const s = add(z, res);
      z.dispose();
      if (act === 'none') return s;
      const y = silu(s);
      s.dispose();
      return y;
    }
  }
  const xd = x.isContiguous ? x : copy(x);
  const rd = res && !res.isContiguous ? copy(res) : res;
  const params = { n: x.size, C, HW: H * W, M, xoff: xd.offset, eps, momentum, gyoff: 0, gybs: 0, g2off: 0, g2bs: 0, roff: rd ? rd.offset : 0 };
  const temps: Tensor[] = [];
  const own = (t: Tensor): Tensor => (temps.push(t), t);
  const w = weight ? denseFromStart(weight) : own(ones(dev, [C]));
  const b = bias ? denseFromStart(bias) : own(zeros(dev, [C]));
  if (weight && w !== weight) temps.push(w);
  if (bias && b !== bias) temps.push(b);
  if (rd && rd !== res) temps.push(rd);
  const y = empty(dev, x.shape, dtype, 'batchNorm2d');
  // the subgroup form reads four values at a time where every plane, offset and batch stride is a multiple of 4
  const by4 = (...v: number[]): boolean => lanes.lanes !== undefined && byVec4(H * W, ...v);
  const fwd4 = by4(xd.offset, rd ? rd.offset : 0) ? { vec4: true } : {};
  let mean: Tensor;
  let variance: Tensor;
  if (o.training) {
    // statistics, running-stat update and normalisation in one dispatch, one workgroup per channel
    mean = empty(dev, [C], 'f32', 'batchNorm2d');
    variance = empty(dev, [C], 'f32', 'batchNorm2d');
    const update = runningMean !== null;
    dev.dispatch(
      bnTrainKernel({ update, act, dtype, ...lanes, ...fwd4, ...(rd ? { residual: true } : {}) }),
      {
        x: xd.storage.buf, mean: mean.storage.buf, var_: variance.storage.buf, ...(update ? { rm: runningMean!.storage.buf, rv: runningVar!.storage.buf } : {}),
        wt: w.storage.buf, bs: b.storage.buf, ...(rd ? { res: rd.storage.buf } : {}), y: y.storage.buf,
      },
      params,
      [C, 1, 1],
    );
  } else {
    // Copies: the running stats may be updated in place by a later training step before backward().
    mean = copy(runningMean!);
    variance = copy(runningVar!);
    // the elementwise kernel takes a run of BN_RUN values of one plane per invocation
    const runs = N * C * Math.ceil((H * W) / BN_RUN);
    dev.dispatch(bnApplyKernel({ act, dtype }), { x: xd.storage.buf, mean: mean.storage.buf, var_: variance.storage.buf, wt: w.storage.buf, bs: b.storage.buf, y: y.storage.buf }, params, dev.gridStride(runs, BN_WG));
  }
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : []), ...(res ? [res] : [])];
  // the output used twice: the backward kernel reads both gradients (one more storage binding than otherwise)
  const sums = dev.limits.maxStorageBuffersPerShaderStage >= (rd ? BN_RESIDUAL_BUFFERS : 9) + 1 ? 2 : 1;
  const out = record(y, 'batchNorm2d', inputs, [xd, mean, variance, w, b, ...(rd ? [rd] : [])], (gy, [xs, ms, vs, ws, bs, rs], more) => {
    // gy may be a channel slice (the gradient of one input of a concat): planes dense, any batch stride
    const gyd = densePlanes(gy);
    const gy2 = more.length > 0 ? densePlanes(more[0]) : null;
    const two = gy2 !== null;
    const gw = empty(dev, [C], 'f32', 'batchNorm2d.grad');
    const gb = empty(dev, [C], 'f32', 'batchNorm2d.grad');
    const p = {
      ...params, xoff: xs.offset, gyoff: gyd.offset, gybs: N > 1 ? gyd.strides[0] : 0,
      ...(gy2 ? { g2off: gy2.offset, g2bs: N > 1 ? gy2.strides[0] : 0 } : {}),
    };
    const saved = {
      gy: gyd.storage.buf, ...(gy2 ? { gy2: gy2.storage.buf } : {}), x: xs.storage.buf, mean: ms.storage.buf, var_: vs.storage.buf, wt: ws.storage.buf, bs: bs.storage.buf,
      ...(rs ? { res: rs.storage.buf } : {}),
    };
    const input = x.requiresGrad;
    const gx = input ? empty(dev, x.shape, dtype, 'batchNorm2d.grad') : null;
    // the gradient at the SiLU's input, which is also the residual's
    const gres = rs ? empty(dev, x.shape, dtype, 'batchNorm2d.grad') : null;
    const bwd4 = by4(p.xoff, p.gyoff, p.gybs, p.g2off, p.g2bs, p.roff) ? { vec4: true } : {};
    dev.dispatch(
      bnBackwardKernel({ training: o.training, act, input, two, dtype, ...lanes, ...bwd4, ...(rs ? { residual: true } : {}) }),
      { ...saved, gw: gw.storage.buf, gb: gb.storage.buf, ...(gx ? { gx: gx.storage.buf } : {}), ...(gres ? { gres: gres.storage.buf } : {}) },
      p,
      [C, 1, 1],
    );
    if (gyd !== gy) gyd.dispose();
    if (gy2 && gy2 !== more[0]) gy2.dispose();
    const grads: (Tensor | null)[] = [gx];
    if (weight) grads.push(weight.requiresGrad ? gw : (gw.dispose(), null));
    else gw.dispose();
    if (bias) grads.push(bias.requiresGrad ? gb : (gb.dispose(), null));
    else gb.dispose();
    if (res && gres) grads.push(res.requiresGrad ? gres : (gres.dispose(), null));
    return grads;
  }, sums);
  mean.dispose();
  variance.dispose();
  if (xd !== x) xd.dispose();
  temps.forEach((t) => t.dispose());
  return out;
}
