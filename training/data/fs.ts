// The file-system adapter the data pipeline reads through, so the same code runs in Node (fs-node.ts) and in a
// browser (memoryFileSystem over dropped files, or your own adapter over fetch/OPFS). Paths use '/' separators.

/** One entry of a directory listing. */
export interface DirEntry {
  name: string;
  isDirectory: boolean;
}

/** How the data pipeline reads files: nodeFileSystem in Node (CLI), memoryFileSystem or your own adapter (fetch, OPFS) in a browser. */
export interface FileSystem {
  /** The whole file. Rejects with an error naming the path when it cannot be read. */
  readFile(path: string): Promise<Uint8Array>;
  /** Entries of a directory (names only, no '.' or '..'), in any order. */
  listDir(path: string): Promise<DirEntry[]>;
  /** Whether a file or directory exists at `path`. */
  exists(path: string): Promise<boolean>;
  /** Whether `path` exists and is a directory. */
  isDirectory(path: string): Promise<boolean>;
  /** Joins path parts with '/', resolving '.' and '..' and keeping a leading '/' or drive. */
  join(...parts: string[]): string;
  /** The first `bytes` bytes (or fewer); optional, for reading image headers cheaply. */
  readFileHead?(path: string, bytes: number): Promise<Uint8Array>;
}

/** Normalises separators to '/', collapses '.', '..' and repeated '/'. Keeps a leading '/' or 'C:/'. */
export function normalizePath(p: string): string {
  const s = p.replace(/\\/g, '/');
  const drive = /^[A-Za-z]:\//.exec(s)?.[0] ?? '';
  const rooted = drive !== '' || s.startsWith('/');
  const prefix = drive || (s.startsWith('/') ? '/' : '');
  const out: string[] = [];
  for (const part of s.slice(prefix.length).split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const body = out.join('/');
  return prefix + body || (rooted ? prefix : '.');
}

/** Whether `p` starts at a root ('/', '\\' or a drive letter). */
export const isAbsolutePath = (p: string): boolean => /^([A-Za-z]:)?[\\/]/.test(p);

/** Joins parts; an absolute part discards what came before it (like Python's pathlib). */
export function joinPaths(...parts: string[]): string {
  let acc = '';
  for (const p of parts) {
    if (p === '') continue;
    acc = acc === '' || isAbsolutePath(p) ? p : `${acc}/${p}`;
  }
  return normalizePath(acc || '.');
}

/** The folder part of `p` ('.' when none). */
export function dirname(p: string): string {
  const s = normalizePath(p);
  const i = s.lastIndexOf('/');
  if (i < 0) return '.';
  if (i === 0) return '/';
  return s.slice(0, i);
}

/** The last part of `p`. */
export function basename(p: string): string {
  const s = p.replace(/\\/g, '/');
  return s.slice(s.lastIndexOf('/') + 1);
}

/** Lower-case extension without the dot ('' if none). */
export function extname(p: string): string {
  const b = basename(p);
  const i = b.lastIndexOf('.');
  return i <= 0 ? '' : b.slice(i + 1).toLowerCase();
}

/** One file of a readerFileSystem: read on demand (lazily: from a Blob, an archive entry, ...). */
export interface FileReader {
  /** The whole file. */
  read(): Promise<Uint8Array>;
  /** The first `bytes` bytes, where cheaper than the whole file. */
  head?(bytes: number): Promise<Uint8Array>;
}

/**
 * A read-only file system over files that are read only when asked for (platform-neutral): keys are paths, values
 * readers; directories are implied by the file paths. The demo page's dropped folders and zip archives use it.
 */
export function readerFileSystem(files: ReadonlyMap<string, FileReader>): FileSystem {
  const map = new Map<string, FileReader>();
  for (const [k, v] of files) map.set(normalizePath(k), v);
  const dirs = new Set<string>();
  for (const k of map.keys()) for (let d = dirname(k); !dirs.has(d); d = dirname(d)) {
    dirs.add(d);
    if (d === '/' || d === '.' || d === dirname(d)) break;
  }
  const get = (path: string): FileReader => {
    const v = map.get(normalizePath(path));
    if (!v) throw new Error(`${path}: no such file`);
    return v;
  };
  return {
    async readFile(path) {
      return get(path).read();
    },
    async readFileHead(path, bytes) {
      const f = get(path);
      return f.head ? f.head(bytes) : (await f.read()).subarray(0, bytes);
    },
    async listDir(path) {
      const d = normalizePath(path);
      if (!dirs.has(d)) throw new Error(`${path}: no such directory`);
      const names = new Map<string, boolean>();
      const prefix = d === '.' ? '' : d.endsWith('/') ? d : `${d}/`;
      for (const k of [...map.keys(), ...dirs]) {
        if (!k.startsWith(prefix) || k === d) continue;
        const rest = k.slice(prefix.length);
        const name = rest.split('/')[0];
        if (name) names.set(name, (names.get(name) ?? false) || rest.includes('/') || dirs.has(prefix + name));
      }
      return [...names].map(([name, isDirectory]) => ({ name, isDirectory }));
    },
    async exists(path) {
      const p = normalizePath(path);
      return map.has(p) || dirs.has(p);
    },
    async isDirectory(path) {
      return dirs.has(normalizePath(path));
    },
    join: joinPaths,
  };
}

/**
 * An in-memory file system (platform-neutral): keys are paths, values bytes or text. Directories are implied by the
 * file paths. Handy for browsers (files from an <input type=file>) and for tests.
 */
export function memoryFileSystem(files: Record<string, Uint8Array | string>): FileSystem {
  const enc = new TextEncoder();
  const readers = new Map<string, FileReader>();
  for (const [k, v] of Object.entries(files)) {
    const bytes = typeof v === 'string' ? enc.encode(v) : v;
    readers.set(k, { read: async () => bytes });
  }
  return readerFileSystem(readers);
}
