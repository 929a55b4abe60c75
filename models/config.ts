// The official YOLO model YAML format: top-level nc / depth_multiple / width_multiple / activation, and
// `backbone` + `head` lists of rows [from, number, module, args]. Rows keep their source line so errors can
// name the file, the line and the layer.
import { LineCounter, isMap, isSeq, parseDocument, stringify } from 'yaml';
import type { Activation } from './layers';

export type From = number | number[];

/** One row of a model YAML: [from, number, module, args]. */
export interface LayerRow {
  readonly index: number;
  readonly from: From;
  readonly n: number;
  /** Module name as written (`Conv`, `nn.Upsample`, …). */
  readonly module: string;
  /** Arguments with Python names resolved (`nc` → number, `None` → null); other strings stay strings. */
  readonly args: readonly unknown[];
  /** 1-based source line of the row. */
  readonly line: number;
}

/** A parsed model YAML in the official format (nc, depth/width multiples, backbone and head rows). */
export interface ModelConfig {
  /** Where it came from, for messages: a file path or `builtin:<name>`. */
  readonly source: string;
  readonly nc: number;
  readonly depthMultiple: number;
  readonly widthMultiple: number;
  readonly activation: Activation;
  readonly rows: readonly LayerRow[];
  /** The parsed document (kept for checkpoint metadata). */
  readonly raw: Record<string, unknown>;
}

/** A model YAML that cannot be parsed or resolved; the message names the row and field. */
export class ConfigError extends Error {
  constructor(source: string, line: number | null, message: string) {
    super(`${source}${line ? `:${line}` : ''}: ${message}`);
    this.name = 'ConfigError';
  }
}

function activationOf(source: string, v: unknown): Activation {
  if (v === undefined || v === null) return 'silu';
  const s = String(v).replace(/\s+/g, '');
  if (s === 'nn.SiLU()') return 'silu';
  if (s === 'nn.ReLU()') return 'relu';
  if (s === 'nn.Identity()') return 'none';
  throw new ConfigError(source, null, `unsupported activation '${String(v)}' (supported: nn.SiLU(), nn.ReLU(), nn.Identity())`);
}

/** Python-literal resolution of one argument as the official parser's eval() would do for our vocabulary. */
function resolveArg(a: unknown, nc: number): unknown {
  if (a === 'nc') return nc;
  if (a === 'None') return null;
  if (a === 'True') return true;
  if (a === 'False') return false;
  if (Array.isArray(a)) return a.map((x) => resolveArg(x, nc));
  return a;
}

/** Parse model YAML text. `nc` overrides the file's class count (as the official constructor argument does). */
export function parseModelConfig(text: string, source: string, opts: { nc?: number } = {}): ModelConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new ConfigError(source, e.linePos?.[0].line ?? null, `invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const raw = doc.toJS() as unknown;
  if (!isMap(doc.contents) || raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(source, null, 'a model config must be a mapping with nc, backbone and head');
  }
  const d = raw as Record<string, unknown>;
  const ncFile = d.nc;
  const nc = opts.nc ?? ncFile;
  if (typeof nc !== 'number' || !Number.isInteger(nc) || nc < 1) throw new ConfigError(source, null, `'nc' must be a positive integer, got ${JSON.stringify(ncFile)}`);
  const num = (k: string, dflt: number): number => {
    const v = d[k] ?? dflt;
    if (typeof v !== 'number' || !(v > 0)) throw new ConfigError(source, null, `'${k}' must be a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  const rows: LayerRow[] = [];
  for (const section of ['backbone', 'head'] as const) {
    const node = doc.get(section, true);
    if (!isSeq(node)) throw new ConfigError(source, null, `missing or invalid '${section}' list`);
    for (const item of node.items) {
      const index = rows.length;
      const line = lc.linePos((item as { range?: [number, number, number] }).range?.[0] ?? 0).line;
      const row = (item as { toJSON(): unknown }).toJSON() as unknown;
      const where = `layer ${index} (${section})`;
      if (!Array.isArray(row) || row.length !== 4) throw new ConfigError(source, line, `${where}: a row must be [from, number, module, args], got ${JSON.stringify(row)}`);
      const [from, n, module, args] = row as [unknown, unknown, unknown, unknown];
      const fromOk = (f: unknown): boolean => typeof f === 'number' && Number.isInteger(f);
      if (!(fromOk(from) || (Array.isArray(from) && from.length > 0 && from.every(fromOk)))) {
        throw new ConfigError(source, line, `${where}: 'from' must be an integer or a list of integers, got ${JSON.stringify(from)}`);
      }
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw new ConfigError(source, line, `${where}: repeat count must be a positive integer, got ${JSON.stringify(n)}`);
      if (typeof module !== 'string') throw new ConfigError(source, line, `${where}: module must be a name, got ${JSON.stringify(module)}`);
      if (!Array.isArray(args)) throw new ConfigError(source, line, `${where}: args must be a list, got ${JSON.stringify(args)}`);
      rows.push({ index, from: from as From, n, module, args: args.map((a) => resolveArg(a, nc)), line });
    }
  }
  return { source, nc, depthMultiple: num('depth_multiple', 1), widthMultiple: num('width_multiple', 1), activation: activationOf(source, d.activation), rows, raw: d };
}

/** The same config with another class count (rows are re-resolved, since `nc` may appear in any args). */
export function withClassCount(cfg: ModelConfig, nc: number): ModelConfig {
  if (nc === cfg.nc) return cfg;
  return { ...parseModelConfig(stringify(cfg.raw), cfg.source, { nc }), source: cfg.source };
}
