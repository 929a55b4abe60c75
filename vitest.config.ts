import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Two projects: `node` (the engine on Dawn, one WebGPU device per test file) and `browser` (the same fixtures in
// headless Chromium's WebGPU, driven by Playwright: test/browser/). Files run one after another, and the browser
// project after the Node one (groupOrder), because the software adapters already use both cores of a CI machine.
export default defineConfig({
  // web/ imports the library by its package name, as applications do (tsconfig maps it the same way)
  resolve: { alias: { 'gelan-webgpu': fileURLToPath(new URL('./index.ts', import.meta.url)) } },
  test: {
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    projects: [
      {
        extends: true,
        test: { name: 'node', include: ['test/**/*.test.ts'], exclude: ['test/browser/**', 'test/subgroup-matrix/**'], sequence: { groupOrder: 1 } },
      },
      {
        extends: true,
        test: { name: 'browser', include: ['test/browser/**/*.test.ts'], sequence: { groupOrder: 2 } },
      },
    ],
  },
});
