// conv2d weight gradient: gw[oc, ci, kh, kw] = Σ_{n, oy, ox} gy[n, oc, oy, ox] · x[n, g·cpg + ci, iy, ix].
//
// Loads dominate on llvmpipe (each is a per-lane loop), so the kernel is built around FMAs per loaded value.
// An invocation owns TO output channels × TC input channels × R kernel rows × all KW kernel columns, and walks
// its share of the (n, oy) rows in blocks of B output columns:
// - gy: TO·B loads per block, reused by every input channel, kernel row and kernel column;
// - x: for each (ci, kernel row) the B·SW input columns of the block are loaded once and feed all KW taps; the
//   taps that reach back into the previous block take its last gy columns, carried in registers (a sliding
//   window with no reloads). Blocks start at input column 0, so left padding costs nothing;
// - with subgroups (SG > 1) the invocations of a workgroup share (ci tile, kernel rows, rows) and differ only in
//   output channels, so each lane loads 1/SG of the x columns and reads the rest from lanes 0..SG−1 with
//   subgroupBroadcast (nearly free on llvmpipe). SG ≤ the device's minimum subgroup size, so every subgroup has
//   those lanes, whatever size the device picks.
// Each accumulator is updated once per block with a balanced sum of SSA products (loop-carried writes are
// masked, and fma() is a separate multiply and add). The (row, column block) steps are split across workgroups
// when the weight alone gives too few; the splits' partial weights are summed afterwards.
import { type DType, type KernelSource, type ParamField, type VariantList, defineKernel, read, variantKey, write } from '../common';

export interface ConvWgradVariant {
  /** Kernel width, column stride, dilation and padding: the window layout is unrolled. */
  readonly KW: number;
  readonly SW: number;
  readonly DW: number;
  readonly PW: number;
  /** Kernel rows per invocation (divides KH; the kernel-row blocks are a dispatch dimension). */
  readonly R: number;
  /** Output channels per invocation (divides channels per group). */
  readonly TO: number;
  /** Input channels per invocation (divides input channels per group). */
  readonly TC: number;
  /** Output columns per block (B·SW a multiple of SG). */
  readonly B: number;
  /** Lanes sharing the x loads through subgroupBroadcast; 1 = no subgroups. */
  readonly SG: number;
  /** Invocations per workgroup (a multiple of SG): consecutive output-channel tiles of one group. */
  readonly WG: number;
  /** Storage type of gy and x (default f32); the sums and the written gradient are f32. */
  readonly dtype?: DType;
  /**
   * Load each block's gy columns as aligned vec4s (B and the output width multiples of 4, gy dense from 0):
   * 3 loads instead of 8 for B = 8.
   */
  readonly vec4?: boolean;
}

export const WGRAD_PARAMS: ParamField[] = [
  // x may be a channel slice of a larger tensor: its planes are dense, its batch stride is xbs
  'N', 'C', 'H', 'W', 'O', 'OH', 'OW', 'KH', 'sh', 'dh', 'cpg', 'opg', 'groups', 'xoff', 'xbs',
  // work decomposition: kernel-row blocks, ci tiles, oc blocks per group, workgroups, (n, oy) rows, column
  // blocks per row, (row, column block) steps per split
  'khb', 'nct', 'ocb', 'tiles', 'rows', 'nblk', 'chunk',
].map((name) => ({ name, type: 'u32' }) as ParamField).concat([{ name: 'ph', type: 'i32' }]);

/**
 * Column layout of a block: block b covers input columns [b·B·SW, (b+1)·B·SW) (never left of the row, so the
 * left padding costs nothing); its taps pair them with output columns b·B + OFF − HALO .. b·B + OFF + B − 1,
 * of which the first HALO are carried from the previous block.
 */
function wgradLayout(v: Pick<ConvWgradVariant, 'KW' | 'SW' | 'DW' | 'PW' | 'B'>): { OFF: number; HALO: number } {
  const lo = Math.ceil((v.PW - (v.KW - 1) * v.DW) / v.SW);
  const hi = Math.floor((v.B * v.SW - 1 + v.PW) / v.SW);
  const OFF = hi - lo + 1 >= v.B ? hi - v.B + 1 : lo;
  return { OFF, HALO: OFF - lo };
}

/** Balanced sum, so the products of a block do not form one long dependency chain. */
function tree(terms: string[]): string {
  if (terms.length === 1) return terms[0];
  const h = Math.ceil(terms.length / 2);
  return `(${tree(terms.slice(0, h))} + ${tree(terms.slice(h))})`;
}

export function convWgradKernel(v: ConvWgradVariant): KernelSource {
  const { B, SW, SG, WG } = v;
  if ((B * SW) % SG !== 0 || WG % SG !== 0) throw new Error(`conv2d.wgrad: B·SW=${B * SW} and WG=${WG} must be multiples of SG=${SG}`);
  const st = v.dtype ?? 'f32';
  return defineKernel({
    name: 'conv2d.wgrad',
    key: variantKey('conv2d.wgrad', v),
    workgroupSize: [WG, 1, 1],
    bindings: [read('GY', v.vec4 ? `vec4<${st}>` : st), read('X', st), write('GW')],
    params: WGRAD_PARAMS,
    enable: SG > 1 ? ['subgroups'] : [],
    body: () => wgradBody(v),
  });
}

/** WGSL after the declarations: all taps of `R` kernel rows per invocation, sliding a column window. */
function wgradBody(v: ConvWgradVariant): string {
  const { KW, SW, DW, PW, R, TO, TC, B, SG, WG } = v;
  const st = v.dtype ?? 'f32';
  // loads widen f16 operands to f32
  const ld = (e: string): string => (st === 'f32' ? e : `f32(${e})`);
  const range = (n: number): number[] => [...Array(n).keys()];
  const J = range(TO);
  const Cs = range(TC);
  const Rs = range(R);
  const Ks = range(KW);
  const { OFF, HALO } = wgradLayout(v);
  const QN = B * SW; // input columns per block
  const chunks = QN / SG; // x loads per (ci, kernel row) per lane
  // gy column i of the block (i < 0: carried)
  const g = (j: number, i: number): string => (i >= 0 ? `g${j}_${i}` : `h${j}_${i + HALO}`);
  const xv = (c: number, r: number, q: number): string =>
    SG > 1 ? `subgroupBroadcast(x${c}_${r}_${Math.floor(q / SG)}, ${q % SG}u)` : `x${c}_${r}_${q}`;
  const acc = (j: number, c: number, r: number, kw: number): string => `a${j}_${c}_${r}_${kw}`;
  const each = (f: (j: number, c: number, r: number, kw: number) => string): string =>
    J.flatMap((j) => Cs.flatMap((c) => Rs.flatMap((r) => Ks.map((kw) => f(j, c, r, kw))))).join('\n');

  const body: string[] = [];
  if (v.vec4) {
    if (B % 4 !== 0) throw new Error(`conv2d.wgrad: vec4 gy loads need B a multiple of 4, got ${B}`);
    // block column i is output column 4·(blk·B/4) + OFF + i: vec4 u = floor((OFF + i)/4), component (OFF + i) mod 4;
    // each vec4 lies wholly inside or outside the row (OW is a multiple of 4)
    const vi = (i: number): number => Math.floor((OFF + i) / 4);
    const us = range(vi(B - 1) - vi(0) + 1).map((u) => u + vi(0));
    for (const j of J) {
      for (const u of us) {
        body.push(`    let q${j}_${u - vi(0)} = i32(blk * ${B / 4}u) + ${u};`);
        body.push(`    let gv${j}_${u - vi(0)} = select(vec4<${st}>(0.0), GY[gr${j} / 4u + u32(clamp(q${j}_${u - vi(0)}, 0, i32(p.OW / 4u) - 1))], q${j}_${u - vi(0)} >= 0 && q${j}_${u - vi(0)} < i32(p.OW / 4u));`);
      }
      for (let i = 0; i < B; i++) body.push(`    let g${j}_${i} = ${ld(`gv${j}_${vi(i) - vi(0)}[${(((OFF + i) % 4) + 4) % 4}]`)};`);
    }
  } else {
    for (const j of J) {
      for (let i = 0; i < B; i++) body.push(`    let g${j}_${i} = select(0.0, ${ld(`GY[gr${j} + min(ox0 + ${i}u, ow1)]`)}, ox0 + ${i}u < p.OW);`);
    }
  }
  for (const c of Cs) {
    for (const r of Rs) {
      for (let k = 0; k < chunks; k++) {
        const col = SG > 1 ? `ix0 + ${k * SG}u + sl` : `ix0 + ${k}u`;
        body.push(`    let c${c}_${r}_${k} = ${col};`);
        body.push(`    let x${c}_${r}_${k} = select(0.0, ${ld(`X[xr${c}_${r} + min(c${c}_${r}_${k}, iw1)]`)}, ok${r} && c${c}_${r}_${k} < p.W);`);
      }
      for (const kw of Ks) {
        for (const j of J) {
          // products of input column q with the output column it meets through tap kw
          const terms: string[] = [];
          for (let q = 0; q < QN; q++) {
            const m = q + PW - kw * DW;
            if (m % SW === 0) terms.push(`${g(j, m / SW - OFF)} * ${xv(c, r, q)}`);
          }
          if (terms.length > 0) body.push(`    ${acc(j, c, r, kw)} += ${tree(terms)};`);
        }
      }
    }
  }
  // carry the last HALO gy columns into the next block (all computed before any is assigned: HALO may exceed B)
  for (const j of J) {
    for (let h = 0; h < HALO; h++) body.push(`    let n${j}_${h} = ${g(j, B - HALO + h)};`);
    for (let h = 0; h < HALO; h++) body.push(`    h${j}_${h} = n${j}_${h};`);
  }

  const KK = `(p.KH * ${KW}u)`;
  return `@compute @workgroup_size(${WG}, 1, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) li: u32${SG > 1 ? ', @builtin(subgroup_invocation_id) lane: u32' : ''}) {
  // everything but the output channel is uniform over the workgroup, so the subgroup operations are too
  let wi = wid.x + wid.y * nwg.x;
  if (wi >= p.tiles) { return; }
  let khb = wi % p.khb;
  let cit = (wi / p.khb) % p.nct;
  let ocb = (wi / (p.khb * p.nct)) % p.ocb;
  let grp = (wi / (p.khb * p.nct * p.ocb)) % p.groups;
  let split = wi / (p.khb * p.nct * p.ocb * p.groups);
  let ocl = (ocb * ${WG}u + li) * ${TO}u;
  let valid = ocl < p.opg;
  let oc0 = grp * p.opg + min(ocl, p.opg - ${TO}u);
  let cl0 = cit * ${TC}u;
  let kh0 = khb * ${R}u;
  let ow1 = p.OW - 1u;
  let iw1 = p.W - 1u;
${SG > 1 ? `  let sl = lane % ${SG}u;\n` : ''}${each((j, c, r, kw) => `  var ${acc(j, c, r, kw)} = 0.0;`)}
${J.flatMap((j) => range(HALO).map((h) => `  var h${j}_${h} = 0.0;`)).join('\n')}
  let t0 = split * p.chunk;
  let t1 = min(p.rows * p.nblk, t0 + p.chunk);
  for (var t = t0; t < t1; t++) {
    let row = t / p.nblk;
    let blk = t % p.nblk;
    let n = row / p.OH;
    let oy = row % p.OH;
${J.map((j) => `    let gr${j} = ((n * p.O + oc0 + ${j}u) * p.OH + oy) * p.OW;`).join('\n')}
${Rs.map((r) => `    let iy${r} = i32(oy * p.sh + (kh0 + ${r}u) * p.dh) - p.ph;
    let ok${r} = iy${r} >= 0 && iy${r} < i32(p.H);
    let yo${r} = u32(clamp(iy${r}, 0, i32(p.H) - 1)) * p.W;`).join('\n')}
${Cs.map((c) => `    let xc${c} = p.xoff + n * p.xbs + (grp * p.cpg + cl0 + ${c}u) * p.H * p.W;\n${Rs.map((r) => `    let xr${c}_${r} = xc${c} + yo${r};`).join('\n')}`).join('\n')}
    let ox0 = blk * ${B}u + ${OFF}u;
    let ix0 = blk * ${QN}u;
${HALO > 0 ? `    if (blk == 0u || t == t0) {
      // a row or split starts: load the columns a previous block would have carried
${J.flatMap((j) => range(HALO).map((h) => `      let hc${j}_${h} = i32(ox0) - ${HALO - h};\n      h${j}_${h} = select(0.0, ${ld(v.vec4 ? `GY[(gr${j} + u32(clamp(hc${j}_${h}, 0, i32(ow1)))) / 4u][u32(clamp(hc${j}_${h}, 0, i32(ow1))) % 4u]` : `GY[gr${j} + u32(clamp(hc${j}_${h}, 0, i32(ow1)))]`)}, hc${j}_${h} >= 0 && hc${j}_${h} < i32(p.OW));`)).join('\n')}
    }` : ''}
${body.join('\n')}
  }
  if (!valid) { return; }
  let wbase = split * p.O * p.cpg * ${KK};
${each((j, c, r, kw) => `  GW[wbase + ((oc0 + ${j}u) * p.cpg + cl0 + ${c}u) * ${KK} + (kh0 + ${r}u) * ${KW}u + ${kw}u] = ${acc(j, c, r, kw)};`)}
}`;
}

/** The same geometries with and without shared x loads (lanes 4: SwiftShader, 8: lavapipe). */
export const variants: VariantList = (caps) =>
  ([[1, 1, 1], [3, 1, 1], [3, 2, 1], [5, 1, 1], [3, 1, 2]] as const).flatMap(([K, S, D]) =>
    (caps.subgroups ? [1, 4, 8] : [1]).flatMap((SG) =>
      [false, true].map((vec4) => convWgradKernel({ KW: K, SW: S, DW: D, PW: (D * (K - 1)) / 2, R: K === 5 ? 1 : K, TO: SG === 1 ? 4 : 1, TC: 4, B: 8, SG, WG: 64, ...(vec4 ? { vec4 } : {}) })),
    ),
  );
