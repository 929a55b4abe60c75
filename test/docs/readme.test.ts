// The README's API example must run as written (with the package name pointing at this checkout).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect, test } from 'vitest';

test('README example runs and prints a loss and a gradient', async () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = readme.split('## Using the engine')[1].match(/```ts\n([\s\S]*?)```/)![1];
  const dir = mkdtempSync(join(root, 'test', '.readme-'));
  const file = join(dir, 'example.ts');
  writeFileSync(file, block.replace("from 'gelan-webgpu'", `from ${JSON.stringify(pathToFileURL(join(root, 'index.ts')).href)}`));
  const lines: unknown[][] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void lines.push(a);
  try {
    await import(/* @vite-ignore */ pathToFileURL(file).href);
  } finally {
    console.log = log;
    rmSync(dir, { recursive: true, force: true });
  }
  const lossLine = lines.find((l) => l[0] === 'loss')!;
  expect(Number.isFinite(lossLine[1] as number)).toBe(true);
  expect((lossLine[3] as Float32Array).length).toBe(4);
  const mem = lines.find((l) => typeof l[0] === 'object' && l[0] !== null && 'liveTensors' in (l[0] as object))![0] as { liveTensors: number };
  expect(mem.liveTensors).toBe(3); // w, w.grad and loss, before they are disposed
});
