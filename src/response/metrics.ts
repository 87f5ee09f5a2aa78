import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** peregrine_response_*: registered on the router's registry when the engine runs. */
export class ResponseMetrics {
  readonly actions: Counter<"actionner" | "status">;
  readonly matched: Counter<"rule">;
  readonly duration: Histogram<"actionner">;
  readonly latency: Histogram<"actionner">;
  readonly rules: Gauge;

  constructor(registry: Registry) {
    this.actions = new Counter({
      name: "peregrine_response_actions_total",
      help: "Action outcomes recorded, by actionner and status (done, gone, failed, refused, rate_limited, unresolved, dry_run).",
      labelNames: ["actionner", "status"] as const,
      registers: [registry],
    });
    this.matched = new Counter({
      name: "peregrine_response_rules_matched_total",
      help: "Alerts a response rule matched, by rule (retries of an alert count again).",
      labelNames: ["rule"] as const,
      registers: [registry],
    });
    this.duration = new Histogram({
      name: "peregrine_response_action_duration_seconds",
      help: "Time an actionner took to act, by actionner.",
      labelNames: ["actionner"] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    this.latency = new Histogram({
      name: "peregrine_response_latency_seconds",
      help: "Time from the alert's acceptance to its action done, by actionner.",
      labelNames: ["actionner"] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    this.rules = new Gauge({ name: "peregrine_response_rules_loaded", help: "Response rules loaded.", registers: [registry] });
  }
}
