// Killing a process at any moment while it rewrites its checkpoint never leaves a corrupt file: a child
// rewrites a 4 MB file (each version self-checking) in a loop and is killed at random moments.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

test('a checkpoint written with writeAtomic survives kill -9 at random moments', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gelan-atomic-'));
  const target = join(dir, 'last.bin');
  const script = `
    import { writeAtomic } from ${JSON.stringify(join(ROOT, 'cli/atomic.ts'))};
    for (let v = 1; ; v++) {
      const data = new Uint8Array(4 << 20).fill(v & 255);
      new DataView(data.buffer).setUint32(0, v, true);
      data[data.length - 1] = v & 255;
      writeAtomic(${JSON.stringify(target)}, data);
    }`;
  const file = join(dir, 'writer.ts');
  writeFileSync(file, script);
  for (let round = 0; round < 6; round++) {
    // node itself (not npx) so that SIGKILL hits the writing process
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1500 + Math.random() * 1000));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    if (!existsSync(target)) continue;
    const b = readFileSync(target);
    expect(b.length).toBe(4 << 20);
    const v = b.readUInt32LE(0);
    // every byte but the version stamp equals the version's low byte: the file is one whole write
    expect(b[b.length - 1]).toBe(v & 255);
    expect(b[4 + ((round * 7919) % (b.length - 8))]).toBe(v & 255);
  }
  expect(existsSync(target), 'the writer never completed a write').toBe(true);
  rmSync(dir, { recursive: true, force: true });
}, 120_000);
