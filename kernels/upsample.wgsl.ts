// Nearest-neighbour resize of NCHW planes with PyTorch's legacy 'nearest' rule: src = min(floor(dst · scale),
// in − 1) with scale = in/out (or 1/scale_factor), computed in float32 as PyTorch does. Backward gathers the
// outputs that map to each input pixel.
import { type DType, type KernelSource, type ParamField, type VariantList, computeEntry, defineKernel, gridStride, read, write } from './common';

export const UP_WG = 64;
const PARAMS: ParamField[] = [
  ...['planes', 'H', 'W', 'OH', 'OW', 'xoff'].map((name) => ({ name, type: 'u32' }) as ParamField),
  { name: 'scaleH', type: 'f32' },
  { name: 'scaleW', type: 'f32' },
];

const SRC = `fn src(d: u32, scale: f32, n: u32) -> u32 { return min(u32(floor(f32(d) * scale)), n - 1u); }`;

/** A pure gather, so x and y share one storage type. */
export function upsampleFwdKernel(dtype: DType = 'f32'): KernelSource {
  return defineKernel({
    name: 'upsample.fwd',
    key: dtype === 'f32' ? 'upsample.fwd' : `upsample.fwd.${dtype}`,
    workgroupSize: [UP_WG, 1, 1],
    bindings: [read('x', dtype), write('y', dtype)],
    params: PARAMS,
    body: () => `${SRC}
${computeEntry([UP_WG, 1, 1])} {
${gridStride(UP_WG, 'i', 'p.planes * p.OH * p.OW', `    let ox = i % p.OW;
    let oy = (i / p.OW) % p.OH;
    let plane = i / (p.OW * p.OH);
    y[i] = x[p.xoff + (plane * p.H + src(oy, p.scaleH, p.H)) * p.W + src(ox, p.scaleW, p.W)];`)}
}`,
  });
}

/** Sums in f32; gy and gx share one storage type (f16 in mixed-precision training). */
export function upsampleBwdKernel(dtype: DType = 'f32'): KernelSource {
  return defineKernel({
    name: 'upsample.bwd',
    key: dtype === 'f32' ? 'upsample.bwd' : `upsample.bwd.${dtype}`,
    workgroupSize: [UP_WG, 1, 1],
    bindings: [read('gy', dtype), write('gx', dtype)],
    params: PARAMS,
    body: () => `${SRC}
${computeEntry([UP_WG, 1, 1])} {
${gridStride(UP_WG, 'i', 'p.planes * p.H * p.W', `    let ix = i % p.W;
    let iy = (i / p.W) % p.H;
    let plane = i / (p.W * p.H);
    // candidate outputs: a window around iy / scale, checked exactly with the forward rule
    let oy0 = u32(max(floor(f32(iy) / p.scaleH) - 1.0, 0.0));
    let oy1 = min(u32(ceil(f32(iy + 1u) / p.scaleH)) + 1u, p.OH);
    let ox0 = u32(max(floor(f32(ix) / p.scaleW) - 1.0, 0.0));
    let ox1 = min(u32(ceil(f32(ix + 1u) / p.scaleW)) + 1u, p.OW);
    var acc = 0.0;
    for (var oy = oy0; oy < oy1; oy++) {
      if (src(oy, p.scaleH, p.H) != iy) { continue; }
      for (var ox = ox0; ox < ox1; ox++) {
        if (src(ox, p.scaleW, p.W) == ix) { acc += f32(gy[(plane * p.OH + oy) * p.OW + ox]); }
      }
    }
    gx[i] = ${dtype}(acc);`)}
}`,
  });
}

export const variants: VariantList = (caps) =>
  (caps.f16 ? (['f32', 'f16'] as const) : (['f32'] as const)).flatMap((d) => [upsampleFwdKernel(d), upsampleBwdKernel(d)]);
