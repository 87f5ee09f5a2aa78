import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Real services start once for the whole run (test/harness/global-setup.ts).
    globalSetup: ["test/harness/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    // One more try for a failed test: a two-core machine shared with other work can starve a
    // real service or the sensor now and then. scripts/test.mjs lists every test that needed
    // it (and its first failure), so a flaky test is seen and fixed, not hidden.
    retry: 1,
    // Two cores: integration tests own real ports, so files run one at a time per worker.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    fileParallelism: true,
  },
});
