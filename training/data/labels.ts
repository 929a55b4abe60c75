// YOLO label files: one object per line, `class cx cy w h` normalised to [0, 1], or a polygon
// `class x1 y1 x2 y2 ...` (box = the polygon's min/max, as the official `segments2boxes`). Values are kept as
// float32, like the official loader's arrays.

/** The objects of one image, normalised to the image size. */
export interface Labels {
  /** Class index per object. */
  cls: Int32Array;
  /** cx, cy, w, h per object (4 values each), in [0, 1]. */
  boxes: Float32Array;
  /** Per object, its polygon as x, y pairs in [0, 1] — only when the file has polygon rows, else empty. */
  segments: Float32Array[];
}

/** Labels with no objects. */
export const emptyLabels = (): Labels => ({ cls: new Int32Array(0), boxes: new Float32Array(0), segments: [] });

/** Number of objects in `l`. */
export const labelCount = (l: Labels): number => l.cls.length;

/** Options of parseLabels(). */
export interface ParseLabelsOptions {
  /** Shown in error messages (the label file's path). */
  file: string;
  /** Number of classes: a class index must be an integer in [0, nc). */
  nc: number;
  /** How far outside [0, 1] a coordinate may be (then it is clamped) before it is an error. Default 1e-3. */
  tolerance?: number;
}

export interface ParsedLabels extends Labels {
  /** Rows dropped because they repeated another row exactly. */
  duplicates: number;
}

/**
 * Parses the text of a label file. Blank lines are skipped. Errors name the file and the 1-based line:
 * wrong value count, a value that is not a finite number, a class that is not an integer in [0, nc), a
 * coordinate outside [0, 1] by more than the tolerance, or box and polygon rows mixed in one file. Duplicate rows
 * are dropped as the official loader does (`np.unique` on the float32 rows, which also sorts the rows when, and
 * only when, a duplicate was found).
 */
export function parseLabels(text: string, options: ParseLabelsOptions): ParsedLabels {
  const { file, nc } = options;
  const tol = options.tolerance ?? 1e-3;
  const rows: { line: number; values: number[] }[] = [];
  text.split(/\r\n|\r|\n/).forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/).filter((f) => f.length > 0);
    if (fields.length === 0) return;
    const values = fields.map((f, k) => {
      const v = Number(f);
      if (!Number.isFinite(v) || f.toLowerCase().startsWith('0x')) {
        throw new Error(`${file}:${i + 1}: value ${k + 1} ('${f}') is not a number`);
      }
      return v;
    });
    rows.push({ line: i + 1, values });
  });
  if (rows.length === 0) return { ...emptyLabels(), duplicates: 0 };

  const polygonRow = rows.find((r) => r.values.length > 6);
  for (const r of rows) {
    const n = r.values.length;
    const where = `${file}:${r.line}`;
    if (polygonRow) {
      if (n === 5) {
        throw new Error(`${where}: a box row (5 values) in a file whose line ${polygonRow.line} is a polygon; use one format per file`);
      }
      if (n < 7 || n % 2 === 0) {
        throw new Error(`${where}: a polygon row needs a class and at least 3 x,y pairs (an odd count >= 7 values), got ${n} values`);
      }
    } else if (n !== 5) {
      throw new Error(`${where}: expected 5 values (class cx cy w h) or a polygon (class x1 y1 x2 y2 x3 y3 ...), got ${n}`);
    }
    const c = r.values[0];
    if (!Number.isInteger(c) || c < 0 || c >= nc) {
      throw new Error(`${where}: class ${c} is not an integer in [0, ${nc - 1}] (the dataset has nc=${nc})`);
    }
    for (let k = 1; k < n; k++) {
      const v = r.values[k];
      if (v < -tol || v > 1 + tol) {
        const what = polygonRow ? (k % 2 === 1 ? 'x' : 'y') : ['cx', 'cy', 'w', 'h'][k - 1];
        throw new Error(`${where}: ${what} = ${v} is outside [0, 1]; coordinates must be normalised by the image size`);
      }
      r.values[k] = Math.fround(Math.min(1, Math.max(0, v)));
    }
  }

  // (cls, cx, cy, w, h) per row in float32, polygons reduced to their boxes.
  const table = rows.map((r) => {
    const v = r.values;
    if (!polygonRow) return [v[0], v[1], v[2], v[3], v[4]].map(Math.fround);
    let x1 = Infinity;
    let y1 = Infinity;
    let x2 = -Infinity;
    let y2 = -Infinity;
    for (let k = 1; k < v.length; k += 2) {
      x1 = Math.min(x1, v[k]);
      x2 = Math.max(x2, v[k]);
      y1 = Math.min(y1, v[k + 1]);
      y2 = Math.max(y2, v[k + 1]);
    }
    return [v[0], (x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1].map(Math.fround);
  });

  let order = table.map((_, i) => i);
  const key = (i: number): string => table[i].join(',');
  const firstOf = new Map<string, number>();
  for (const i of order) if (!firstOf.has(key(i))) firstOf.set(key(i), i);
  const duplicates = table.length - firstOf.size;
  if (duplicates > 0) {
    order = [...firstOf.values()].sort((a, b) => {
      for (let k = 0; k < 5; k++) if (table[a][k] !== table[b][k]) return table[a][k] - table[b][k];
      return 0;
    });
  }
  const n = order.length;
  const cls = new Int32Array(n);
  const boxes = new Float32Array(n * 4);
  order.forEach((i, j) => {
    cls[j] = table[i][0];
    boxes.set(table[i].slice(1), j * 4);
  });
  const segments = polygonRow ? order.map((i) => Float32Array.from(rows[i].values.slice(1))) : [];
  return { cls, boxes, segments, duplicates };
}
