import { defineConfig } from 'vitest/config';

// One WebGPU device per test file; files run one after another because the software adapter already uses
// both cores of a CI machine.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/browser/**'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
