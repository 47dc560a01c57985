import { defineConfig } from 'vitest/config';

// Unit tests sit beside the code, integration tests per package, end-to-end scenarios (real
// sluice-cp / sluice-dp processes from the built dist/) in test/. Workspace packages resolve to
// their TypeScript sources through the "sluice-source" export condition, so tests never run stale
// build output in-process.
export default defineConfig({
  resolve: { conditions: ['sluice-source'] },
  ssr: { resolve: { conditions: ['sluice-source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
  },
});
