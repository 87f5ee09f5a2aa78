/**
 * The embedded detector's own metrics under peregrine_detector_*, as Falco's metrics
 * framework exposes them: events/s, events, drops, alerts (rules matched), rules loaded,
 * and the CPU and memory of the rule engine (this process) and of the sensor process.
 * Read from the detector's stats provider at scrape time, so nothing is counted twice.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { Gauge, type Registry } from "prom-client";
import type { DetectorStats } from "./run-context.js";

/** The stats the metrics are read from, with the sensor's pid for its CPU and memory. */
export type DetectorMetricsSource = () => Promise<DetectorStats | undefined>;

/** Clock ticks per second of /proc/<pid>/stat times: 100 on every Linux Node runs on. */
const CLOCK_TICKS = 100;

/** CPU seconds (user + system) and resident bytes of a process, from /proc; undefined once it is gone. */
export function processUsage(pid: number): { cpuSeconds: number; rssBytes: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name may hold spaces and parentheses: fields are counted after its last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return { cpuSeconds: (utime + stime) / CLOCK_TICKS, rssBytes: m ? Number(m[1]) * 1024 : 0 };
  } catch {
    return undefined;
  }
}

/**
 * Registers the peregrine_detector_* metrics. Every metric reads one snapshot of the stats
 * per scrape (taken by whichever collects first), and shows no sample while no detector runs.
 */
export function registerDetectorMetrics(registry: Registry, source: DetectorMetricsSource): void {
  let snapshot: { at: number; value: Promise<DetectorStats | undefined> } | undefined;
  const read = () => {
    const now = Date.now();
    // One scrape collects all the metrics within a few ms: they share one reading.
    if (!snapshot || now - snapshot.at > 250) snapshot = { at: now, value: source().catch(() => undefined) };
    return snapshot.value;
  };

  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    fill: (g: Gauge<L>, stats: DetectorStats) => void,
  ): void => {
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        this.reset();
        const stats = await read();
        if (stats) fill(this, stats);
      },
    });
  };

  gauge("peregrine_detector_rules_loaded", "Rules the embedded detector loaded and compiled.", [], (g, s) => g.set(s.rules_loaded));
  gauge("peregrine_detector_events_per_second", "Events the detector's rule engine evaluated per second, recently.", [], (g, s) =>
    g.set(s.events_per_second),
  );
  gauge("peregrine_detector_events_total", "Events the detector's rule engine evaluated since start.", [], (g, s) => g.set(s.events_total ?? 0));
  gauge("peregrine_detector_rules_matched_total", "Alerts the detector raised (rule matches) since start.", [], (g, s) =>
    g.set(s.alerts_total ?? 0),
  );
  gauge("peregrine_detector_filtered_total", "Events the kernel-side filter kept back (no loaded rule could match) since start.", [], (g, s) =>
    g.set(s.filtered_total ?? 0),
  );
  gauge("peregrine_detector_drops_total", "Events lost before the rule engine since start, by category.", ["category"], (g, s) => {
    for (const [category, n] of Object.entries(s.drops)) g.set({ category }, n);
  });
  const usage = (s: DetectorStats) => {
    const out: { process: string; cpuSeconds: number; rssBytes: number }[] = [];
    const engine = processUsage(process.pid);
    if (engine) out.push({ process: "engine", ...engine });
    const sensor = s.sensor_pid === undefined ? undefined : processUsage(s.sensor_pid);
    if (sensor) out.push({ process: "sensor", ...sensor });
    return out;
  };
  // container metadata (detector.container_engines): no sample while no engine is enabled
  gauge("peregrine_detector_container_lookups_total", 'Container metadata lookups since start: result="found" (an engine knew the container) or "missing" (none did).', ["result"], (g, s) => {
    if (!s.containers) return;
    g.set({ result: "found" }, s.containers.lookups_found);
    g.set({ result: "missing" }, s.containers.lookups_missing);
  });
  gauge("peregrine_detector_container_engine_errors_total", "Container engine requests that failed (engine down, refused, timed out) since start.", [], (g, s) => {
    if (s.containers) g.set(s.containers.engine_errors);
  });
  gauge("peregrine_detector_container_engines_down", "Container engine sockets currently down.", [], (g, s) => {
    if (s.containers) g.set(s.containers.engines_down);
  });
  gauge("peregrine_detector_container_cache_entries", "Containers in the metadata cache.", [], (g, s) => {
    if (s.containers) g.set(s.containers.cached);
  });
  gauge("peregrine_detector_container_events_total", "Synthetic container events (evt.type = container) raised since start.", [], (g, s) => {
    if (s.containers) g.set(s.containers.container_events);
  });
  gauge("peregrine_detector_container_lookup_seconds", "Container metadata lookup latency per engine over the last 1,000 lookups (quantile 0.5 and 0.99).", ["engine", "quantile"], (g, s) => {
    for (const [engine, l] of Object.entries(s.containers?.latency_ms ?? {})) {
      g.set({ engine, quantile: "0.5" }, l.p50 / 1000);
      g.set({ engine, quantile: "0.99" }, l.p99 / 1000);
    }
  });
  gauge(
    "peregrine_detector_cpu_seconds_total",
    'CPU time (user + system) of the detector: process="sensor" the eBPF sensor, process="engine" the process running the rule engine (and the router).',
    ["process"],
    (g, s) => {
      for (const u of usage(s)) g.set({ process: u.process }, u.cpuSeconds);
    },
  );
  gauge(
    "peregrine_detector_memory_rss_bytes",
    'Resident memory of the detector: process="sensor" the eBPF sensor, process="engine" the process running the rule engine (and the router).',
    ["process"],
    (g, s) => {
      for (const u of usage(s)) g.set({ process: u.process }, u.rssBytes);
    },
  );
}

/** The rule name Falco gives its metrics snapshots, so existing routes and filters match. */
export const METRICS_SNAPSHOT_RULE = "Falco internal: metrics snapshot";

/**
 * The detector's metrics as one alert (detector.metrics.alert_interval), as Falco emits its
 * metrics with `metrics.output_rule`: priority Informational, source internal, the values
 * in output_fields under the names of their /metrics series.
 */
export function metricsSnapshotAlert(stats: DetectorStats): Record<string, unknown> {
  const fields: Record<string, number> = {
    "peregrine.detector.rules_loaded": stats.rules_loaded,
    "peregrine.detector.events_per_second": stats.events_per_second,
    "peregrine.detector.events_total": stats.events_total ?? 0,
    "peregrine.detector.rules_matched_total": stats.alerts_total ?? 0,
    "peregrine.detector.filtered_total": stats.filtered_total ?? 0,
    "peregrine.detector.drops_total": Object.values(stats.drops).reduce((a, b) => a + b, 0),
  };
  for (const [category, n] of Object.entries(stats.drops)) fields[`peregrine.detector.drops.${category}`] = n;
  const engine = processUsage(process.pid);
  if (engine) {
    fields["peregrine.detector.engine.cpu_seconds"] = engine.cpuSeconds;
    fields["peregrine.detector.engine.memory_rss_bytes"] = engine.rssBytes;
  }
  const sensor = stats.sensor_pid === undefined ? undefined : processUsage(stats.sensor_pid);
  if (sensor) {
    fields["peregrine.detector.sensor.cpu_seconds"] = sensor.cpuSeconds;
    fields["peregrine.detector.sensor.memory_rss_bytes"] = sensor.rssBytes;
  }
  return {
    time: new Date().toISOString(),
    priority: "Informational",
    rule: METRICS_SNAPSHOT_RULE,
    source: "internal",
    hostname: hostname(),
    output: `Falco metrics snapshot: ${fields["peregrine.detector.events_total"]} events, ${fields["peregrine.detector.rules_matched_total"]} rules matched, ${fields["peregrine.detector.drops_total"]} drops`,
    output_fields: fields,
    tags: [],
  };
}
