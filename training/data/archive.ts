// Reading a zip archive (a dataset dropped on the demo page, or `--data set.zip`) as a read-only FileSystem that
// inflates an entry only when it is read, so a dataset larger than memory is never unpacked at once. Hostile or
// broken archives are refused or their entries skipped with a message naming the entry: a truncated file (no
// end-of-central-directory record, a directory or entry data beyond the end), entry names that would leave the
// archive's folder (absolute, drive letters, '..'), zip bombs (declared sizes over the limits or an implausible
// compression ratio, and the inflated bytes of every entry capped at its declared size), encrypted entries and
// unknown compression methods. Nothing is ever written anywhere: entries are only read into memory.
import { Inflate } from 'fflate';
import { type FileReader, type FileSystem, normalizePath, readerFileSystem } from './fs';

/** Random access to the archive's bytes (a Uint8Array, a browser Blob/File, a Node file handle). */
export interface ByteSource {
  readonly size: number;
  /** `length` bytes from `offset`. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Bytes already in memory. */
export const bytesSource = (bytes: Uint8Array): ByteSource => ({ size: bytes.length, read: async (o, n) => bytes.subarray(o, o + n) });

/** A Blob or File (browser, or Node ≥ 18) read slice by slice. */
export const blobSource = (blob: Blob): ByteSource => ({ size: blob.size, read: async (o, n) => new Uint8Array(await blob.slice(o, o + n).arrayBuffer()) });

/** What an archive may declare before it is refused (zip-bomb limits). */
export interface ArchiveLimits {
  /** Largest declared unpacked size of one entry. */
  readonly maxEntryBytes: number;
  /** Largest declared unpacked size of all entries together. */
  readonly maxTotalBytes: number;
  /** Largest unpacked/packed ratio of an entry over 1 MiB (DEFLATE itself cannot exceed about 1032). */
  readonly maxRatio: number;
  readonly maxEntries: number;
}

/** 256 MiB per entry, 16 GiB in all, ratio 200 above 1 MiB, a million entries. */
export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = { maxEntryBytes: 256 * 2 ** 20, maxTotalBytes: 16 * 2 ** 30, maxRatio: 200, maxEntries: 1_000_000 };

/** One file entry of the central directory. */
export interface ArchiveEntry {
  /** Normalised path inside the archive, with a leading '/'. */
  readonly path: string;
  readonly method: number;
  readonly packed: number;
  readonly size: number;
  readonly crc: number;
  readonly localOffset: number;
}

/** An opened zip: its files as a lazy read-only file system, its entries, and what was skipped. */
export interface Archive {
  /** The archive's files under '/' (directories implied). */
  readonly fs: FileSystem;
  readonly entries: readonly ArchiveEntry[];
  /** Entries left out, one line each naming the entry and why. */
  readonly skipped: readonly string[];
}

const u16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);
const u32 = (b: Uint8Array, o: number): number => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;

/** Why an entry name is unsafe to use as a path inside the archive's folder, or null when it is fine. */
export function unsafeEntryName(name: string): string | null {
  if (name.includes('\0')) return 'its name contains a NUL character';
  const s = name.replace(/\\/g, '/');
  if (s.startsWith('/')) return 'its name is an absolute path';
  if (/^[A-Za-z]:/.test(s)) return 'its name starts with a drive letter';
  if (s.split('/').includes('..')) return "its name contains '..' (it would leave the archive's folder)";
  return null;
}

let crcTable: Uint32Array | null = null;
function crc32(chunks: readonly Uint8Array[]): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const b of chunks) for (let i = 0; i < b.length; i++) c = crcTable[(c ^ b[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Open a zip archive: reads its central directory now, entry data when a file is read. `name` is used in messages. */
export async function openZip(src: ByteSource, name: string, limits: Partial<ArchiveLimits> = {}): Promise<Archive> {
  const lim = { ...DEFAULT_ARCHIVE_LIMITS, ...limits };
  const fail = (msg: string): never => {
    throw new Error(`${name}: ${msg}`);
  };
  if (src.size < 22) fail('not a zip archive (too short)');
  const tailLen = Math.min(src.size, 22 + 0xffff);
  const tail = await src.read(src.size - tailLen, tailLen);
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0 && eocd < 0; i--) if (u32(tail, i) === 0x06054b50) eocd = i;
  if (eocd < 0) fail('not a zip archive or truncated (no end-of-central-directory record)');
  const count = u16(tail, eocd + 10);
  const cdSize = u32(tail, eocd + 12);
  const cdOffset = u32(tail, eocd + 16);
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) fail('ZIP64 archives (over 4 GiB or 65535 entries) are not supported; split the dataset');
  if (count > lim.maxEntries) fail(`${count} entries is more than the limit of ${lim.maxEntries}`);
  if (cdOffset + cdSize > src.size - tailLen + eocd) fail('truncated (the central directory lies beyond the end of the file)');
  const cd = await src.read(cdOffset, cdSize);
  const entries: ArchiveEntry[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  let total = 0;
  const utf8 = new TextDecoder('utf-8', { fatal: false });
  for (let i = 0, p = 0; i < count; i++) {
    if (p + 46 > cd.length || u32(cd, p) !== 0x02014b50) fail(`corrupt central directory at entry ${i + 1} of ${count}`);
    const flags = u16(cd, p + 8);
    const method = u16(cd, p + 10);
    const crc = u32(cd, p + 16);
    const packed = u32(cd, p + 20);
    const size = u32(cd, p + 24);
    const nameLen = u16(cd, p + 28);
    const next = p + 46 + nameLen + u16(cd, p + 30) + u16(cd, p + 32);
    const localOffset = u32(cd, p + 42);
    const raw = utf8.decode(cd.subarray(p + 46, p + 46 + nameLen));
    p = next;
    if (raw.endsWith('/') || raw.endsWith('\\')) continue; // a directory
    const skip = (why: string): void => void skipped.push(`${name}: entry '${raw}' skipped: ${why}`);
    const unsafe = unsafeEntryName(raw);
    if (unsafe) {
      skip(unsafe);
      continue;
    }
    const path = normalizePath(`/${raw.replace(/\\/g, '/')}`);
    if (flags & 1) skip('it is encrypted');
    else if (method !== 0 && method !== 8) skip(`compression method ${method} is not supported (only stored and deflate)`);
    else if (seen.has(path)) skip('a second entry of the same name');
    else if (size > lim.maxEntryBytes) skip(`it declares ${size} unpacked bytes, more than the limit of ${lim.maxEntryBytes}`);
    else if (size > 2 ** 20 && size > lim.maxRatio * Math.max(packed, 1)) skip(`it declares ${size} unpacked bytes from ${packed} packed (ratio over ${lim.maxRatio}: a zip bomb?)`);
    else if (method === 0 && packed !== size) skip(`stored entry with packed size ${packed} and size ${size}`);
    else if (localOffset + 30 + nameLen + packed > cdOffset) skip('its data lies beyond the start of the central directory (truncated or corrupt archive)');
    else {
      seen.add(path);
      total += size;
      if (total > lim.maxTotalBytes) fail(`the entries declare more than ${lim.maxTotalBytes} unpacked bytes in all (a zip bomb?)`);
      entries.push({ path, method, packed, size, crc, localOffset });
    }
  }
  const files = new Map<string, FileReader>();
  for (const e of entries) files.set(e.path, { read: () => readEntry(src, e, name), head: (n) => readEntry(src, e, name, n) });
  return { fs: readerFileSystem(files), entries, skipped };
}

/** An entry's bytes (or its first `limit` bytes), inflated with at most its declared size and CRC-checked. */
async function readEntry(src: ByteSource, e: ArchiveEntry, archive: string, limit = Infinity): Promise<Uint8Array> {
  const where = `${archive}: entry '${e.path.slice(1)}'`;
  const local = await src.read(e.localOffset, 30);
  if (local.length < 30 || u32(local, 0) !== 0x04034b50) throw new Error(`${where}: no local header at offset ${e.localOffset} (corrupt archive)`);
  const start = e.localOffset + 30 + u16(local, 26) + u16(local, 28);
  if (start + e.packed > src.size) throw new Error(`${where}: data lies beyond the end of the file (truncated archive)`);
  const want = Math.min(limit, e.size);
  if (e.method === 0) {
    const data = await src.read(start, want);
    if (want === e.size && crc32([data]) !== e.crc) throw new Error(`${where}: CRC mismatch (corrupt archive)`);
    return data;
  }
  // small packed chunks: DEFLATE expands at most ~1032×, so one push produces a bounded amount
  const STEP = 4096;
  const out = new Uint8Array(want);
  let got = 0;
  let over = false;
  let ended = false;
  const inflate = new Inflate((chunk, final) => {
    if (got + chunk.length > e.size) over = true;
    const n = Math.min(chunk.length, want - got);
    if (n > 0) out.set(chunk.subarray(0, n), got);
    got += chunk.length;
    if (final) ended = true;
  });
  const done = (): boolean => over || (want < e.size && got >= want);
  // a head read (an image's signature) fetches the packed data a little at a time
  const BLOCK = want < e.size ? STEP : 65536;
  for (let o = 0; o < e.packed && !done(); o += BLOCK) {
    const block = await src.read(start + o, Math.min(BLOCK, e.packed - o));
    for (let k = 0; k < block.length && !done(); k += STEP) {
      try {
        inflate.push(block.subarray(k, k + STEP), o + k + STEP >= e.packed);
      } catch (err) {
        throw new Error(`${where}: cannot inflate (${(err as Error).message}; corrupt or truncated archive)`);
      }
    }
  }
  if (over) throw new Error(`${where}: inflates to more than its declared ${e.size} bytes (a zip bomb?)`);
  if (want < e.size) {
    if (got < want) throw new Error(`${where}: ends after ${got} of ${want} bytes (corrupt archive)`);
    return out;
  }
  if (!ended || got !== e.size) throw new Error(`${where}: inflates to ${got} bytes, ${e.size} declared (corrupt or truncated archive)`);
  if (crc32([out]) !== e.crc) throw new Error(`${where}: CRC mismatch (corrupt archive)`);
  return out;
}
