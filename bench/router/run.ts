/**
 * The router alone: how many alerts per second it accepts and journals, and delivers to a
 * local webhook sink (a separate process), with its CPU and peak RSS.
 *
 *   npm run bench:router [-- --seconds 15 --connections 32 --without-history]
 *
 * Runs: one alert per request and 100 alerts per request (a JSON array), each with the
 * journal's fsync on (the default: acknowledged means on disk) and off (acknowledged means
 * in the OS page cache, surviving a crash of the router but not of the machine).
 */
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import { rmSync } from "node:fs";
import { startRouter } from "../../test/harness/router-process.js";
import { runLoad } from "../compare-sidekick/load.js";
import { cpuSeconds, peakRssBytes, runqueueWaitSeconds } from "../compare-sidekick/procstats.js";
import { startWebhookSink } from "../compare-sidekick/sinks.js";

interface Case {
  perRequest: number;
  fsync: boolean;
}

const CASES: Case[] = [
  { perRequest: 1, fsync: true },
  { perRequest: 1, fsync: false },
  { perRequest: 100, fsync: true },
  { perRequest: 100, fsync: false },
];

const QUIET_MS = 5000;

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: { seconds: { type: "string", default: "15" }, connections: { type: "string", default: "32" }, "without-history": { type: "boolean", default: false } },
    strict: true,
  });
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  if (!Number.isInteger(seconds) || seconds < 1) {
    console.error(`error: --seconds must be a positive integer, got "${values.seconds}"`);
    return 2;
  }
  if (!Number.isInteger(connections) || connections < 1) {
    console.error(`error: --connections must be a positive integer, got "${values.connections}"`);
    return 2;
  }
  const sink = await startWebhookSink();
  const rows: string[] = [];
  try {
    for (const c of CASES) {
      await sink.reset();
      console.error(`[bench] router: ${c.perRequest} alert(s)/request, fsync ${c.fsync ? "on" : "off"}`);
      const rp = await startRouter({
        config: {
          log: { level: "warn" },
          storage: { fsync: c.fsync },
          // the alert history's writes share the event loop with ingest: this measures their cost
          ...(values["without-history"] ? { history: { enabled: false } } : {}),
          outputs: [{ name: "webhook", type: "webhook", url: sink.url, batch: { max_events: 200, max_wait_ms: 10 }, concurrency: 2 }],
        },
      });
      try {
        const pid = rp.proc.pid!;
        const cpu0 = cpuSeconds(pid) ?? 0;
        const wait0 = runqueueWaitSeconds(pid) ?? 0;
        const t0 = Date.now();
        const load = await runLoad(`${rp.url}/`, { seconds, connections, hostname: `router-bench-${t0}`, perRequest: c.perRequest });
        const acceptedAlerts = load.accepted * c.perRequest;
        let last = -1;
        let changedAt = Date.now();
        for (;;) {
          const s = await sink.stats();
          if (s.unique !== last) {
            last = s.unique;
            changedAt = Date.now();
          }
          if (s.unique >= acceptedAlerts || Date.now() - changedAt > QUIET_MS) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        const s = await sink.stats();
        const cpu = (cpuSeconds(pid) ?? cpu0) - cpu0;
        const wait = (runqueueWaitSeconds(pid) ?? wait0) - wait0;
        const deliveredSeconds = Math.max((s.lastAt - t0) / 1000, load.seconds);
        rows.push(
          `| ${c.perRequest} | ${c.fsync ? "on" : "off"} | ${fmt(acceptedAlerts / load.seconds)} | ${fmt(s.unique / deliveredSeconds)} | ${fmt(load.latencyP50Ms, 1)} | ${fmt(load.latencyP99Ms, 1)} | ${fmt(cpu, 1)} | ${fmt(wait, 1)} | ${fmt(cpu > 0 ? s.unique / cpu : 0)} | ${fmt((peakRssBytes(pid) ?? 0) / 1024 / 1024)} | ${fmt(Math.max(0, acceptedAlerts - s.unique))} |`,
        );
      } finally {
        await rp.stop("SIGTERM", 20_000);
        rmSync(rp.dataDir, { recursive: true, force: true });
      }
    }
  } finally {
    await sink.stop();
  }
  console.log(`Peregrine router: ${seconds} s of load per run, ${connections} connections, webhook sink in its own process\n`);
  console.log("| alerts/request | fsync | accepted+journaled alerts/s | delivered alerts/s | p50 ms | p99 ms | CPU s | CPU wait s | alerts/CPU-s | peak RSS MiB | lost |");
  console.log("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
  console.log(`\nload average (1 min) at the end: ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores; lost = acknowledged but not delivered (requests cut at the end of the load are neither)`);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
