#!/usr/bin/env node
// The whole test suite: typecheck, lint, then vitest (whose global setup provisions and starts
// the real services), then one summary line `N passed, N failed` that CI reads.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, existsSync, writeFileSync } from "node:fs";

mkdirSync("test-artifacts", { recursive: true });
const args = process.argv.slice(2);
let failedExtra = 0;

// tsconfig.test.json covers src/, outputs/ and the tests, benchmarks and scripts.
const tsc = spawnSync("npx", ["tsc", "-p", "tsconfig.test.json"], { stdio: "inherit" });
if (tsc.status !== 0) {
  console.error("typecheck failed");
  failedExtra++;
}

// Lint (no import cycles, the rule engine only through its face): a failure counts as a failed test.
const lint = spawnSync("npx", ["eslint", "src", "outputs", "test", "bench", "scripts"], { stdio: "inherit" });
if (lint.status !== 0) {
  console.error("lint failed");
  failedExtra++;
}

const report = "test-artifacts/vitest.json";
const vitest = spawnSync(
  "npx",
  ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...args],
  { stdio: "inherit" },
);

let passed = 0;
let failed = failedExtra;
if (existsSync(report)) {
  const r = JSON.parse(readFileSync(report, "utf8"));
  passed += r.numPassedTests ?? 0;
  failed += (r.numFailedTests ?? 0) + (r.numRuntimeErrorTestSuites ?? 0);
  // Tests that passed only on their retry (vitest keeps the first attempt's failure).
  const flaky = (r.testResults ?? []).flatMap((file) =>
    (file.assertionResults ?? [])
      .filter((t) => t.status === "passed" && (t.failureMessages ?? []).length > 0)
      .map((t) => `${file.name.replace(process.cwd() + "/", "")} > ${t.fullName}: ${String(t.failureMessages[0]).split("\n")[0]}`),
  );
  if (flaky.length > 0) {
    console.log(`\n${flaky.length} test(s) passed only on retry (flaky; listed in test-artifacts/flaky.txt):`);
    for (const line of flaky) console.log(`  ${line}`);
    writeFileSync("test-artifacts/flaky.txt", flaky.join("\n") + "\n");
  }
  if ((r.numTotalTestSuites ?? 0) === 0 && vitest.status !== 0) failed++;
} else {
  failed++;
}
if (vitest.status !== 0 && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
