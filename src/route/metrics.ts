import { Counter, Gauge, type Registry } from "prom-client";

/** Routing and noise-control metrics, registered on the router's registry. */
export class RouteMetrics {
  readonly skipped: Counter<"output" | "type" | "reason">;
  readonly suppressed: Counter<"output" | "type" | "reason">;
  readonly summaries: Counter<"output" | "type" | "reason">;
  readonly overflowed: Counter<"output" | "type" | "reason">;
  readonly filterErrors: Counter<"output" | "type">;
  readonly openWindows: Gauge<"output" | "type" | "reason">;

  constructor(registry: Registry, openWindows: () => { output: string; type: string; reason: string; value: number }[]) {
    const registers = [registry];
    this.skipped = new Counter({
      name: "peregrine_route_skipped_total",
      help: "Alerts not routed to an output, by reason (minimum_priority, filter).",
      labelNames: ["output", "type", "reason"] as const,
      registers,
    });
    this.suppressed = new Counter({
      name: "peregrine_route_suppressed_total",
      help: "Alerts suppressed for an output by noise control, by reason (dedup, throttle).",
      labelNames: ["output", "type", "reason"] as const,
      registers,
    });
    this.summaries = new Counter({
      name: "peregrine_route_summaries_total",
      help: "Summary alerts emitted when a dedup or throttle window closed.",
      labelNames: ["output", "type", "reason"] as const,
      registers,
    });
    this.overflowed = new Counter({
      name: "peregrine_route_key_overflow_total",
      help: "Alerts let through unchecked because max_keys windows were open.",
      labelNames: ["output", "type", "reason"] as const,
      registers,
    });
    this.filterErrors = new Counter({
      name: "peregrine_route_filter_errors_total",
      help: "Filter evaluations that threw; the alert was routed (fail open).",
      labelNames: ["output", "type"] as const,
      registers,
    });
    this.openWindows = new Gauge({
      name: "peregrine_route_open_windows",
      help: "Dedup and throttle windows currently open, per output.",
      labelNames: ["output", "type", "reason"] as const,
      registers,
      collect() {
        for (const w of openWindows()) this.set({ output: w.output, type: w.type, reason: w.reason }, w.value);
      },
    });
  }
}
