/**
 * Peregrine vs Falcosidekick, side by side, same machine, same load, same sinks.
 *
 *   npm run bench:compare [-- --seconds 20 --connections 32 --scenarios falco,steady,outage,fanout]
 *
 * For each scenario and tool: alerts/s accepted (2xx), alerts/s delivered (counted at the
 * sinks, until the last delivery), ingest latency p50/p99, CPU seconds, peak RSS, and alerts
 * lost (acknowledged but never delivered). Ends with the fan-out delivered-alerts/s ratio.
 *
 * The `falco` scenario is Falco's own http_output: one keep-alive connection, each alert sent
 * once the previous one was answered, so the rate is one over the latency of a request. It is
 * measured beside the disk's floor (a small append + fdatasync, in the same run).
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { BuildError, ensureSidekick, SIDEKICK_RELEASE } from "./build-sidekick.js";
import { measureDiskFloor, type DiskFloor } from "./disk-floor.js";
import { runLoad, runSequential } from "./load.js";
import { cpuSeconds, peakRssBytes, runqueueWaitSeconds } from "./procstats.js";
import { startWebhookSink, type WebhookSink } from "./sinks.js";
import { falcosidekick, peregrine, type Sinks, type Target } from "./targets.js";
import { fanoutAvailable, startFanoutCounters, type Counter } from "./fanout.js";

type Scenario = "falco" | "steady" | "outage" | "fanout";
const SCENARIOS: readonly Scenario[] = ["falco", "steady", "outage", "fanout"];

export interface Row {
  scenario: Scenario;
  tool: string;
  accepted: number;
  acceptedPerSec: number;
  /** Alerts that reached every output of the scenario, per second until the last one did. */
  deliveredPerSec: number;
  delivered: Record<string, number>;
  p50: number;
  p99: number;
  cpuSec: number;
  /** Seconds its threads waited for a CPU while runnable: other load on the machine. */
  waitSec: number;
  peakRss: number;
  lost: number;
  duplicates: number;
  non2xx: number;
  drainSec: number;
  /** The machine's 1-minute load average when the run started: other work skews the figures. */
  loadAvg: number;
}

const OUTAGE_START_S = 3;
const OUTAGE_MS = 10_000;
/** A tool that delivers nothing new for this long after the load has stopped is done. */
const QUIET_MS = 5_000;
const MAX_DRAIN_MS = 180_000;
/** Seconds of sequential load before the falco scenario is measured, for both tools. */
const WARMUP_S = 3;

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

function webhookCounter(sink: WebhookSink): Counter {
  return {
    name: "webhook",
    async count() {
      const s = await sink.stats();
      return { unique: s.unique, duplicates: s.duplicates, lastAt: s.lastAt };
    },
  };
}

async function runOne(scenario: Scenario, target: Target, sink: WebhookSink, opts: { seconds: number; connections: number }): Promise<Row> {
  await sink.reset();
  const runId = `bench-${scenario}-${target.name}-${Date.now().toString(36)}`;
  const counters: Counter[] = [webhookCounter(sink)];
  const sinks: Sinks = { webhookUrl: sink.url };
  let closeFanout: (() => Promise<void>) | undefined;
  if (scenario === "fanout") {
    const f = await startFanoutCounters(runId);
    sinks.loki = f.loki;
    sinks.kafka = f.kafka;
    counters.push(...f.counters);
    closeFanout = f.close;
  }
  const loadAvg = loadavg()[0]!;
  const running = await target.start(sinks);
  try {
    if (scenario === "falco") {
      // A request a millisecond: the few seconds of start-up work (loading and compiling
      // modules, starting worker threads) would otherwise count as much as the load. Both
      // tools warm up alike; the warm-up alerts are delivered and forgotten before measuring.
      const warm = await runSequential(running.url, { seconds: WARMUP_S, hostname: `${runId}-warmup` });
      const deadline = Date.now() + 60_000;
      while ((await sink.stats()).unique < warm.accepted && Date.now() < deadline) await sleep(100);
      await sink.reset();
    }
    const cpu0 = cpuSeconds(running.pid) ?? 0;
    const wait0 = runqueueWaitSeconds(running.pid) ?? 0;
    const loadStart = Date.now();
    let outage: Promise<void> | undefined;
    if (scenario === "outage") outage = sleep(OUTAGE_START_S * 1000).then(() => sink.fail(OUTAGE_MS));
    const load =
      scenario === "falco"
        ? await runSequential(running.url, { seconds: opts.seconds, hostname: runId })
        : await runLoad(running.url, { seconds: opts.seconds, connections: opts.connections, hostname: runId });
    await outage;

    // Drain: wait until every output has everything acknowledged, or nothing moves for QUIET_MS.
    const last = new Map<string, { unique: number; duplicates: number; lastAt: number; changedAt: number }>();
    const drainStart = Date.now();
    for (;;) {
      let allDone = true;
      let quiet = true;
      for (const c of counters) {
        const r = await c.count();
        const prev = last.get(c.name);
        const changedAt = !prev || r.unique !== prev.unique ? Date.now() : prev.changedAt;
        last.set(c.name, { ...r, lastAt: r.lastAt || (prev && r.unique === prev.unique ? prev.lastAt : Date.now()), changedAt });
        if (r.unique < load.accepted) allDone = false;
        if (Date.now() - changedAt < QUIET_MS) quiet = false;
      }
      if (allDone || quiet || Date.now() - drainStart > MAX_DRAIN_MS) break;
      await sleep(250);
    }
    const cpuSec = (cpuSeconds(running.pid) ?? cpu0) - cpu0;
    const waitSec = (runqueueWaitSeconds(running.pid) ?? wait0) - wait0;
    const peakRss = peakRssBytes(running.pid) ?? 0;
    const delivered: Record<string, number> = {};
    let minUnique = Infinity;
    let lastAt = loadStart;
    let duplicates = 0;
    for (const [name, r] of last) {
      delivered[name] = r.unique;
      minUnique = Math.min(minUnique, r.unique);
      lastAt = Math.max(lastAt, r.lastAt);
      duplicates += r.duplicates;
    }
    const seconds = Math.max((lastAt - loadStart) / 1000, load.seconds);
    return {
      scenario,
      tool: target.name,
      accepted: load.accepted,
      acceptedPerSec: load.accepted / load.seconds,
      deliveredPerSec: minUnique / seconds,
      delivered,
      p50: load.latencyP50Ms,
      p99: load.latencyP99Ms,
      cpuSec,
      waitSec,
      peakRss,
      lost: Math.max(0, load.accepted - minUnique),
      duplicates,
      non2xx: load.rejected + load.errors,
      drainSec: (Date.now() - drainStart) / 1000,
      loadAvg,
    };
  } finally {
    await running.stop();
    await closeFanout?.();
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function table(rows: readonly Row[]): string {
  const head = ["scenario", "tool", "accepted/s", "delivered/s", "p50 ms", "p99 ms", "CPU s", "CPU wait s", "alerts/CPU-s", "peak RSS MiB", "accepted", "delivered", "lost", "dup", "non-2xx", "load avg"];
  const lines = [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`];
  for (const r of rows)
    lines.push(
      `| ${[
        r.scenario,
        r.tool,
        fmt(r.acceptedPerSec),
        fmt(r.deliveredPerSec),
        fmt(r.p50, r.p50 < 10 ? 2 : 1),
        fmt(r.p99, r.p99 < 10 ? 2 : 1),
        fmt(r.cpuSec, 1),
        fmt(r.waitSec, 1),
        fmt(alertsPerCpu(r)),
        fmt(r.peakRss / 1024 / 1024),
        fmt(r.accepted),
        Object.entries(r.delivered)
          .map(([k, v]) => (Object.keys(r.delivered).length > 1 ? `${k} ${fmt(v)}` : fmt(v)))
          .join(", "),
        fmt(r.lost),
        fmt(r.duplicates),
        fmt(r.non2xx),
        fmt(r.loadAvg, 1),
      ].join(" | ")} |`,
    );
  return lines.join("\n");
}

/** Router CPU per acknowledged alert, in microseconds. */
function cpuPerAlertUs(r: Row): number {
  return r.accepted > 0 ? (r.cpuSec / r.accepted) * 1e6 : 0;
}

/** Alerts delivered to every output per CPU second of the router: less sensitive than rates to other load. */
function alertsPerCpu(r: Row): number {
  return r.cpuSec > 0 ? Math.min(...Object.values(r.delivered)) / r.cpuSec : 0;
}

function ratio(rows: readonly Row[], scenario: Scenario, metric: (r: Row) => number = (r) => r.deliveredPerSec): number | undefined {
  const p = rows.find((r) => r.scenario === scenario && r.tool === "peregrine");
  const f = rows.find((r) => r.scenario === scenario && r.tool === "falcosidekick");
  if (!p || !f || metric(f) === 0) return undefined;
  return metric(p) / metric(f);
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "20" },
      connections: { type: "string", default: "32" },
      scenarios: { type: "string", default: SCENARIOS.join(",") },
    },
    strict: true,
  });
  const seconds = Number(values.seconds);
  const connections = Number(values.connections);
  if (!Number.isInteger(connections) || connections < 1) {
    console.error(`error: --connections must be a positive integer, got "${values.connections}"`);
    return 2;
  }
  const wanted = values.scenarios.split(",").map((s) => s.trim());
  for (const s of wanted)
    if (!(SCENARIOS as readonly string[]).includes(s)) {
      console.error(`error: --scenarios: unknown scenario "${s}" (${SCENARIOS.join(", ")})`);
      return 2;
    }
  const scenarios = wanted as Scenario[];
  // The outage needs its 10 s window inside the load; the other scenarios any whole second count.
  const minSeconds = scenarios.includes("outage") ? OUTAGE_START_S + OUTAGE_MS / 1000 + 2 : 1;
  if (!Number.isInteger(seconds) || seconds < minSeconds) {
    console.error(`error: --seconds must be an integer of at least ${minSeconds}, got "${values.seconds}"`);
    return 2;
  }

  // Without Falcosidekick the Peregrine rows are still measured, and the ratio says why it is missing.
  let binary: string | undefined;
  let noSidekick: string | undefined;
  try {
    binary = ensureSidekick((l) => console.error(`[bench] ${l}`));
  } catch (err) {
    if (!(err instanceof BuildError)) throw err;
    noSidekick = err.message;
    console.error(`[bench] Falcosidekick unavailable, measuring Peregrine alone:\n${err.message}`);
  }
  const notes: string[] = [];
  let noFanout = scenarios.includes("fanout") ? "" : "not in --scenarios";
  if (scenarios.includes("fanout")) {
    const why = await fanoutAvailable();
    if (why !== true) {
      scenarios.splice(scenarios.indexOf("fanout"), 1);
      noFanout = why;
      notes.push(`fan-out skipped: ${why}`);
      console.error(`[bench] fan-out skipped: ${why}`);
    }
  }
  const targets: Target[] = binary === undefined ? [peregrine] : [peregrine, falcosidekick(binary)];
  const sink = await startWebhookSink();
  const rows: Row[] = [];
  let floor: DiskFloor | undefined;
  try {
    for (const scenario of scenarios) {
      if (scenario === "falco") {
        floor = measureDiskFloor({ seconds: 3 });
        console.error(`[bench] disk floor: append+fdatasync p50 ${floor.p50Ms.toFixed(3)} ms, p99 ${floor.p99Ms.toFixed(3)} ms`);
      }
      for (const target of targets) {
        const conns = scenario === "falco" ? 1 : connections;
        console.error(`[bench] ${scenario}: ${target.name} (${seconds} s, ${conns} connection${conns === 1 ? ", sequential" : "s"})`);
        const row = await runOne(scenario, target, sink, { seconds, connections: conns });
        console.error(`[bench]   accepted ${fmt(row.acceptedPerSec)}/s, delivered ${fmt(row.deliveredPerSec)}/s, lost ${row.lost}`);
        rows.push(row);
      }
    }
  } finally {
    await sink.stop();
  }

  console.log(
    `Peregrine vs Falcosidekick ${SIDEKICK_RELEASE}: ${seconds} s of load per run, ${connections} connections (falco: 1, sequential), one alert per request\n`,
  );
  console.log(table(rows));
  console.log("");
  for (const n of notes) console.log(n);
  for (const s of scenarios) {
    const r = ratio(rows, s);
    const c = ratio(rows, s, alertsPerCpu);
    if (r !== undefined && s !== "fanout") console.log(`${s}: peregrine/falcosidekick delivered-alerts/s ratio ${r.toFixed(2)}`);
    if (c !== undefined) console.log(`${s}: peregrine/falcosidekick alerts-per-CPU-second ratio ${c.toFixed(2)}`);
  }
  // The headline is the fan-out figure and nothing else: a steady ratio printed in its place
  // would be read as fan-out by anyone grepping for this line.
  if (floor) {
    console.log(
      `disk floor (append + fdatasync, ${floor.samples} samples): p50 ${floor.p50Ms.toFixed(3)} ms, p99 ${floor.p99Ms.toFixed(3)} ms`,
    );
    for (const row of rows.filter((x) => x.scenario === "falco"))
      console.log(
        `falco: ${row.tool} p50 ${row.p50.toFixed(3)} ms (${(row.p50 / Math.max(floor.p50Ms, 1e-6)).toFixed(2)}x the floor), p99 ${row.p99.toFixed(3)} ms, CPU ${fmt(cpuPerAlertUs(row))} us per acknowledged alert`,
      );
  }
  const r = scenarios.includes("fanout") ? ratio(rows, "fanout") : undefined;
  if (noSidekick !== undefined) console.log(`Falcosidekick could not be built: ${noSidekick.split("\n")[0]}`);
  const why = noFanout ? ` (fan-out not run: ${noFanout})` : "";
  if (scenarios.includes("falco")) {
    const f = ratio(rows, "falco", (x) => x.acceptedPerSec);
    console.log(`falco scenario: peregrine/falcosidekick acknowledged-alerts/s ratio: ${f === undefined ? "n/a" : f.toFixed(2)}`);
  }
  console.log(`peregrine/falcosidekick delivered-alerts/s ratio: ${r === undefined ? `n/a${why}` : r.toFixed(2)}`);
  return r === undefined ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
