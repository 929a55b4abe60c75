// conv2d weight gradient: gw[oc, ci, kh, kw] = Σ_{n, oy, ox} gy[n, oc, oy, ox] · x[n, g·cpg + ci, iy, ix].
// Each invocation computes `to` output channels × `tc` input channels for one tap over one chunk of the
// (n, oy) rows; chunks ("splits") give parallelism when the weight is small, and are summed afterwards.
import { type KernelSource, bindingDecls, computeEntry, flatIndex, paramsLayout, variantKey } from '../common';
import { CONV_PARAMS } from './params';
import { CONV_WG } from './params';

export interface ConvWgradVariant {
  readonly to: 1 | 4;
  readonly tc: 1 | 4;
}

export function convWgradKernel(v: ConvWgradVariant): KernelSource {
  const bindings = [
    { name: 'GY', access: 'read' as const, type: 'f32' },
    { name: 'X', access: 'read' as const, type: 'f32' },
    { name: 'GW', access: 'write' as const, type: 'f32' },
  ];
  const J = [...Array(v.to).keys()];
  const I = [...Array(v.tc).keys()];
  const code = `${paramsLayout(CONV_PARAMS).wgsl}
${bindingDecls(bindings, true)}
${computeEntry([CONV_WG, 1, 1])} {
  let idx = ${flatIndex(CONV_WG)};
  let KK = p.KH * p.KW;
  let nct = p.cpg / ${v.tc}u;
  let per = (p.O / ${v.to}u) * nct * KK;
  // p.tiles = number of splits of the (n, oy) rows
  if (idx >= per * p.tiles) { return; }
  let split = idx / per;
  let r = idx % per;
  let tap = r % KK;
  let cit = (r / KK) % nct;
  let oct = r / (KK * nct);
  let kh = tap / p.KW;
  let kw = tap % p.KW;
  let oc0 = oct * ${v.to}u;
  let ci0 = cit * ${v.tc}u;
  let cb = (oc0 / p.opg) * p.cpg + ci0;
${J.map((j) => `  var acc${j} = ${v.tc === 4 ? 'vec4<f32>(0.0)' : '0.0'};`).join('\n')}
  let row0 = split * p.chunk;
  let row1 = min(p.rows, row0 + p.chunk);
  for (var row = row0; row < row1; row++) {
    let n = row / p.OH;
    let oy = row % p.OH;
    let iy = i32(oy * p.sh + kh * p.dh) - p.ph;
    if (iy < 0 || iy >= i32(p.H)) { continue; }
${J.map((j) => `    let gb${j} = ((n * p.O + oc0 + ${j}u) * p.OH + oy) * p.OW;`).join('\n')}
${I.map((i) => `    let xb${i} = p.xoff + ((n * p.C + cb + ${i}u) * p.H + u32(iy)) * p.W;`).join('\n')}
    for (var ox = 0u; ox < p.OW; ox++) {
      let ix = i32(ox * p.sw + kw * p.dw) - p.pw;
      if (ix < 0 || ix >= i32(p.W)) { continue; }
      let xv = ${v.tc === 4 ? `vec4<f32>(${I.map((i) => `X[xb${i} + u32(ix)]`).join(', ')})` : 'X[xb0 + u32(ix)]'};
${J.map((j) => `      acc${j} += GY[gb${j} + ox] * xv;`).join('\n')}
    }
  }
  let wsize = p.O * p.cpg * KK;
${J.map((j) =>
  I.map((i) => `  GW[split * wsize + ((oc0 + ${j}u) * p.cpg + ci0 + ${i}u) * KK + tap] = acc${j}${v.tc === 4 ? `[${i}]` : ''};`).join('\n'),
).join('\n')}
}
`;
  return { name: 'conv2d.wgrad', key: variantKey('conv2d.wgrad', v), code, workgroupSize: [CONV_WG, 1, 1], bindings: bindings.map((b) => b.access), params: CONV_PARAMS };
}
