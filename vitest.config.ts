import { defineConfig } from "vitest/config";

/** What every tier runs with (a project does not inherit it: the global setup must run once, not per tier). */
const tierOptions = {
  testTimeout: 120_000,
  hookTimeout: 600_000,
  // One more try for a failed test: a two-core machine shared with other work can starve a
  // real service or the sensor now and then. scripts/test.mjs lists every test that needed
  // it (and its first failure), so a flaky test is seen and fixed, not hidden.
  retry: 1,
  pool: "forks",
} as const;

/**
 * One project per tier, so `vitest run --project unit` (npm run test:unit) runs one; a run
 * without --project runs them all, as `npm test` does. The harness's own test runs with the
 * integration tier (it starts and stops a real service).
 */
const tiers: Record<string, string[]> = {
  unit: ["test/unit/**/*.test.ts"],
  integration: ["test/integration/**/*.test.ts", "test/harness/**/*.test.ts"],
  reliability: ["test/reliability/**/*.test.ts"],
  e2e: ["test/e2e/**/*.test.ts"],
};

export default defineConfig({
  test: {
    ...tierOptions,
    // Two cores: integration tests own real ports, so files run one at a time per worker.
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    fileParallelism: true,
    // Real services start once for the whole run (test/harness/global-setup.ts), whatever tiers run.
    globalSetup: ["test/harness/global-setup.ts"],
    projects: Object.entries(tiers).map(([name, include]) => ({ test: { name, include, ...tierOptions } })),
  },
});
