/**
 * The k8s_audit source joined to a router: `peregrine run` (and `peregrine detect`) serve the
 * audit endpoint when detector.k8s_audit.enabled is true, whether or not this host can run the
 * eBPF sensor (a control-plane host often cannot). Its alerts are journaled like any other:
 * the endpoint answers the API server only once they are.
 */
import { normalizeAlert, type Alert } from "../alert.js";
import { readK8sAuditConfig, startK8sAudit, type K8sAuditRunning } from "../detector/index.js";
import { readDetectorConfig, SensorError } from "../detector/sources/syscall/index.js";
import type { Config } from "../config/index.js";
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
  try {
    return await startK8sAudit({
      config: parsed.config,
      rulesFiles: d.rulesFiles,
      selection: d.selection,
      appendOutput: d.appendOutput,
      ruleMatching: d.ruleMatching,
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
        await router.accept(normalized);
      },
    });
  } catch (err) {
    if ((err as { code?: string }).code === "DETECTOR_RULES_INVALID") throw new SensorError("DETECTOR_RULES_INVALID", (err as Error).message);
    throw new SensorError("DETECTOR_RULES_INVALID", `detector.k8s_audit: cannot listen on ${parsed.config.address}:${parsed.config.port}: ${(err as Error).message}`);
  }
}

export const extension: RunExtension = {
  name: "k8s_audit",
  async start(ctx: RunContext) {
    if (!ctx.withDetector) return;
    const running = await startK8sAuditSource(ctx.config, ctx.router, ctx.logger.child({ component: "k8s_audit" }));
    if (!running) return;
    return () => running.close();
  },
};
