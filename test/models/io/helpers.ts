// Fixture access and a tiny pickle assembler for hand-made (hostile) pickles in the weight I/O tests.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OP } from '../../../models/io/pickle-opcodes';

/** Bytes of a file under test/fixtures/io/ (written by test/fixtures/gen/io.py). */
export function fixtureBytes(name: string): Uint8Array {
  return new Uint8Array(readFileSync(fileURLToPath(new URL(`../../fixtures/io/${name}`, import.meta.url))));
}

export function fixtureJson<T>(name: string): T {
  return JSON.parse(new TextDecoder().decode(fixtureBytes(name))) as T;
}

/** Appends opcodes and their arguments; `done()` adds STOP. */
export class PickleWriter {
  private readonly out: number[] = [];

  op(name: keyof typeof OP, ...args: number[]): this {
    this.out.push(OP[name], ...args);
    return this;
  }
  proto(v = 2): this {
    return this.op('PROTO', v);
  }
  int(v: number): this {
    return v >= 0 && v < 256 ? this.op('BININT1', v) : this.op('BININT', ...le32(v));
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.op('BINUNICODE', ...le32(b.length), ...b);
  }
  global(module: string, name: string): this {
    return this.op('GLOBAL', ...new TextEncoder().encode(`${module}\n${name}\n`));
  }
  raw(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
  done(): Uint8Array {
    return this.op('STOP').bytes();
  }
}

function le32(v: number): number[] {
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/** A pickle for `(storage, offset, size, stride)` rebuilt by _rebuild_tensor_v2, storage given as a persistent id. */
export function tensorPickle(w: PickleWriter, storage: { cls: string; key: string; numel: number }, offset: number, size: number[], stride: number[]): PickleWriter {
  w.global('torch._utils', '_rebuild_tensor_v2').op('MARK');
  w.op('MARK').str('storage').global('torch', storage.cls).str(storage.key).str('cpu').int(storage.numel).op('TUPLE').op('BINPERSID');
  w.int(offset);
  w.op('MARK');
  for (const s of size) w.int(s);
  w.op('TUPLE').op('MARK');
  for (const s of stride) w.int(s);
  w.op('TUPLE').op('NEWFALSE').global('collections', 'OrderedDict').op('EMPTY_TUPLE').op('REDUCE');
  return w.op('TUPLE').op('REDUCE');
}
