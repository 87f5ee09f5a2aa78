/**
 * Joins the syscall detector to `peregrine run`: alerts go through the router's journal like
 * alerts received over HTTP. With `detector.enabled: auto` (the default) a host that cannot
 * run the sensor gets one warning line and the router runs alone; with `true` it is an error.
 * Register with: registerRunExtension(syscallDetectorExtension()).
 */
import { normalizeAlert } from "../../../alert.js";
import type { RunContext, RunExtension } from "../../../cli/run.js";
import { setDetectorStatsProvider, type DetectorStats } from "../../../ui/detector-stats.js";
import { readDetectorConfig } from "./config.js";
import { SensorError, startSyscallDetector, type SyscallDetector } from "./detector.js";
import { checkSensorPrerequisites } from "./prerequisites.js";

export function syscallDetectorExtension(): RunExtension {
  return {
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
      const { logger, router } = ctx;
      const detector = await startSyscallDetector({
        rulesFiles: cfg.rulesFiles,
        selection: cfg.selection,
        appendOutput: cfg.appendOutput,
        ringBufferBytes: cfg.ringBufferBytes,
        kernelFilter: cfg.kernelFilter,
        ruleMatching: cfg.ruleMatching,
        ...(cfg.minimumPriority ? { minimumPriority: cfg.minimumPriority } : {}),
        logger: logger.child({ component: "detector" }),
        onAlert(alert) {
          const n = normalizeAlert(alert);
          if (!n.ok) {
            logger.error({ rule: alert.rule, field: n.error.field }, `detector produced an invalid alert: ${n.error.message}`);
            return;
          }
          router.accept([n.alert]).catch((err: unknown) => logger.error({ rule: alert.rule, err: (err as Error).message }, "could not journal a detector alert"));
        },
      });
      await detector.ready;
      setDetectorStatsProvider(dashboardStats(detector));
      return async () => {
        setDetectorStatsProvider(undefined);
        await detector.stop();
      };
    },
  };
}

/** The dashboard's detector panel: counters, and events/s over the time since its last read. */
function dashboardStats(detector: SyscallDetector): () => DetectorStats {
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
    };
  };
}
