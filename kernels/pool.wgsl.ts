// 2-D max and average pooling over NCHW planes, forward and backward, specialised on the window (kernel size and
// stride are constants). Backward kernels gather (one invocation per input pixel, visiting the windows that cover
// it), so no atomics are needed. The grid is column × row × plane: a flat index cost three integer divisions per
// pixel, which llvmpipe runs lane by lane.
import { type Binding, type DType, type KernelSource, type ParamField, type VariantList, defineKernel, read, variantKey, write } from './common';

/** Workgroups are 8×8 pixels of one plane: the grid's x, y and z are column, row and plane (no index divisions). */
export const POOL_WG: readonly [number, number, number] = [8, 8, 1];
const PARAMS: ParamField[] = ['planes', 'H', 'W', 'OH', 'OW', 'ph', 'pw', 'xoff', 'countPad'].map(
  (name) => ({ name, type: name === 'ph' || name === 'pw' ? 'i32' : 'u32' }) as ParamField,
);

/** The window a pooling variant is specialised on: kernel size and stride are compile-time constants. */
export interface PoolWindow {
  readonly KH: number;
  readonly KW: number;
  readonly SH: number;
  readonly SW: number;
}

function kernel(name: string, w: PoolWindow, dtype: DType, bindings: Binding[], body: string): KernelSource {
  return defineKernel({
    name,
    key: variantKey(name, dtype === 'f32' ? w : { ...w, dtype }),
    workgroupSize: POOL_WG,
    bindings,
    params: PARAMS,
    body: () => `const NEG_MAX = -0x1.fffffep+127f;
const KH = ${w.KH}u;
const KW = ${w.KW}u;
const SH = ${w.SH}u;
const SW = ${w.SW}u;
/** PyTorch's avg-pool divisor for window (oy, ox). */
fn divisor(oy: u32, ox: u32) -> f32 {
  let y0 = i32(oy * SH) - p.ph;
  let x0 = i32(ox * SW) - p.pw;
  let y1 = min(y0 + i32(KH), i32(p.H) + p.ph);
  let x1 = min(x0 + i32(KW), i32(p.W) + p.pw);
  if (p.countPad != 0u) { return f32((y1 - y0) * (x1 - x0)); }
  return f32((min(y1, i32(p.H)) - max(y0, 0)) * (min(x1, i32(p.W)) - max(x0, 0)));
}
@compute @workgroup_size(${POOL_WG.join(', ')})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
${body}
}`,
  });
}

/** This invocation's output pixel (ox, oy) of each plane it visits (planes past the grid's z loop). */
const perOutput = (body: string): string => `  let ox = gid.x;
  let oy = gid.y;
  if (ox >= p.OW || oy >= p.OH) { return; }
  let y0 = i32(oy * SH) - p.ph;
  let x0 = i32(ox * SW) - p.pw;
  for (var plane = gid.z; plane < p.planes; plane += nwg.z) {
    let xb = p.xoff + plane * p.H * p.W;
    let i = (plane * p.OH + oy) * p.OW + ox;
${body}
  }`;

/** This invocation's input pixel (ix, iy), the range of windows (oy, ox) that contain it, and each plane. */
const perInput = (body: string): string => `  let ix = i32(gid.x);
  let iy = i32(gid.y);
  if (u32(ix) >= p.W || u32(iy) >= p.H) { return; }
  // window oy covers iy when oy*SH - ph <= iy < oy*SH - ph + KH
  let oy0 = u32(max(iy + p.ph - i32(KH) + i32(SH), 0)) / SH;
  let oy1 = min(u32(iy + p.ph) / SH + 1u, p.OH);
  let ox0 = u32(max(ix + p.pw - i32(KW) + i32(SW), 0)) / SW;
  let ox1 = min(u32(ix + p.pw) / SW + 1u, p.OW);
  for (var plane = gid.z; plane < p.planes; plane += nwg.z) {
    let gb = plane * p.OH * p.OW;
    let i = (plane * p.H + u32(iy)) * p.W + u32(ix);
    var acc = 0.0;
${body}
  }`;

/** `body` for each input pixel (yy, xx) of the window of output (oy, ox) that lies inside the image. */
const inWindow = (body: string): string => `    for (var ky = 0u; ky < KH; ky++) {
      let yy = y0 + i32(ky);
      if (yy < 0 || yy >= i32(p.H)) { continue; }
      for (var kx = 0u; kx < KW; kx++) {
        let xx = x0 + i32(kx);
        if (xx < 0 || xx >= i32(p.W)) { continue; }
        ${body}
      }
    }`;

/** Forward kernels take the storage type of x and y (the math is f32; the arg-max index stays f32). */
export function maxPoolFwdKernel(w: PoolWindow, dtype: DType = 'f32'): KernelSource {
  return kernel('pool.max.fwd', w, dtype, [read('x', dtype), write('y', dtype), write('idx')], perOutput(`    var m = NEG_MAX;
    var k = 0u;
${inWindow(`let v = f32(x[xb + u32(yy) * p.W + u32(xx)]);
        if (v > m || (v != v)) { m = v; k = u32(yy) * p.W + u32(xx); }`)}
    y[i] = ${dtype}(m);
    idx[i] = f32(k);`));
}

/** Backward kernels take the storage type of gy and gx (f16 in mixed-precision training); sums are f32. */
export function maxPoolBwdKernel(w: PoolWindow, dtype: DType = 'f32'): KernelSource {
  return kernel('pool.max.bwd', w, dtype, [read('gy', dtype), read('idx'), write('gx', dtype)], perInput(`    let me = f32(u32(iy) * p.W + u32(ix));
    for (var oy = oy0; oy < oy1; oy++) {
      for (var ox = ox0; ox < ox1; ox++) {
        let o = gb + oy * p.OW + ox;
        if (idx[o] == me) { acc += f32(gy[o]); }
      }
    }
    gx[i] = ${dtype}(acc);`));
}

export function avgPoolFwdKernel(w: PoolWindow, dtype: DType = 'f32'): KernelSource {
  return kernel('pool.avg.fwd', w, dtype, [read('x', dtype), write('y', dtype)], perOutput(`    var s = 0.0;
${inWindow('s += f32(x[xb + u32(yy) * p.W + u32(xx)]);')}
    y[i] = ${dtype}(s / divisor(oy, ox));`));
}

export function avgPoolBwdKernel(w: PoolWindow, dtype: DType = 'f32'): KernelSource {
  return kernel('pool.avg.bwd', w, dtype, [read('gy', dtype), write('gx', dtype)], perInput(`    for (var oy = oy0; oy < oy1; oy++) {
      for (var ox = ox0; ox < ox1; ox++) {
        acc += f32(gy[gb + oy * p.OW + ox]) / divisor(oy, ox);
      }
    }
    gx[i] = ${dtype}(acc);`));
}

/** YOLO's windows: ADown's 2×2 average (stride 1) and 3×3 max (stride 2), SPPELAN's 5×5 max; plus a 2×2 stride 2. */
export const variants: VariantList = (caps) =>
  (caps.f16 ? (['f32', 'f16'] as const) : (['f32'] as const)).flatMap((d) =>
    [{ KH: 2, KW: 2, SH: 1, SW: 1 }, { KH: 3, KW: 3, SH: 2, SW: 2 }, { KH: 5, KW: 5, SH: 1, SW: 1 }, { KH: 2, KW: 2, SH: 2, SW: 2 }].flatMap((w) => [
      maxPoolFwdKernel(w, d), maxPoolBwdKernel(w, d), avgPoolFwdKernel(w, d), avgPoolBwdKernel(w, d),
    ]),
  );
