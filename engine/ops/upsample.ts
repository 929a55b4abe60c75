// Nearest upsampling (YOLO's nn.Upsample(None, 2, 'nearest')) by a scale factor or to an arbitrary size.
import { UP_WG, upsampleBwdKernel, upsampleFwdKernel } from '../../kernels/upsample.wgsl';
import { record } from '../tape';
import { OpError, fmtShape } from '../errors';
import { type Tensor, empty } from '../tensor';
import { checkFloat } from './run';
import { copy, denseFromStart } from './layout';

/** Options of upsampleNearest(): a scale factor (one, or per axis) or an output size. */
export type UpsampleOptions = { readonly scale: number | readonly [number, number] } | { readonly size: readonly [number, number] };

/** Nearest-neighbour upsampling of [N, C, H, W] (torch.nn.Upsample, mode 'nearest'). */
export function upsampleNearest(x: Tensor, o: UpsampleOptions): Tensor {
  x.assertAlive('upsampleNearest');
  const dtype = checkFloat('upsampleNearest', [x]);
  if (x.rank !== 4) throw new OpError('upsampleNearest', `input must be 4-D NCHW, got ${fmtShape(x.shape)}`);
  const [N, C, H, W] = x.shape;
  let OH: number;
  let OW: number;
  let scaleH: number;
  let scaleW: number;
  if ('size' in o) {
    [OH, OW] = o.size;
    scaleH = Math.fround(H / OH);
    scaleW = Math.fround(W / OW);
  } else {
    const [fh, fw] = typeof o.scale === 'number' ? [o.scale, o.scale] : o.scale;
    OH = Math.floor(H * fh);
    OW = Math.floor(W * fw);
    scaleH = Math.fround(1 / fh);
    scaleW = Math.fround(1 / fw);
  }
  if (!(Number.isInteger(OH) && Number.isInteger(OW) && OH > 0 && OW > 0)) {
    throw new OpError('upsampleNearest', `invalid output size ${OH}x${OW} for input ${fmtShape(x.shape)}`);
  }
  const dev = x.device;
  const xd = x.isContiguous ? x : copy(x);
  const params = { planes: N * C, H, W, OH, OW, xoff: xd.offset, scaleH, scaleW };
  const y = empty(dev, [N, C, OH, OW], dtype, 'upsampleNearest');
  dev.dispatch(upsampleFwdKernel(dtype), { x: xd.storage.buf, y: y.storage.buf }, params, dev.gridStride(y.size, UP_WG));
  if (xd !== x) xd.dispose();
  return record(y, 'upsampleNearest', [x], [], (gy) => {
    const gyd = denseFromStart(gy);
    const gx = empty(dev, x.shape, dtype, 'upsampleNearest.grad');
    dev.dispatch(upsampleBwdKernel(dtype), { gy: gyd.storage.buf, gx: gx.storage.buf }, { ...params, xoff: 0 }, dev.gridStride(x.size, UP_WG));
    if (gyd !== gy) gyd.dispose();
    return [gx];
  });
}
