/**
 * The syscall detector joined to a router: its alerts are journaled like alerts received over
 * HTTP and delivered by the router's lanes. `peregrine run` joins it to its own router (the
 * extension below); `peregrine detect` to a router of its own whose one lane posts to a
 * remote router (detect.ts).
 */
import { normalizeAlert } from "../alert.js";
import { errorMessage } from "../errors.js";
import {
  checkSensorPrerequisites,
  readDetectorConfig,
  SensorError,
  startSyscallDetector,
  type DetectorConfig,
  type SyscallDetector,
} from "../detector/sources/syscall/index.js";
import type { Logger } from "../log.js";
import type { Router } from "../router.js";
import type { DetectorStatsProvider, RunContext, RunExtension } from "../run-context.js";
import { metricsSnapshotAlert } from "../detector-metrics.js";

/** detector.metrics.alert_interval: the detector's metrics journaled as an alert every interval. */
function startMetricsAlerts(router: Router, stats: DetectorStatsProvider, intervalMs: number, logger: Logger): () => void {
  const timer = setInterval(() => {
    void (async () => {
      const n = normalizeAlert(metricsSnapshotAlert(await stats()));
      if (!n.ok) return logger.error({ field: n.error.field }, `detector metrics alert invalid: ${n.error.message}`);
      await router.accept([n.alert]);
    })().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, "could not journal the detector metrics alert"));
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** Starts the detector with `cfg`, handing every alert to `router`; resolves once the sensor streams. */
export async function startDetector(cfg: DetectorConfig, router: Router, logger: Logger): Promise<SyscallDetector> {
  const detector = await startSyscallDetector({
    rulesFiles: cfg.rulesFiles,
    selection: cfg.selection,
    appendOutput: cfg.appendOutput,
    ringBufferBytes: cfg.ringBufferBytes,
    kernelFilter: cfg.kernelFilter,
    ruleMatching: cfg.ruleMatching,
    timeFormatIso8601: cfg.timeFormatIso8601,
    kubernetes: cfg.kubernetes,
    containerEngines: cfg.containerEngines,
    ...(cfg.minimumPriority ? { minimumPriority: cfg.minimumPriority } : {}),
    logger,
    onAlert(alert) {
      const n = normalizeAlert(alert);
      if (!n.ok) {
        logger.error({ rule: alert.rule, field: n.error.field }, `detector produced an invalid alert: ${n.error.message}`);
        return;
      }
      router.accept([n.alert]).then(
        () => logger.debug({ uuid: n.alert.uuid, rule: n.alert.rule, output: n.alert.output }, "detector alert journaled"),
        (err: unknown) => logger.error({ rule: alert.rule, err: errorMessage(err) }, "could not journal a detector alert"),
      );
    },
  });
  await detector.ready;
  return detector;
}

/**
 * The embedded detector of `peregrine run`. With `detector.enabled: auto` (the default) a host
 * that cannot run the sensor gets one warning line and the router runs alone; with `true` it
 * is an error that ends `peregrine run`.
 */
export const extension: RunExtension = {
  name: "detector",
  async start(ctx: RunContext) {
    if (!ctx.withDetector) return;
    const parsed = readDetectorConfig(ctx.config.detector);
    if (!parsed.ok) throw new SensorError("DETECTOR_RULES_INVALID", `invalid detector config: ${parsed.problems.join("; ")}`);
    const cfg = parsed.config;
    if (cfg.enabled === false) return;
    const pre = checkSensorPrerequisites();
    if (!pre.ok) {
      if (cfg.enabled === "auto") {
        ctx.logger.warn(`detector skipped: ${pre.line}`);
        return;
      }
      throw new SensorError("SENSOR_UNAVAILABLE", pre.line);
    }
    const detector = await startDetector(cfg, ctx.router, ctx.logger.child({ component: "detector" }));
    const stats = dashboardStats(detector);
    ctx.detectorStats = stats;
    const stopMetricsAlerts = cfg.metricsAlertIntervalMs > 0 ? startMetricsAlerts(ctx.router, stats, cfg.metricsAlertIntervalMs, ctx.logger) : undefined;
    return async () => {
      stopMetricsAlerts?.();
      delete ctx.detectorStats;
      await detector.stop();
    };
  },
};

/** The dashboard's detector panel: counters, and events/s over the time since its last read. */
function dashboardStats(detector: SyscallDetector): DetectorStatsProvider {
  const rulesLoaded = detector.ruleset.rules.filter((r) => r.enabled && r.source === "syscall").length;
  let last = { at: Date.now(), events: detector.stats().eventsEvaluated, rate: 0 };
  return () => {
    const st = detector.stats();
    const now = Date.now();
    // Reads closer together than a second would make a jumpy rate: keep the last one.
    if (now - last.at >= 1000) last = { at: now, events: st.eventsEvaluated, rate: ((st.eventsEvaluated - last.events) * 1000) / (now - last.at) };
    return {
      rules_loaded: rulesLoaded,
      events_per_second: Math.round(last.rate),
      events_total: st.eventsEvaluated,
      alerts_total: st.alerts,
      filtered_total: Object.values(st.sensorFiltered).reduce((a, b) => a + b, 0),
      drops: st.sensorDrops,
      state: st.sensorRestarts > 0 ? `running (sensor restarted ${st.sensorRestarts}×)` : "running",
      ...(detector.sensorPid() !== undefined ? { sensor_pid: detector.sensorPid()! } : {}),
      ...(st.containers
        ? {
            containers: {
              lookups_found: st.containers.found,
              lookups_missing: st.containers.missing,
              engine_errors: st.containers.engineErrors,
              engines_down: st.containers.enginesDown.length,
              cached: st.containers.containers,
              container_events: st.containers.containerEvents,
              latency_ms: st.containers.latencyMs,
            },
          }
        : {}),
    };
  };
}
