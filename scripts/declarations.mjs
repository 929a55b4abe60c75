// The package's type declarations as one self-contained file: tsc emits per-file declarations (whose extensionless
// relative imports only `moduleResolution: bundler` accepts), then rollup-plugin-dts joins them, doc comments
// included, so node16, nodenext and bundler resolution all read one file. The WebGPU types the declarations use
// (GPUDevice, GPUBuffer, ...) are globals: TypeScript 5 has them from @webgpu/types (a dependency), which
// dist/index.d.ts references; TypeScript 6 and later declare them in their own "dom" lib, where @webgpu/types would
// collide with it (duplicate identifiers), so package.json's `types@>=6` condition gives those the same
// declarations without the reference (dist/index.ts6.d.ts).
import { execFileSync } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rollup } from 'rollup';
import { dts } from 'rollup-plugin-dts';
import { ROOT } from './browser-bundle.mjs';

export const WEBGPU_TYPES_REFERENCE = '/// <reference types="@webgpu/types" />';

/** Writes dist/index.d.ts and dist/index.ts6.d.ts; the per-file emit goes to a temporary folder beside them. */
export async function buildDeclarations() {
  const tmp = join(ROOT, 'dist', '.types');
  rmSync(tmp, { recursive: true, force: true });
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json', '--declarationDir', tmp], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  const bundle = await rollup({ input: join(tmp, 'index.d.ts'), plugins: [dts()], logLevel: 'warn' });
  const { output } = await bundle.generate({ format: 'es' });
  await bundle.close();
  rmSync(tmp, { recursive: true, force: true });
  const text = output[0].code;
  writeFileSync(join(ROOT, 'dist', 'index.d.ts'), `${WEBGPU_TYPES_REFERENCE}\n${text}`);
  writeFileSync(join(ROOT, 'dist', 'index.ts6.d.ts'), text);
}
