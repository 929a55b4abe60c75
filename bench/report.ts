// The report of `npm run bench`: the table printed at the end and the JSON file.
import type { PeerName } from './peer-api';
import type { MemoryLine, OurResult } from './suite';

export type PeerKey = PeerName | 'torch_cpu';
export interface PeerCell {
  median_ms?: number;
  wall_median_ms?: number;
  gpu_median_ms?: number | null;
  timing?: 'gpu' | 'wall' | 'cpu';
  samples?: number;
  max_abs_diff?: number;
  /** max |peer − ours| ÷ max |ours|. */
  rel_diff?: number;
  /** How the peer expressed the case when it has no direct op for it. */
  note?: string;
  skipped?: string;
}
export interface Row {
  ours: OurResult;
  peers: Partial<Record<PeerKey, PeerCell>>;
}

export const ms = (v: number | undefined | null): string => (v === undefined || v === null ? '' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

export const TIMING_NOTE =
  'median over samples after a warm-up; gpu = sum of compute-pass durations from timestamp queries on the shared device ' +
  '(excludes copies/uploads outside passes and gaps between submits); wall = record + submit + GPU + onSubmittedWorkDone; ' +
  'median_ms is gpu where every sample was timed, else wall; torch_cpu is CPU wall time';

export function printTable(rows: Row[], peakGflops: number, peerNames: PeerName[], unavailable: Partial<Record<PeerKey, string>>): void {
  const cols: PeerKey[] = [...peerNames.filter((p) => !unavailable[p]), ...(unavailable.torch_cpu ? [] : (['torch_cpu'] as const))];
  // ours alone (`gelan bench`): no peer columns and no peer notes
  const peers = peerNames.length > 0;
  const head = ['case', 'ours ms', 'ours wall', 'GFLOP/s', '% peak', ...cols.map((c) => `${c} ms`), ...(peers ? ['vs fastest peer'] : [])];
  const notes: string[] = [];
  const mark = (note: string): string => {
    let i = notes.indexOf(note);
    if (i < 0) i = notes.push(note) - 1;
    return '*'.repeat(i + 1);
  };
  const body = rows.map((r) => {
    const o = r.ours;
    const gf = o.flops / (o.median_ms * 1e6);
    // fastest WebGPU peer's time ÷ ours, each on the same basis (GPU time where both have it, else wall time)
    let best: { ratio: number; name: string } | null = null;
    for (const k of peerNames) {
      const cell = r.peers[k];
      if (!cell || cell.skipped || cell.median_ms === undefined) continue;
      const both = cell.gpu_median_ms != null && o.gpu_median_ms != null;
      const ratio = (both ? cell.gpu_median_ms! : cell.wall_median_ms!) / (both ? o.gpu_median_ms! : o.wall_median_ms);
      if (!best || ratio < best.ratio) best = { ratio, name: k };
    }
    return [
      o.name,
      ms(o.median_ms) + (o.timing === 'wall' ? 'w' : ''),
      ms(o.wall_median_ms),
      gf.toFixed(1),
      `${((100 * gf) / peakGflops).toFixed(0)}%`,
      ...cols.map((k) => {
        const cell = r.peers[k];
        if (!cell) return '';
        if (cell.skipped) return cell.skipped.startsWith('WRONG') ? 'WRONG' : '—';
        return ms(cell.median_ms) + (cell.timing === 'wall' ? 'w' : '') + (cell.note ? mark(`${k}: ${cell.note}`) : '');
      }),
      ...(peers ? [best ? `${best.ratio.toFixed(2)}x ${best.name}` : ''] : []),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const fmt = (cells: string[]): string => `| ${cells.map((s, i) => (i === 0 ? s.padEnd(widths[i]) : s.padStart(widths[i]))).join(' | ')} |`;
  console.log(`\n${fmt(head)}\n|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
  for (const b of body) console.log(fmt(b));
  console.log(
    `\nms: median GPU time from timestamp queries (sum of compute-pass durations on the ${peers ? 'shared ' : ''}device); 'w' = wall time instead` +
      `\n(record + submit + GPU + onSubmittedWorkDone). 'ours wall' = our wall time.${cols.includes('torch_cpu') ? ' torch_cpu = PyTorch CPU wall time (2 threads).' : ''}` +
      `\nGFLOP/s and % of the measured ${peakGflops.toFixed(1)} GFLOP/s peak (register-only FMA loop) use 'ours ms'.` +
      (peers
        ? `\n'vs fastest peer' = the fastest WebGPU peer's time ÷ ours (> 1: ours faster), GPU time vs GPU time where both have it.` +
          `\n'—' = the peer cannot express the case; WRONG = its result disagreed with ours (not timed). Reasons below.`
        : ''),
  );
  notes.forEach((n, i) => console.log(`${'*'.repeat(i + 1)} ${n}`));
  const reasons = new Map<string, string[]>();
  for (const r of rows) {
    for (const [k, cell] of Object.entries(r.peers)) {
      if (!cell?.skipped) continue;
      const key = `${k}: ${cell.skipped}`;
      reasons.set(key, [...(reasons.get(key) ?? []), r.ours.name]);
    }
  }
  for (const [why, names] of reasons) console.log(`— ${why} (${names.length > 4 ? `${names.length} cases` : names.join(', ')})`);
}

/**
 * `{ adapter, date, cases: [{ name, flops, ours: { median_ms }, peers: { tfjs: { median_ms }, ... } }] }`;
 * peers that did not run a case are left out of its `peers` (their reason is under `skipped`).
 */
export function jsonReport(
  adapter: string,
  peakGflops: number,
  rows: Row[],
  failed: { name: string; error: string }[],
  unavailable: Partial<Record<PeerKey, string>>,
  memory: MemoryLine | null,
): unknown {
  return {
    adapter,
    date: new Date().toISOString(),
    peak_gflops: peakGflops,
    timing: TIMING_NOTE,
    cases: rows.map((r) => ({
      name: r.ours.name,
      flops: r.ours.flops,
      ours: { median_ms: r.ours.median_ms, timing: r.ours.timing, gpu_median_ms: r.ours.gpu_median_ms, wall_median_ms: r.ours.wall_median_ms, samples: r.ours.samples },
      peers: Object.fromEntries(Object.entries(r.peers).filter(([, v]) => v && !v.skipped)),
      skipped: Object.fromEntries(Object.entries(r.peers).filter(([, v]) => v?.skipped).map(([k, v]) => [k, v!.skipped])),
    })),
    failed,
    not_run: unavailable,
    memory,
  };
}
