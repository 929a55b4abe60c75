// conv2d (NCHW input, PyTorch OIHW weight) with stride, padding, dilation, groups and optional bias.
// A reader's path: plan.ts (which algorithm and tiling) → the path's file (window.ts, pointwise.ts, sgmat.ts,
// gather.ts; dgrad.ts and wgrad.ts for the gradients) → its kernel in kernels/conv2d/ → the tests (PyTorch fixtures
// in test/engine/fixture-ops.test.ts, gradchecks, every tiling in test/kernels/conv-*.test.ts and tile-search.test.ts).
// The bias gradient is a sum of gy over N, H, W.
import { record } from '../../tape';
import { type Tensor, empty } from '../../tensor';
import { denseFromStart, densePlanes, releaseCopy } from '../layout';
import { sum } from '../reduce';
import { checkFloat } from '../run';
import { convDgrad } from './dgrad';
import { convForward } from './forward';
import { type Conv2dOptions, convGeometry } from './geometry';
import { convWgrad } from './wgrad';

export { type Conv2dOptions, convGeometry } from './geometry';
export { convForwardTuned } from './forward';
export { convWgrad } from './wgrad';
export type { FwdTune, WgradTune } from './plan';

/** 2-D convolution of x [N, C, H, W] with w [O, C/groups, kh, kw] and an optional bias [O] (torch.nn.functional.conv2d). */
export function conv2d(x: Tensor, w: Tensor, b: Tensor | null = null, o: Conv2dOptions = {}): Tensor {
  x.assertAlive('conv2d', 'input');
  w.assertAlive('conv2d', 'weight');
  b?.assertAlive('conv2d', 'bias');
  const dtype = checkFloat('conv2d', b ? [x, w, b] : [x, w]);
  const g = convGeometry(x, w, b, o);
  const dev = x.device;
  const y = empty(dev, [g.N, g.O, g.OH, g.OW], dtype, 'conv2d');
  // channel planes must be dense; the batch stride may be anything (a channel slice of a larger tensor)
  const xd = densePlanes(x);
  const wd = denseFromStart(w);
  const bd = b ? denseFromStart(b) : null;
  const act = o.activation ?? 'none';
  convForward(dev, g, xd, wd, bd, y, act, dtype === 'f16' ? (o.accumulate ?? 'f32') : 'f32');
  releaseCopy(xd, x);
  releaseCopy(wd, w);
  if (bd && b) releaseCopy(bd, b);
  if (act !== 'none') return y; // fused inference path: no gradient
  const inputs = b ? [x, w, b] : [x, w];
  return record(y, 'conv2d', inputs, [x, w], (gy, [xs, ws]) => {
    // both gradients read gy densely: a channel slice (a concat's gradient) is copied once for the two
    const gyd = x.requiresGrad && w.requiresGrad ? denseFromStart(gy) : gy;
    const grads = [
      x.requiresGrad ? convDgrad(gyd, ws, g) : null,
      w.requiresGrad ? convWgrad(gyd, xs, g) : null,
      ...(b ? [b.requiresGrad ? sum(gyd, [0, 2, 3]) : null] : []),
    ];
    releaseCopy(gyd, gy);
    return grads;
  });
}
