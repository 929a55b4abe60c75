// 2-D max and average pooling over NCHW planes, forward and backward. Backward kernels gather (one
// invocation per input pixel, visiting the windows that cover it), so no atomics are needed.
import { type Binding, type DType, type KernelSource, type ParamField, type VariantList, computeEntry, defineKernel, flatIndex, read, variantKey, write } from './common';

export const POOL_WG = 64;
const PARAMS: ParamField[] = ['planes', 'H', 'W', 'OH', 'OW', 'KH', 'KW', 'sh', 'sw', 'ph', 'pw', 'xoff', 'countPad'].map(
  (name) => ({ name, type: name === 'ph' || name === 'pw' ? 'i32' : 'u32' }) as ParamField,
);

function kernel(name: string, variant: object, bindings: Binding[], body: string): KernelSource {
  return defineKernel({
    name,
    key: variantKey(name, variant),
    workgroupSize: [POOL_WG, 1, 1],
    bindings,
    params: PARAMS,
    body: () => `const NEG_MAX = -0x1.fffffep+127f;
/** PyTorch's avg-pool divisor for window (oy, ox). */
fn divisor(oy: u32, ox: u32) -> f32 {
  let y0 = i32(oy * p.sh) - p.ph;
  let x0 = i32(ox * p.sw) - p.pw;
  let y1 = min(y0 + i32(p.KH), i32(p.H) + p.ph);
  let x1 = min(x0 + i32(p.KW), i32(p.W) + p.pw);
  if (p.countPad != 0u) { return f32((y1 - y0) * (x1 - x0)); }
  return f32((min(y1, i32(p.H)) - max(y0, 0)) * (min(x1, i32(p.W)) - max(x0, 0)));
}
${computeEntry([POOL_WG, 1, 1])} {
${body}
}`,
  });
}

const outIndex = `  let i = ${flatIndex(POOL_WG)};
  if (i >= p.planes * p.OH * p.OW) { return; }
  let ox = i % p.OW;
  let oy = (i / p.OW) % p.OH;
  let plane = i / (p.OW * p.OH);
  let y0 = i32(oy * p.sh) - p.ph;
  let x0 = i32(ox * p.sw) - p.pw;
  let xb = p.xoff + plane * p.H * p.W;`;

/** Input pixel of this invocation and the range of windows (oy, ox) that contain it. */
const inIndex = `  let i = ${flatIndex(POOL_WG)};
  if (i >= p.planes * p.H * p.W) { return; }
  let ix = i32(i % p.W);
  let iy = i32((i / p.W) % p.H);
  let plane = i / (p.W * p.H);
  let gb = plane * p.OH * p.OW;
  // window oy covers iy when oy*sh - ph <= iy < oy*sh - ph + KH
  let oy0 = u32(max(iy + p.ph - i32(p.KH) + i32(p.sh), 0)) / p.sh;
  let oy1 = min(u32(iy + p.ph) / p.sh + 1u, p.OH);
  let ox0 = u32(max(ix + p.pw - i32(p.KW) + i32(p.sw), 0)) / p.sw;
  let ox1 = min(u32(ix + p.pw) / p.sw + 1u, p.OW);
  var acc = 0.0;`;

/** Forward kernels take the storage type of x and y (the math is f32; the arg-max index stays f32). */
export function maxPoolFwdKernel(dtype: DType = 'f32'): KernelSource {
  return kernel('pool.max.fwd', dtype === 'f32' ? {} : { dtype }, [read('x', dtype), write('y', dtype), write('idx')], `${outIndex}
  var m = NEG_MAX;
  var k = 0u;
  for (var ky = 0u; ky < p.KH; ky++) {
    let yy = y0 + i32(ky);
    if (yy < 0 || yy >= i32(p.H)) { continue; }
    for (var kx = 0u; kx < p.KW; kx++) {
      let xx = x0 + i32(kx);
      if (xx < 0 || xx >= i32(p.W)) { continue; }
      let v = f32(x[xb + u32(yy) * p.W + u32(xx)]);
      if (v > m || (v != v)) { m = v; k = u32(yy) * p.W + u32(xx); }
    }
  }
  y[i] = ${dtype}(m);
  idx[i] = f32(k);`);
}

/** Backward kernels take the storage type of gy and gx (f16 in mixed-precision training); sums are f32. */
export function maxPoolBwdKernel(dtype: DType = 'f32'): KernelSource {
  return kernel('pool.max.bwd', dtype === 'f32' ? {} : { dtype }, [read('gy', dtype), read('idx'), write('gx', dtype)], `${inIndex}
  let me = f32(u32(iy) * p.W + u32(ix));
  for (var oy = oy0; oy < oy1; oy++) {
    for (var ox = ox0; ox < ox1; ox++) {
      let o = gb + oy * p.OW + ox;
      if (idx[o] == me) { acc += f32(gy[o]); }
    }
  }
  gx[i] = ${dtype}(acc);`);
}

export function avgPoolFwdKernel(dtype: DType = 'f32'): KernelSource {
  return kernel('pool.avg.fwd', dtype === 'f32' ? {} : { dtype }, [read('x', dtype), write('y', dtype)], `${outIndex}
  var s = 0.0;
  for (var ky = 0u; ky < p.KH; ky++) {
    let yy = y0 + i32(ky);
    if (yy < 0 || yy >= i32(p.H)) { continue; }
    for (var kx = 0u; kx < p.KW; kx++) {
      let xx = x0 + i32(kx);
      if (xx < 0 || xx >= i32(p.W)) { continue; }
      s += f32(x[xb + u32(yy) * p.W + u32(xx)]);
    }
  }
  y[i] = ${dtype}(s / divisor(oy, ox));`);
}

export function avgPoolBwdKernel(dtype: DType = 'f32'): KernelSource {
  return kernel('pool.avg.bwd', dtype === 'f32' ? {} : { dtype }, [read('gy', dtype), write('gx', dtype)], `${inIndex}
  for (var oy = oy0; oy < oy1; oy++) {
    for (var ox = ox0; ox < ox1; ox++) {
      acc += f32(gy[gb + oy * p.OW + ox]) / divisor(oy, ox);
    }
  }
  gx[i] = ${dtype}(acc);`);
}

export const variants: VariantList = (caps) =>
  (caps.f16 ? (['f32', 'f16'] as const) : (['f32'] as const)).flatMap((d) => [maxPoolFwdKernel(d), maxPoolBwdKernel(d), avgPoolFwdKernel(d), avgPoolBwdKernel(d)]);
