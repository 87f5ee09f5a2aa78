import { Registry, Counter, Gauge, Histogram, collectDefaultMetrics, type LabelValues } from "prom-client";

/** Distinct values a label an alert controls (its `source`) may take; the rest count as "other". */
export const MAX_ALERT_LABEL_VALUES = 100;
export const OTHER_LABEL = "other";

/**
 * Keeps a label's distinct values bounded: the first `max` values seen keep their name,
 * later ones are counted under "other". A producer inventing a source per alert would
 * otherwise grow /metrics (and every scrape) without end.
 */
export class LabelCap {
  private readonly kept = new Set<string>();
  constructor(private readonly max: number = MAX_ALERT_LABEL_VALUES) {}
  of(value: string): string {
    if (this.kept.has(value)) return value;
    if (this.kept.size >= this.max) return OTHER_LABEL;
    this.kept.add(value);
    return value;
  }
}

/** A counter whose listed labels go through a LabelCap. */
class CappedCounter<T extends string> {
  private readonly caps: Map<T, LabelCap>;
  constructor(
    readonly counter: Counter<T>,
    capped: readonly T[],
  ) {
    this.caps = new Map(capped.map((l) => [l, new LabelCap()]));
  }
  inc(labels: LabelValues<T>, value?: number): void {
    const out: LabelValues<T> = { ...labels };
    for (const [label, cap] of this.caps) {
      const v = out[label];
      if (v !== undefined) out[label] = cap.of(String(v));
    }
    this.counter.inc(out, value);
  }
}

/**
 * Every metric the router exports, defined once. Lanes, ingest and the journal update
 * these; outputs never count anything themselves. Names are checked by the compose test
 * against the Grafana dashboard's queries.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly alertsReceived = new CappedCounter<"priority" | "source">(
    new Counter({
      name: "peregrine_alerts_received_total",
      help: `Alerts accepted at ingest and journaled. At most ${MAX_ALERT_LABEL_VALUES} sources are named; the rest count as source="other".`,
      labelNames: ["priority", "source"] as const,
      registers: [this.registry],
    }),
    ["source"],
  );
  readonly ingestDuplicates = new Counter({
    name: "peregrine_ingest_duplicates_total",
    help: "Alerts answered 200 but not journaled again: their uuid was accepted within ingest.dedup_window (a producer's retry).",
    registers: [this.registry],
  });
  readonly ingestRejected = new Counter({
    name: "peregrine_ingest_rejected_total",
    help: "Requests refused at ingest, by reason (error code).",
    labelNames: ["reason"] as const,
    registers: [this.registry],
  });
  readonly journalEntries = new Gauge({
    name: "peregrine_journal_pending_deliveries",
    help: "Deliveries waiting in the journal, all outputs.",
    registers: [this.registry],
  });
  readonly journalBytes = new Gauge({
    name: "peregrine_journal_bytes",
    help: "Bytes used by the journal.",
    registers: [this.registry],
  });
  readonly journalFull = new Gauge({
    name: "peregrine_journal_full",
    help: "1 while the journal is at storage.max_bytes and ingest answers 503.",
    registers: [this.registry],
  });
  readonly delivered = new Counter({
    name: "peregrine_output_delivered_total",
    help: "Alerts delivered, per output.",
    labelNames: ["output", "type"] as const,
    registers: [this.registry],
  });
  readonly failedAttempts = new Counter({
    name: "peregrine_output_failed_attempts_total",
    help: "Send attempts that failed (retry, reject or partial), per output.",
    labelNames: ["output", "type", "kind"] as const,
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: "peregrine_output_retries_total",
    help: "Alerts scheduled for another attempt, per output.",
    labelNames: ["output", "type"] as const,
    registers: [this.registry],
  });
  readonly deadLettered = new Counter({
    name: "peregrine_output_dead_lettered_total",
    help: "Alerts moved to the dead-letter store, per output.",
    labelNames: ["output", "type"] as const,
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "peregrine_output_queue_depth",
    help: "Alerts waiting for an output (in the journal), per output.",
    labelNames: ["output", "type"] as const,
    registers: [this.registry],
  });
  readonly inFlight = new Gauge({
    name: "peregrine_output_in_flight",
    help: "Sends under way, per output.",
    labelNames: ["output", "type"] as const,
    registers: [this.registry],
  });
  readonly batchSize = new Histogram({
    name: "peregrine_output_batch_size",
    help: "Alerts per send, per output.",
    labelNames: ["output", "type"] as const,
    buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000],
    registers: [this.registry],
  });
  readonly deliveryLatency = new Histogram({
    name: "peregrine_output_delivery_latency_seconds",
    help: "Time from acceptance at ingest to delivery, per output.",
    labelNames: ["output", "type"] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    registers: [this.registry],
  });
  readonly circuitState = new Gauge({
    name: "peregrine_output_circuit_state",
    help: "Circuit breaker state per output: 0 closed, 1 half-open, 2 open.",
    labelNames: ["output", "type"] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: "peregrine_" });
  }
}
