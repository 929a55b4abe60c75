// conv2d forward, direct: each invocation computes `to` output channels × 4 adjacent output columns, so per
// (input channel, tap) it loads `to` weights and 4 inputs for 4·to FMAs. Optional fused bias and SiLU epilogue
// (the inference path of Conv+BN+SiLU after folding).
import { type KernelSource, bindingDecls, computeEntry, flatIndex, paramsLayout, variantKey } from '../common';
import { CONV_PARAMS } from './params';

export interface ConvFwdVariant {
  /** Output channels per invocation (4 when channels-per-group allows, else 1). */
  readonly to: 1 | 4;
  readonly bias: boolean;
  readonly act: 'none' | 'silu';
}

export const CONV_TW = 4;
export const CONV_WG = 64;

export function convFwdKernel(v: ConvFwdVariant): KernelSource {
  const bindings = [
    { name: 'X', access: 'read' as const, type: 'f32' },
    { name: 'Wt', access: 'read' as const, type: 'f32' },
    ...(v.bias ? [{ name: 'Bs', access: 'read' as const, type: 'f32' }] : []),
    { name: 'Y', access: 'write' as const, type: 'f32' },
  ];
  const J = [...Array(v.to).keys()];
  const T = [...Array(CONV_TW).keys()];
  const epilogue = (j: number, t: number): string => {
    let e = `acc${j}[${t}]${v.bias ? ` + Bs[oc0 + ${j}u]` : ''}`;
    if (v.act === 'silu') e = `silu_(${e})`;
    return e;
  };
  const code = `${paramsLayout(CONV_PARAMS).wgsl}
${bindingDecls(bindings, true)}
fn silu_(x: f32) -> f32 { return x / (1.0 + exp(-x)); }
${computeEntry([CONV_WG, 1, 1])} {
  let idx = ${flatIndex(CONV_WG)};
  if (idx >= p.N * (p.O / ${v.to}u) * p.OH * p.tiles) { return; }
  let oxt = idx % p.tiles;
  let oy = (idx / p.tiles) % p.OH;
  let oct = (idx / (p.tiles * p.OH)) % (p.O / ${v.to}u);
  let n = idx / (p.tiles * p.OH * (p.O / ${v.to}u));
  let oc0 = oct * ${v.to}u;
  let ox0 = oxt * ${CONV_TW}u;
  let cbase = (oc0 / p.opg) * p.cpg;
  let KK = p.KH * p.KW;
${J.map((j) => `  var acc${j} = vec4<f32>(0.0);`).join('\n')}
  // input column of each of the 4 outputs at tap kw = 0
${T.map((t) => `  let ix${t} = i32((ox0 + ${t}u) * p.sw) - p.pw;`).join('\n')}
  for (var ci = 0u; ci < p.cpg; ci++) {
    let xc = p.xoff + (n * p.C + cbase + ci) * p.H * p.W;
${J.map((j) => `    let wb${j} = ((oc0 + ${j}u) * p.cpg + ci) * KK;`).join('\n')}
    for (var kh = 0u; kh < p.KH; kh++) {
      let iy = i32(oy * p.sh + kh * p.dh) - p.ph;
      if (iy < 0 || iy >= i32(p.H)) { continue; }
      let xr = xc + u32(iy) * p.W;
      for (var kw = 0u; kw < p.KW; kw++) {
        let dx = i32(kw * p.dw);
${T.map((t) => `        let c${t} = ix${t} + dx;\n        let v${t} = select(0.0, X[xr + u32(clamp(c${t}, 0, i32(p.W) - 1))], c${t} >= 0 && c${t} < i32(p.W));`).join('\n')}
        let xv = vec4<f32>(${T.map((t) => `v${t}`).join(', ')});
        let tap = kh * p.KW + kw;
${J.map((j) => `        acc${j} += Wt[wb${j} + tap] * xv;`).join('\n')}
      }
    }
  }
${J.map(
  (j) => `  {
    let yb = ((n * p.O + oc0 + ${j}u) * p.OH + oy) * p.OW + ox0;
${T.map((t) => `    if (ox0 + ${t}u < p.OW) { Y[yb + ${t}u] = ${epilogue(j, t)}; }`).join('\n')}
  }`,
).join('\n')}
}
`;
  return { name: 'conv2d.fwd', key: variantKey('conv2d.fwd', v), code, workgroupSize: [CONV_WG, 1, 1], bindings: bindings.map((b) => b.access), params: CONV_PARAMS };
}
