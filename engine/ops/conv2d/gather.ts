// The general input gradient (kernels/conv2d/dgrad.wgsl.ts), for convs strided and dilated at once: a gather over
// the output positions and taps that read each input pixel (no atomics). f32 only.
import { CONV_TW, CONV_WG, convParams } from '../../../kernels/conv2d/params';
import { convDgradKernel } from '../../../kernels/conv2d/dgrad.wgsl';
import { type Tensor, empty } from '../../tensor';
import { denseFromStart, releaseCopy } from '../layout';
import type { ConvGeometry } from './geometry';

export function gatherDgrad(gy: Tensor, w: Tensor, g: ConvGeometry): Tensor {
  const dev = gy.device;
  const gx = empty(dev, [g.N, g.C, g.H, g.W], 'f32', 'conv2d.dgrad');
  const gyd = denseFromStart(gy);
  const wd = denseFromStart(w);
  const tc = (g.C / g.groups) % 4 === 0 ? 4 : 1;
  const tiles = Math.ceil(g.W / CONV_TW);
  dev.dispatch(
    convDgradKernel({ tc }),
    { GY: gyd.storage.buf, Wt: wd.storage.buf, GX: gx.storage.buf },
    convParams(g, { xoff: 0, tiles }),
    dev.grid1d(g.N * (g.C / tc) * g.H * tiles, CONV_WG),
  );
  releaseCopy(gyd, gy);
  releaseCopy(wd, w);
  return gx;
}
