import { defineConfig } from 'vitest/config';

// The subgroup-matrix suite runs on its own, on an adapter with subgroup matrices: directly where the machine's
// adapter has them, else in scripts/subgroup-matrix-env.sh's root (test/engine/subgroup-matrix.test.ts starts it).
export default defineConfig({
  test: {
    root: new URL('../..', import.meta.url).pathname,
    // its own files, plus every kernel variant (the matrix kernels among them) and the f16 and mixed-precision suites,
    // whose convs and matmuls then run on the matrices
    include: ['test/subgroup-matrix/**/*.test.ts', 'test/kernels/variants.test.ts', 'test/kernels/conv-f16.test.ts', 'test/engine/mixed-precision.test.ts', 'test/engine/f16.test.ts'],
    // software adapters do not use the matrices by default (DeviceSettings.subgroupMatrix): force them on
    env: { GELAN_TEST_SUBGROUP_MATRIX: '1' },
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
