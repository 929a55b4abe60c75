// maxPool2d and avgPool2d (kernel, stride, padding; avg with PyTorch's count_include_pad), forward and backward.
import { POOL_WG, avgPoolBwdKernel, avgPoolFwdKernel, maxPoolBwdKernel, maxPoolFwdKernel } from '../../kernels/pool.wgsl';
import { record } from '../tape';
import { OpError, fmtShape } from '../errors';
import { type Tensor, empty } from '../tensor';
import { checkFloat } from './run';
import { copy, denseFromStart } from './layout';

/** Options of maxPool2d(): kernel size, stride and padding as in PyTorch. */
export interface PoolOptions {
  readonly kernel: number | readonly [number, number];
  /** Default: the kernel size (as PyTorch). */
  readonly stride?: number | readonly [number, number];
  readonly padding?: number | readonly [number, number];
}
/** Options of avgPool2d() (PoolOptions plus PyTorch's count_include_pad). */
export interface AvgPoolOptions extends PoolOptions {
  /** Count padded positions in the divisor (PyTorch default true). */
  readonly countIncludePad?: boolean;
}

/**
 * Workgroups along the plane axis (each invocation loops over every PLANE_GROUPS-th plane): fewer, longer
 * workgroups, since launching one costs about as much on lavapipe as pooling a few planes of it.
 */
const PLANE_GROUPS = 64;

const pair = (v: number | readonly [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

function geometry(op: string, x: Tensor, o: PoolOptions) {
  x.assertAlive(op);
  const dtype = checkFloat(op, [x]);
  if (x.rank !== 4) throw new OpError(op, `input must be 4-D NCHW, got ${fmtShape(x.shape)}`);
  const [N, C, H, W] = x.shape;
  const [KH, KW] = pair(o.kernel);
  const [sh, sw] = pair(o.stride ?? o.kernel);
  const [ph, pw] = pair(o.padding ?? 0);
  if ([KH, KW, sh, sw].some((v) => !Number.isInteger(v) || v < 1)) throw new OpError(op, `invalid kernel ${KH}x${KW} or stride ${sh}x${sw}`);
  if (ph > KH / 2 || pw > KW / 2 || ph < 0 || pw < 0) throw new OpError(op, `padding ${ph},${pw} must be between 0 and half the kernel ${KH}x${KW}`);
  const OH = Math.floor((H + 2 * ph - KH) / sh) + 1;
  const OW = Math.floor((W + 2 * pw - KW) / sw) + 1;
  if (OH < 1 || OW < 1) throw new OpError(op, `kernel ${KH}x${KW} is larger than the padded input ${fmtShape(x.shape)}`);
  const xd = x.isContiguous ? x : copy(x);
  const params = { planes: N * C, H, W, OH, OW, ph, pw, xoff: xd.offset, countPad: 1 };
  const dev = x.device;
  // column × row × plane group
  const grid = (w: number, h: number): [number, number, number] => [Math.ceil(w / POOL_WG[0]), Math.ceil(h / POOL_WG[1]), Math.min(N * C, PLANE_GROUPS)];
  return { xd, params, window: { KH, KW, SH: sh, SW: sw }, outGrid: grid(OW, OH), inGrid: grid(W, H), outShape: [N, C, OH, OW], dtype };
}

/** 2-D max pooling (torch.nn.functional.max_pool2d). */
export function maxPool2d(x: Tensor, o: PoolOptions): Tensor {
  const { xd, params, window, outGrid, inGrid, outShape, dtype } = geometry('maxPool2d', x, o);
  const dev = x.device;
  const y = empty(dev, outShape, dtype, 'maxPool2d');
  const idx = empty(dev, outShape, 'f32', 'maxPool2d');
  dev.dispatch(maxPoolFwdKernel(window, dtype), { x: xd.storage.buf, y: y.storage.buf, idx: idx.storage.buf }, params, outGrid);
  if (xd !== x) xd.dispose();
  const out = record(y, 'maxPool2d', [x], [idx], (gy, [ids]) => {
    const gyd = denseFromStart(gy);
    const gx = empty(dev, x.shape, dtype, 'maxPool2d.grad');
    dev.dispatch(maxPoolBwdKernel(window, dtype), { gy: gyd.storage.buf, idx: ids.storage.buf, gx: gx.storage.buf }, params, inGrid);
    if (gyd !== gy) gyd.dispose();
    return [gx];
  });
  idx.dispose();
  return out;
}

/** 2-D average pooling (torch.nn.functional.avg_pool2d). */
export function avgPool2d(x: Tensor, o: AvgPoolOptions): Tensor {
  const { xd, params, window, outGrid, inGrid, outShape, dtype } = geometry('avgPool2d', x, o);
  params.countPad = o.countIncludePad === false ? 0 : 1;
  const dev = x.device;
  const y = empty(dev, outShape, dtype, 'avgPool2d');
  dev.dispatch(avgPoolFwdKernel(window, dtype), { x: xd.storage.buf, y: y.storage.buf }, params, outGrid);
  if (xd !== x) xd.dispose();
  return record(y, 'avgPool2d', [x], [], (gy) => {
    const gyd = denseFromStart(gy);
    const gx = empty(dev, x.shape, dtype, 'avgPool2d.grad');
    dev.dispatch(avgPoolBwdKernel(window, dtype), { gy: gyd.storage.buf, gx: gx.storage.buf }, params, inGrid);
    if (gyd !== gy) gyd.dispose();
    return [gx];
  });
}
