// training/data must run in browsers: only fs-node.ts may touch Node built-ins.
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const DIR = fileURLToPath(new URL('../../../training/data/', import.meta.url));
const BUILTINS = ['fs', 'path', 'os', 'url', 'child_process', 'buffer', 'stream', 'util', 'worker_threads', 'crypto', 'zlib'];

test('only fs-node.ts imports Node built-ins or uses Buffer/process', () => {
  const files = readdirSync(DIR).filter((f) => f.endsWith('.ts'));
  expect(files).toContain('fs-node.ts');
  for (const f of files) {
    if (f === 'fs-node.ts') continue;
    const src = readFileSync(DIR + f, 'utf8');
    const imports = [...src.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)].map((m) => m[1]);
    for (const spec of imports) {
      expect(spec.startsWith('node:') || BUILTINS.includes(spec), `${f} imports ${spec}`).toBe(false);
      if (spec === './fs-node') throw new Error(`${f} imports the Node adapter`);
    }
    const code = src.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    expect(/\bBuffer\b|\bprocess\./.test(code), `${f} uses Buffer or process`).toBe(false);
  }
});
