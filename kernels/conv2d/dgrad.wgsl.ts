// conv2d input gradient as a gather (no atomics): each invocation computes `tc` input channels × 4 adjacent
// input columns, summing gy over the output positions and taps that read them.
import { type KernelSource, type VariantList, computeEntry, defineKernel, flatIndex, variantKey } from '../common';
import { CONV_PARAMS } from './params';
import { CONV_TW, CONV_WG } from './params';

export interface ConvDgradVariant {
  /** Input channels per invocation (4 when channels-per-group allows, else 1). */
  readonly tc: 1 | 4;
}

export function convDgradKernel(v: ConvDgradVariant): KernelSource {
  const bindings = [
    { name: 'GY', access: 'read' as const, type: 'f32' },
    { name: 'Wt', access: 'read' as const, type: 'f32' },
    { name: 'GX', access: 'write' as const, type: 'f32' },
  ];
  const J = [...Array(v.tc).keys()];
  const T = [...Array(CONV_TW).keys()];
  return defineKernel({
    name: 'conv2d.dgrad',
    key: variantKey('conv2d.dgrad', v),
    workgroupSize: [CONV_WG, 1, 1],
    bindings: bindings,
    params: CONV_PARAMS,
    body: () => `${computeEntry([CONV_WG, 1, 1])} {
  let idx = ${flatIndex(CONV_WG)};
  if (idx >= p.N * (p.C / ${v.tc}u) * p.H * p.tiles) { return; }
  let ixt = idx % p.tiles;
  let iy = (idx / p.tiles) % p.H;
  let ct = (idx / (p.tiles * p.H)) % (p.C / ${v.tc}u);
  let n = idx / (p.tiles * p.H * (p.C / ${v.tc}u));
  let c0 = ct * ${v.tc}u;
  let ix0 = ixt * ${CONV_TW}u;
  let g = c0 / p.cpg;
  let ci0 = c0 - g * p.cpg;
  let KK = p.KH * p.KW;
${J.map((j) => `  var acc${j} = vec4<f32>(0.0);`).join('\n')}
  for (var oc = g * p.opg; oc < (g + 1u) * p.opg; oc++) {
    let gyc = (n * p.O + oc) * p.OH * p.OW;
${J.map((j) => `    let wb${j} = (oc * p.cpg + ci0 + ${j}u) * KK;`).join('\n')}
    for (var kh = 0u; kh < p.KH; kh++) {
      let ty = i32(iy) + p.ph - i32(kh * p.dh);
      if (ty < 0 || ty % i32(p.sh) != 0) { continue; }
      let oy = u32(ty) / p.sh;
      if (oy >= p.OH) { continue; }
      let gr = gyc + oy * p.OW;
      for (var kw = 0u; kw < p.KW; kw++) {
${T.map(
  (t) => `        let tx${t} = i32(ix0 + ${t}u) + p.pw - i32(kw * p.dw);
        let ox${t} = u32(max(tx${t}, 0)) / p.sw;
        let v${t} = select(0.0, GY[gr + min(ox${t}, p.OW - 1u)], tx${t} >= 0 && tx${t} % i32(p.sw) == 0 && ox${t} < p.OW);`,
).join('\n')}
        let gv = vec4<f32>(${T.map((t) => `v${t}`).join(', ')});
        let tap = kh * p.KW + kw;
${J.map((j) => `        acc${j} += Wt[wb${j} + tap] * gv;`).join('\n')}
      }
    }
  }
${J.map(
  (j) => `  {
    let xb = ((n * p.C + c0 + ${j}u) * p.H + iy) * p.W + ix0;
${T.map((t) => `    if (ix0 + ${t}u < p.W) { GX[xb + ${t}u] = acc${j}[${t}]; }`).join('\n')}
  }`,
).join('\n')}
}`,
  });
}

export const variants: VariantList = () => [convDgradKernel({ tc: 1 }), convDgradKernel({ tc: 4 })];
