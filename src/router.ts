import { EventEmitter } from "node:events";
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { Logger } from "pino";
import { meetsMinimum, type Alert } from "./alert.js";
import type { Config, OutputConfig } from "./config/index.js";
import { SqliteJournal, StorageFullError, type Journal, type JournalEntry, type JournalProblem } from "./delivery/journal.js";
import { Lane, type LaneStatus } from "./delivery/lane.js";
import type { Output } from "./delivery/output.js";
import { Metrics } from "./metrics.js";
import { errorMessage } from "./errors.js";
import { RecentAlerts } from "./ui/recent.js";
import { HistoryStore } from "./history/store.js";

/** Decides which outputs want an alert. Replaceable so routing rules can grow in src/route/. */
export interface AlertRouter {
  outputsFor(alert: Alert): string[];
}

/** Transforms an alert before it is journaled (custom fields, tags, templated fields). */
export type Enricher = (alert: Alert) => Alert;

export class MinimumPriorityRouter implements AlertRouter {
  constructor(private readonly outputs: readonly OutputConfig[]) {}
  outputsFor(alert: Alert): string[] {
    const names: string[] = [];
    for (const o of this.outputs) if (meetsMinimum(alert.priority, o.minimum_priority)) names.push(o.name);
    return names;
  }
}

/** What GET /healthz answers: 503 unless `ready`. */
export interface HealthReport {
  ready: boolean;
  body: {
    status: "ok" | "degraded" | "unavailable";
    journal: { writable: boolean; full: boolean; used_bytes: number; max_bytes: number };
    /** Why the status is not "ok" on the journal's side, each with a stable code. */
    problems: JournalProblem[];
    outputs: LaneStatus[];
  };
}

export { StorageFullError } from "./delivery/journal.js";

export interface RouterEvents {
  /** Emitted after an alert is journaled (for the dashboard's live feed). */
  alert: [Alert];
}

/**
 * Assembles the router: journal, one lane per output, routing and enrichment.
 * The HTTP API and the detector both hand alerts to `accept`.
 */
export class Router extends EventEmitter<RouterEvents> {
  readonly metrics = new Metrics();
  readonly journal: Journal;
  readonly lanes = new Map<string, Lane>();
  private readonly recent: RecentAlerts;
  /** Every accepted alert, kept across restarts (history.enabled); undefined when disabled. */
  readonly history?: HistoryStore;
  private accepting = true;
  private routing: AlertRouter;
  private enrich: Enricher = (a) => a;
  /** Lanes of the router's own consumers (the response engine), added before start. */
  private readonly internal: { config: OutputConfig; output: Output; wants: (alert: Alert) => boolean }[] = [];
  readonly startedAt = Date.now();

  constructor(
    readonly config: Config,
    readonly logger: Logger,
    options: { journal?: Journal; startFresh?: boolean } = {},
  ) {
    super();
    this.journal =
      options.journal ??
      new SqliteJournal({
        dir: config.storage.path,
        maxBytes: config.storage.max_bytes,
        fsync: config.storage.fsync,
        // The router owns its journal: the lock on storage.path, the start-up checks, the watch.
        owner: true,
        startFresh: options.startFresh === true,
        logger: logger.child({ component: "journal" }),
      });
    this.routing = new MinimumPriorityRouter(config.outputs);
    const kept = config.ingest.recent_alerts;
    this.recent = new RecentAlerts({ maxAlerts: kept.max_alerts, maxBytes: kept.max_bytes });
    const h = config.history;
    if (h?.enabled)
      this.history = new HistoryStore({ dir: config.storage.path, retentionMs: h.retention, maxBytes: h.max_bytes, writer: "worker", logger: logger.child({ component: "history" }) });
  }

  setRouting(routing: AlertRouter): void {
    this.routing = routing;
  }

  setEnricher(enrich: Enricher): void {
    this.enrich = enrich;
  }

  /**
   * A lane for a consumer of accepted alerts that is not a configured output (the response
   * engine): alerts it `wants` are journaled for it and delivered with its lane's policy.
   * Never part of routing, `POST /test` or summaries. Call before start().
   */
  addInternalOutput(config: OutputConfig, output: Output, wants: (alert: Alert) => boolean): void {
    this.internal.push({ config, output, wants });
  }

  /** Creates every output and lane and resumes whatever the journal still holds. */
  start(): void {
    const configured = new Set([...this.config.outputs, ...this.internal.map((i) => i.config)].map((o) => o.name));
    if (this.journal instanceof SqliteJournal) {
      for (const name of this.journal.outputsWithPending()) {
        if (configured.has(name)) continue;
        const n = this.journal.retireOutput(name, "output removed from the configuration");
        this.logger.warn({ output: name, count: n }, `output ${name} is no longer configured: ${n} undelivered alert(s) moved to the dead-letter store`);
      }
    }
    for (const oc of this.config.outputs) {
      const output = oc.definition.create(oc.options as never, {
        name: oc.name,
        logger: this.logger.child({ output: oc.name }),
        dataDir: this.config.storage.path,
        batchMaxEvents: oc.batch.max_events,
      });
      this.lanes.set(oc.name, new Lane(oc, output, this.journal, this.metrics, this.logger));
    }
    for (const i of this.internal) this.lanes.set(i.config.name, new Lane(i.config, i.output, this.journal, this.metrics, this.logger));
    this.journal.onCommit((byOutput) => {
      for (const [name, entries] of byOutput) this.lanes.get(name)?.offer(entries);
    });
    for (const lane of this.lanes.values()) lane.start();
    this.history?.start();
  }

  get isAccepting(): boolean {
    return this.accepting;
  }

  /**
   * Enriches, routes and journals alerts; resolves once they are durable. Throws
   * StorageFullError when the journal is at its quota (nothing is half-accepted).
   */
  async accept(alerts: readonly Alert[], options: { allOutputs?: boolean; outputs?: readonly string[] } = {}): Promise<JournalEntry[]> {
    // Not isFull(): that stays true after a large request was refused, and a smaller one may
    // still fit (the journal refuses exactly, per request, what would pass the quota).
    if (this.journal.usedBytes() >= this.config.storage.max_bytes) {
      this.metrics.journalFull.set(1);
      throw new StorageFullError();
    }
    this.metrics.journalFull.set(0);
    const all = this.config.outputs.map((o) => o.name);
    const items = alerts.map((raw) => {
      const alert = this.enrich(raw);
      // `outputs` is for alerts the router itself makes for one output (dedup summaries).
      let outputs = options.outputs ?? (options.allOutputs ? all : this.routing.outputsFor(alert));
      if (options.outputs === undefined && !options.allOutputs)
        for (const i of this.internal) if (i.wants(alert)) outputs = [...outputs, i.config.name];
      return { alert, outputs };
    });
    const entries = await this.journal.append(items);
    for (const e of entries) {
      this.metrics.alertsReceived.inc({ priority: e.alert.priority, source: e.alert.source });
      // An alert no output wants is not written (0 bytes): its size is measured here instead.
      this.recent.add(e.alert, e.bytes > 0 ? e.bytes : JSON.stringify(e.alert).length);
      this.history?.record(e.alert);
      this.emit("alert", e.alert);
    }
    return entries;
  }

  /** The test alert of `POST /test`, sent to every output regardless of routing. */
  testAlert(): Alert {
    return {
      uuid: randomUUID(),
      time: new Date().toISOString(),
      priority: "Debug",
      rule: "Test rule",
      output: "This is a test from Peregrine",
      output_fields: { "proc.name": "peregrine", "evt.time": Date.now() * 1_000_000 },
      source: "debug",
      tags: ["test", "example"],
      hostname: hostname(),
    };
  }

  /** The most recent alerts, newest last (bounded by ingest.recent_alerts). */
  recentAlerts(limit?: number): Alert[] {
    return this.recent.list(limit);
  }

  replayDeadLetters(filter: { output?: string; ids?: readonly number[] } = {}): number {
    const n = this.journal.replayDeadLetters(filter);
    for (const lane of this.lanes.values()) if (filter.output === undefined || lane.name === filter.output) lane.rescan();
    return n;
  }

  /** Health tells the truth: not ready while journal writes fail, at the quota, or stopping. */
  health(): HealthReport {
    const j = this.journal.health();
    const outputs = [...this.lanes.values()].map((l) => l.status());
    const ready = j.writable && !j.full && this.accepting;
    const problems = [...j.problems];
    if (j.full)
      problems.push({
        code: "INGEST_STORAGE_FULL",
        message: `the journal is at storage.max_bytes (${j.used_bytes} of ${j.max_bytes} bytes): ingest answers 503 until outputs deliver the backlog`,
        since: new Date().toISOString(),
      });
    const status = !ready ? "unavailable" : problems.length > 0 || outputs.some((o) => o.state !== "healthy") ? "degraded" : "ok";
    return {
      ready,
      body: { status, journal: { writable: j.writable, full: j.full, used_bytes: j.used_bytes, max_bytes: j.max_bytes }, problems, outputs },
    };
  }

  refreshGauges(): void {
    let pending = 0;
    for (const lane of this.lanes.values()) pending += lane.status().queue_depth;
    this.metrics.journalEntries.set(pending);
    this.metrics.journalBytes.set(this.journal.usedBytes());
    this.metrics.journalFull.set(this.journal.isFull() ? 1 : 0);
  }

  /** Stops accepting, drains every lane for up to `drainMs`, closes the journal. */
  async stop(drainMs = this.config.shutdown.drain_ms): Promise<void> {
    this.accepting = false;
    await Promise.all([...this.lanes.values()].map((l) => l.stop(drainMs)));
    try {
      this.history?.close();
    } catch (err) {
      this.logger.error({ err: errorMessage(err) }, "closing the alert history failed");
    }
    try {
      this.journal.close();
    } catch (err) {
      this.logger.error({ err: errorMessage(err) }, "closing the journal failed");
    }
  }
}

