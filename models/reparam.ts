// Removal of the PGI auxiliary branch: a trained dual-head YOLOv9 model becomes the single-head GELAN model of
// the same size. The layer mapping is derived from the two graphs (same module, same arguments, inputs that
// map onto each other), which reproduces the official table (t/s: same index; m/c: +1 for the Silence row;
// e: +7 after the auxiliary neck) and works for a user's own pair of configs; the head takes the main half
// (cv4 → cv2, cv5 → cv3, dfl2 → dfl).
import { copy } from '../engine/ops';
import { noGrad } from '../engine/tensor';
import { fmtShape } from '../engine/errors';
import { type ModelConfig, withClassCount } from './config';
import { DetectionModel, type ResolvedRow } from './yolo';

export interface AuxRemovalMapping {
  /** gelan row index → dual-model row index, for every row but the head. */
  readonly rows: ReadonlyMap<number, number>;
  readonly head: { readonly gelan: number; readonly dual: number };
}

const HEAD_PARTS: readonly (readonly [string, string])[] = [
  ['cv2', 'cv4'],
  ['cv3', 'cv5'],
  ['dfl', 'dfl2'],
];

/** How the rows of a dual-branch (PGI) model map onto the GELAN model without the auxiliary branch; throws when they do not line up. */
export function auxRemovalMapping(dual: readonly ResolvedRow[], gelan: readonly ResolvedRow[], names = { dual: 'dual model', gelan: 'gelan model' }): AuxRemovalMapping {
  const fail = (msg: string): never => {
    throw new Error(`cannot remove the auxiliary branch of ${names.dual} into ${names.gelan}: ${msg}`);
  };
  const dualHead = dual[dual.length - 1];
  const gelanHead = gelan[gelan.length - 1];
  if (dualHead.module !== 'DualDDetect') fail(`its last layer is ${dualHead.module}, not DualDDetect`);
  if (gelanHead.module !== 'DDetect') fail(`the target's last layer is ${gelanHead.module}, not DDetect`);
  // A Silence row is the image itself.
  const canon = (j: number): number => (j >= 0 && dual[j].module === 'Silence' ? canon(dual[j].from as number) : j);
  const rows = new Map<number, number>();
  const mapFrom = (j: number): number =>
    j === -1 ? -1 : gelan[j].module === 'Silence' ? mapFrom(gelan[j].from as number) : (rows.get(j) ?? -2);
  const fromKey = (f: number | number[], m: (j: number) => number): string => JSON.stringify(Array.isArray(f) ? f.map(m) : m(f));
  let p = 0;
  for (const g of gelan.slice(0, -1)) {
    const want = fromKey(g.from, mapFrom);
    let found = -1;
    for (let q = p; q < dual.length - 1 && found < 0; q++) {
      const d = dual[q];
      if (d.module === g.module && d.n === g.n && JSON.stringify(d.args) === JSON.stringify(g.args) && fromKey(d.from, canon) === want) found = q;
    }
    if (found < 0) fail(`layer ${g.index} (${g.module} ${JSON.stringify(g.args)}, from ${JSON.stringify(g.from)}) has no counterpart`);
    rows.set(g.index, found);
    p = found + 1;
  }
  const df = dualHead.from as number[];
  const mainFrom = df.slice(df.length / 2).map(canon);
  const gf = (gelanHead.from as number[]).map(mapFrom);
  if (JSON.stringify(mainFrom) !== JSON.stringify(gf)) fail(`the head inputs differ: main branch reads ${JSON.stringify(mainFrom)}, target reads ${JSON.stringify(gf)}`);
  if (JSON.stringify(dualHead.args[0]) !== JSON.stringify(gelanHead.args[0])) fail(`class counts differ (${String(dualHead.args[0])} vs ${String(gelanHead.args[0])})`);
  return { rows, head: { gelan: gelanHead.index, dual: dualHead.index } };
}

/**
 * A state-dict key renamed across the mapping: the row index through `rows`, and in the head row the head part
 * `from[k]` becomes `to[k]`; null when the row or head part has no counterpart.
 */
function renameKey(key: string, headRow: number, headTo: number, from: readonly string[], to: readonly string[], row: (i: number) => number | undefined): string | null {
  const m = /^model\.(\d+)\.(.*)$/.exec(key);
  if (!m) return null;
  const i = Number(m[1]);
  const rest = m[2];
  if (i === headRow) {
    const k = from.findIndex((a) => rest.startsWith(`${a}.`));
    return k < 0 ? null : `model.${headTo}.${to[k]}${rest.slice(from[k].length)}`;
  }
  const j = row(i);
  return j === undefined ? null : `model.${j}.${rest}`;
}

const GELAN_PARTS = HEAD_PARTS.map(([g]) => g);
const DUAL_PARTS = HEAD_PARTS.map(([, d]) => d);

/** The dual model's name of a GELAN state-dict key under `map` (null for a head entry outside cv2/cv3/dfl). */
export function dualKey(map: AuxRemovalMapping, gelanKey: string): string | null {
  return renameKey(gelanKey, map.head.gelan, map.head.dual, GELAN_PARTS, DUAL_PARTS, (g) => map.rows.get(g));
}

/** The inverse of dualKey: the GELAN name of a dual-model key (null for the auxiliary branch and head half). */
export function gelanKey(map: AuxRemovalMapping, dualModelKey: string): string | null {
  return renameKey(dualModelKey, map.head.dual, map.head.gelan, DUAL_PARTS, GELAN_PARTS, (d) => [...map.rows].find(([, dd]) => dd === d)?.[0]);
}

/** Build the GELAN model for `target` and copy the main-branch weights of `dual` into it (GPU copies). */
export function removeAuxBranch(dual: DetectionModel, target: ModelConfig): DetectionModel {
  target = withClassCount(target, dual.nc);
  const gelan = new DetectionModel(dual.device, target, () => 0.5, dual.inputChannels);
  try {
    const map = auxRemovalMapping(dual.rows, gelan.rows, { dual: dual.config.source, gelan: target.source });
    const src = new Map([...dual.stateEntries()].map(([k, t]) => [k, t] as const));
    const srcBn = new Map([...dual.batchNorms()].map(([k, bn]) => [k, bn] as const));
    const sourceKey = (key: string): string => {
      const k = dualKey(map, key);
      if (!k) throw new Error(`unexpected head entry ${key}`);
      return k;
    };
    noGrad(gelan.device, () => {
      for (const [key, t] of [...gelan.stateEntries()]) {
        const sk = sourceKey(key);
        const s = src.get(sk);
        if (!s) throw new Error(`${dual.config.source} has no ${sk} for ${target.source} ${key}`);
        if (JSON.stringify(s.shape) !== JSON.stringify(t.shape)) throw new Error(`${sk} ${fmtShape(s.shape)} does not fit ${key} ${fmtShape(t.shape)}`);
        gelan.setTensor(key, copy(s));
      }
      for (const [key, bn] of gelan.batchNorms()) bn.numBatchesTracked = srcBn.get(sourceKey(`${key}.weight`).replace(/\.weight$/, ''))?.numBatchesTracked ?? 0;
    });
    return gelan;
  } catch (e) {
    gelan.dispose();
    throw e;
  }
}
