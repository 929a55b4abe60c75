// The Node implementation of the data pipeline's FileSystem. The only file in training/data that imports Node
// built-ins; browser bundles leave it out.
import { open, readFile, readdir, stat } from 'node:fs/promises';
import { type FileSystem, joinPaths } from './fs';
import type { ByteSource } from './archive';

export function nodeFileSystem(): FileSystem {
  return {
    async readFile(path) {
      try {
        const b = await readFile(path);
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      } catch (e) {
        throw new Error(`${path}: cannot read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    },
    async listDir(path) {
      try {
        const ents = await readdir(path, { withFileTypes: true });
        const out = [];
        for (const e of ents) {
          // Follow symbolic links so linked image folders work.
          const isDirectory = e.isDirectory() || (e.isSymbolicLink() && (await stat(joinPaths(path, e.name)).then((s) => s.isDirectory(), () => false)));
          out.push({ name: e.name, isDirectory });
        }
        return out;
      } catch (e) {
        throw new Error(`${path}: cannot list directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
      }
    },
    async exists(path) {
      return stat(path).then(
        () => true,
        () => false,
      );
    },
    async isDirectory(path) {
      return stat(path).then(
        (s) => s.isDirectory(),
        () => false,
      );
    },
    join: joinPaths,
    async readFileHead(path, bytes) {
      const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
        throw new Error(`${path}: cannot read (${e.code ?? e.message})`);
      });
      try {
        const buf = new Uint8Array(bytes);
        const { bytesRead } = await fh.read(buf, 0, bytes, 0);
        return buf.subarray(0, bytesRead);
      } finally {
        await fh.close();
      }
    },
  };
}

/** A file read slice by slice (a zip archive larger than memory); the handle stays open for the process. */
export async function nodeByteSource(path: string): Promise<ByteSource> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`${path}: cannot read (${e.code ?? e.message})`);
  });
  const { size } = await fh.stat();
  return {
    size,
    async read(offset, length) {
      const buf = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      return buf.subarray(0, bytesRead);
    },
  };
}
