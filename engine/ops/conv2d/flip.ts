// The phase kernel of an input gradient (see planDgrad) as a view of the forward weight: the window kernel reads
// it in place (its `flip` variant); the kernels that need a dense weight get the flip kernel's copy.
import { FLIP_WG, flipWeightKernel } from '../../../kernels/conv2d/flip.wgsl';
import type { Device } from '../../device';
import { type Tensor, empty } from '../../tensor';
import type { ConvGeometry } from './geometry';
import type { Phase } from './plan';

/** Phase (ry, rx) of the input gradient of conv `g`: the flipped, transposed sub-kernel of `w` (dense from its start). */
export interface WeightFlip {
  readonly w: Tensor;
  readonly g: ConvGeometry;
  readonly phase: Phase;
}

/** The uniforms of the window kernel's flipped read (kernels/conv2d/fwd-window.wgsl.ts, FLIP_PARAMS). */
export function flipParams({ g, phase: { th, tw } }: WeightFlip): Record<string, number> {
  return {
    wcpg: g.C / g.groups,
    wopg: g.O / g.groups,
    wKK: g.KH * g.KW,
    wtap0: (th.k0 + g.sh * (th.J - 1)) * g.KW + tw.k0 + g.sw * (tw.J - 1),
    wkh: g.sh * g.KW,
    wkw: g.sw,
  };
}

/** The phase kernel as a dense tensor [C, O/groups, JH, JW] (the caller disposes it). */
export function flipWeights(dev: Device, { w, g, phase: { th, tw } }: WeightFlip): Tensor {
  const cpg = g.C / g.groups;
  const opg = g.O / g.groups;
  const wt = empty(dev, [g.C, opg, th.J, tw.J], w.dtype, 'conv2d.dgrad');
  dev.dispatch(
    flipWeightKernel(w.dtype),
    { W: w.storage.buf, Wt: wt.storage.buf },
    { O: g.O, cpg, opg, KH: g.KH, KW: g.KW, k0h: th.k0, k0w: tw.k0, sh: g.sh, sw: g.sw, JH: th.J, JW: tw.J },
    dev.grid1d(wt.size, FLIP_WG),
  );
  return wt;
}
