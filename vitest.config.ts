import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // gdb-driven tests start servers on ports of their own; keep the 2-core machine from thrashing.
    maxWorkers: 2,
  },
});
