/**
 * The k8s_audit source joined to a router: `peregrine run` (and `peregrine detect`) serve the
 * audit endpoint when detector.k8s_audit.enabled is true, whether or not this host can run the
 * eBPF sensor (a control-plane host often cannot). Its alerts are journaled like any other:
 * the endpoint answers the API server only once they are.
 */
import { Counter } from "prom-client";
import { normalizeAlert, type Alert } from "../alert.js";
import { readK8sAuditConfig, startK8sAudit, type K8sAuditRunning } from "../detector/index.js";
import { readDetectorConfig, SensorError } from "../detector/sources/syscall/index.js";
import type { Config } from "../config/index.js";
import { UuidDedup } from "../ingest/dedup.js";
import type { Logger } from "../log.js";
import type { Router } from "../router.js";
import type { RunContext, RunExtension } from "../run-context.js";

/** Starts the endpoint when the config enables it; undefined when it does not. */
export async function startK8sAuditSource(config: Config, router: Router, logger: Logger): Promise<K8sAuditRunning | undefined> {
  const section = (config.detector ?? {}) as Record<string, unknown>;
  const parsed = readK8sAuditConfig(section.k8s_audit);
  if (!parsed.ok) throw new SensorError("DETECTOR_RULES_INVALID", `invalid detector config: ${parsed.problems.join("; ")}`);
  if (!parsed.config.enabled) return undefined;
  const detector = readDetectorConfig(config.detector);
  if (!detector.ok) throw new SensorError("DETECTOR_RULES_INVALID", `invalid detector config: ${detector.problems.join("; ")}`);
  const d = detector.config;
  // A batch the API server retries carries the same uuids (from auditID, stage and rule): the
  // store HTTP ingest uses keeps it from being journaled twice within ingest.dedup_window.
  const dedup = config.ingest.dedup_window > 0 ? new UuidDedup(config.storage.path, config.ingest.dedup_window, logger) : undefined;
  try {
    const running = await startK8sAudit({
      config: parsed.config,
      rulesFiles: d.rulesFiles,
      selection: d.selection,
      appendOutput: d.appendOutput,
      ruleMatching: d.ruleMatching,
      timeFormatIso8601: d.timeFormatIso8601,
      ...(d.minimumPriority ? { minimumPriority: d.minimumPriority } : {}),
      logger,
      async deliver(alerts) {
        const normalized: Alert[] = [];
        for (const a of alerts) {
          const n = normalizeAlert(a);
          if (!n.ok) {
            logger.error({ rule: a.rule, field: n.error.field }, `k8s_audit produced an invalid alert: ${n.error.message}`);
            continue;
          }
          normalized.push(n.alert);
        }
        const claim = dedup ? await dedup.claim(normalized, normalized.map(() => true)) : undefined;
        try {
          if (claim && claim.duplicates > 0) {
            router.metrics.ingestDuplicates.inc(claim.duplicates);
            logger.debug({ duplicates: claim.duplicates }, "k8s_audit: alerts of a retried batch already journaled");
          }
          const fresh = claim?.alerts ?? normalized;
          if (fresh.length > 0) await router.accept(fresh);
          claim?.commit(fresh);
        } finally {
          claim?.release();
        }
      },
    });
    const closeEndpoint = running.close.bind(running);
    running.close = async () => {
      await closeEndpoint();
      dedup?.close();
    };
    return running;
  } catch (err) {
    dedup?.close();
    if ((err as { code?: string }).code === "DETECTOR_RULES_INVALID") throw new SensorError("DETECTOR_RULES_INVALID", (err as Error).message);
    throw new SensorError("DETECTOR_RULES_INVALID", `detector.k8s_audit: cannot listen on ${parsed.config.address}:${parsed.config.port}: ${(err as Error).message}`);
  }
}

const METRICS = {
  requests: "peregrine_k8s_audit_requests_total",
  events: "peregrine_k8s_audit_events_total",
  alerts: "peregrine_k8s_audit_alerts_total",
} as const;

/** The endpoint's counters in the router's /metrics, read from its stats at scrape time. */
export function registerK8sAuditMetrics(router: Router, running: K8sAuditRunning): () => void {
  const registry = router.metrics.registry;
  new Counter({
    name: METRICS.requests,
    help: "Audit webhook requests answered, by HTTP status (200: evaluated and journaled; 429: busy; 4xx: refused).",
    labelNames: ["status"],
    registers: [registry],
    collect() {
      const st = running.stats();
      this.reset();
      if (st.batches > 0) this.inc({ status: "200" }, st.batches);
      for (const [status, n] of Object.entries(st.rejected)) this.inc({ status }, n);
    },
  });
  new Counter({
    name: METRICS.events,
    help: "Kubernetes audit events evaluated by the k8s_audit rules (in bodies answered 200).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(running.stats().events);
    },
  });
  new Counter({
    name: METRICS.alerts,
    help: "Alerts the k8s_audit rules raised and the journal accepted.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(running.stats().alerts);
    },
  });
  return () => {
    for (const name of Object.values(METRICS)) registry.removeSingleMetric(name);
  };
}

export const extension: RunExtension = {
  name: "k8s_audit",
  async start(ctx: RunContext) {
    if (!ctx.withDetector) return;
    const running = await startK8sAuditSource(ctx.config, ctx.router, ctx.logger.child({ component: "k8s_audit" }));
    if (!running) return;
    const unregister = registerK8sAuditMetrics(ctx.router, running);
    return async () => {
      unregister();
      await running.close();
    };
  },
};
