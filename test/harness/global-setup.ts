/**
 * Vitest global setup: starts the real services the suite needs before any test runs.
 * Cached and idempotent, so a later run whose services are already up costs about a second.
 *
 * - Services stay up after the run (the next run, or a developer's re-run, reuses them);
 *   `npm run services -- down` stops them. PEREGRINE_SERVICES_STOP=1 stops, at the end,
 *   those this run started.
 * - PEREGRINE_SERVICES=kafka,s3 limits which start; `none` starts none.
 * - A run whose file filters all name unit tests (`vitest run test/unit/...`), or that runs
 *   only the unit tier (`vitest run --project unit`), starts none.
 * - On-demand services (root-only, or with long first builds: etcd, kubernetes) start
 *   only when PEREGRINE_SERVICES names them or a test that needs them starts them itself.
 */
import { SERVICE_NAMES, serviceDef, start, status, stop } from "./services.js";

function wanted(): string[] {
  const env = process.env.PEREGRINE_SERVICES?.trim();
  if (env !== undefined && env !== "") {
    if (env === "none") return [];
    const names = env.split(",").map((s) => s.trim()).filter(Boolean);
    for (const n of names) serviceDef(n);
    return names;
  }
  const args = process.argv.slice(2);
  const filters = args.filter((a) => !a.startsWith("-") && a.includes("test"));
  if (filters.length > 0 && filters.every((f) => /(^|\/)test\/unit(\/|$)/.test(f) || f.includes("/unit/"))) return [];
  // `--project unit` (npm run test:unit): the unit tier talks to no service
  const projects = args.flatMap((a, i) => (a === "--project" ? [args[i + 1] ?? ""] : a.startsWith("--project=") ? [a.slice("--project=".length)] : []));
  if (projects.length > 0 && projects.every((p) => p === "unit")) return [];
  return SERVICE_NAMES.filter((n) => !serviceDef(n).onDemand);
}

export default async function setup(): Promise<() => Promise<void>> {
  const names = wanted();
  const before = await Promise.all(names.map((n) => status(n)));
  const t0 = Date.now();
  for (const s of before)
    if (s.state === "external")
      console.warn(
        `[harness] ${s.name}: its ports are served by a program this checkout did not start; using it. Tests that need ` +
          `this checkout's certificates or restart the service may fail: stop it where it was started (npm run services -- down).`,
      );
  // One service that cannot be provisioned must not take the whole suite down: its own
  // tests fail (with this message above them), the others run.
  const failed: string[] = [];
  const ok: string[] = [];
  for (const n of names) {
    try {
      await serviceDef(n).provision();
      ok.push(n);
    } catch (err) {
      failed.push(n);
      console.error(`[harness] cannot provision ${n}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  const results = await Promise.allSettled(ok.map((n) => start(n)));
  results.forEach((r, i) => {
    if (r.status === "rejected") {
      failed.push(ok[i]!);
      console.error(`[harness] cannot start ${ok[i]}: ${r.reason instanceof Error ? r.reason.message : String(r.reason)}`);
    }
  });
  const started = before.filter((s) => s.state === "stopped" && !failed.includes(s.name)).map((s) => s.name);
  if (started.length > 0)
    console.log(`[harness] started ${started.join(", ")} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (failed.length > 0) console.error(`[harness] NOT running: ${failed.join(", ")} (tests that need them will fail)`);
  return async () => {
    if (process.env.PEREGRINE_SERVICES_STOP === "1") for (const n of started) await stop(n);
  };
}
