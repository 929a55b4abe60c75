// The single-head config of a dual-head (PGI) config, derived from its graph: keep exactly the rows the main
// head half reads (transitively), drop identity Silence rows by reading their source instead, and end with a
// DDetect on the main inputs. For the official yamls this yields the official gelan-X graphs (same rows, args
// and state-dict keys); for a user's yaml it yields the matching deployable graph without a hand-written pair.
import { stringify } from 'yaml';
import { type ModelConfig, parseModelConfig } from './config';
import { planModel } from './yolo';

/** The single-head (GELAN) config of a dual-head YOLOv9 config, derived from its graph: the rows the main head reads. */
export function gelanConfigFor(dual: ModelConfig): ModelConfig {
  const rows = planModel(dual).rows;
  const head = rows[rows.length - 1];
  if (head.module !== 'DualDDetect') throw new Error(`${dual.source}: its last layer is ${head.module}, not DualDDetect: there is no auxiliary branch to remove`);
  const hf = head.from as number[];
  const mainInputs = hf.slice(hf.length / 2);
  // a Silence row passes its input through: read its source instead
  const skip = (j: number): number => (j >= 0 && rows[j].module === 'Silence' ? skip(rows[j].from as number) : j);
  const sources = (j: number): number[] => [rows[j].from].flat().map(skip);
  const needed = new Set<number>();
  const visit = (j: number): void => {
    if (j < 0 || needed.has(j)) return;
    needed.add(j);
    sources(j).forEach(visit);
  };
  mainInputs.map(skip).forEach(visit);
  let kept = [...needed].sort((a, b) => a - b);
  // only row 0 may read the image directly; a second stem that restarts from the image (gelan-e) reads it
  // through a Silence row at index 0, as the official yamls do
  const image = kept.slice(1).some((j) => sources(j).includes(-1)) ? rows.findIndex((r) => r.module === 'Silence' && r.from === -1) : -1;
  if (image > 0 || (image === 0 && !needed.has(0))) kept = [image, ...kept];
  const newIndex = new Map(kept.map((j, n) => [j, n] as const));
  const ref = (j: number, at: number): number => {
    const s = skip(j);
    const n = s < 0 ? (image >= 0 ? newIndex.get(image)! : -1) : newIndex.get(s)!;
    return n === at - 1 || (n === -1 && at === 0) ? -1 : n;
  };
  const backboneLen = Array.isArray(dual.raw.backbone) ? dual.raw.backbone.length : 0;
  const backbone: unknown[] = [];
  const neck: unknown[] = [];
  kept.forEach((j, at) => {
    const r = rows[j];
    const from = j === image ? -1 : Array.isArray(r.from) ? r.from.map((f) => ref(f, at)) : ref(r.from, at);
    (j < backboneLen ? backbone : neck).push([from, dual.rows[j].n, r.module, dual.rows[j].args]);
  });
  neck.push([mainInputs.map((j) => newIndex.get(skip(j))!), 1, 'DDetect', [dual.nc]]);
  const out: Record<string, unknown> = { ...dual.raw, nc: dual.nc, backbone, head: neck };
  return parseModelConfig(stringify(out), `${dual.source} (auxiliary branch removed)`);
}
