/**
 * The one seam where the halves of `peregrine run` meet. The CLI builds the router and one
 * RunContext and hands it to every RunExtension (the dashboard, the detector, noise control);
 * the halves never import each other, they share what is on the context.
 */
// Type-only imports of the router and the config (erased at run time; neither imports this
// module back). The extensions hand the router on whole (accept, metrics, lanes, journal,
// history, events, config): an interface narrower than Router would restate most of it.
import type { FastifyInstance } from "fastify";
import type { Config } from "./config/index.js";
import type { Logger } from "./log.js";
import type { Router } from "./router.js";

/** What the detector tells the dashboard's detector panel. */
export interface DetectorStats {
  /** Rules enabled and compiled. */
  rules_loaded: number;
  /** Events the rule engine evaluated per second, recently. */
  events_per_second: number;
  /** Events evaluated since start. */
  events_total?: number;
  /** Alerts the detector produced since start. */
  alerts_total?: number;
  /** Events the kernel kept back because no loaded rule could match them, since start. */
  filtered_total?: number;
  /** Events lost before the rule engine, by category (ring buffer full, ...), since start. */
  drops: Record<string, number>;
  /** Free-form state line: "running", "sensor missing: grant CAP_BPF", ... */
  state?: string;
  /** The sensor process, whose CPU and memory /metrics reports (peregrine_detector_*). */
  sensor_pid?: number;
  /** Container metadata lookups (detector.container_engines), while an engine is enabled. */
  containers?: {
    lookups_found: number;
    lookups_missing: number;
    engine_errors: number;
    engines_down: number;
    cached: number;
    container_events: number;
    /** Lookup latency per engine, ms, over the last 1,000 answered lookups. */
    latency_ms: Record<string, { p50: number; p99: number }>;
  };
}

export type DetectorStatsProvider = () => DetectorStats | Promise<DetectorStats>;

export interface RunContext {
  router: Router;
  config: Config;
  logger: Logger;
  /** True for `peregrine run`, false for `peregrine router`. */
  withDetector: boolean;
  /** Set by the detector while it runs (unset when it stops); the dashboard reads it. */
  detectorStats?: DetectorStatsProvider;
}

/** Hooks other halves register to join `peregrine run` (the detector, the dashboard). */
export interface RunExtension {
  name: string;
  /** Adds HTTP routes before the server listens (fastify cannot add them later). */
  registerRoutes?(app: FastifyInstance, ctx: RunContext): void | Promise<void>;
  /** Called once the router listens; returns a stop function. */
  start?(ctx: RunContext): Promise<(() => Promise<void>) | void>;
}
