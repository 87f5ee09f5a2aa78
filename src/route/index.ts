import type { Logger } from "pino";
import type { Config, OutputConfig } from "../config/index.js";
import type { Router } from "../router.js";
import { errorMessage } from "../errors.js";
import { CHAT_DEDUP_DEFAULT, type DedupConfig, type ThrottleConfig } from "./config.js";
import { compileFilter, describeFilterProblem } from "./filter.js";
import { RouteMetrics } from "./metrics.js";
import { OutputRouter, type OutputRoute } from "./output-router.js";

export { checkOutputRouting } from "./check.js";
export { dedupShape, throttleShape, type DedupConfig, type ThrottleConfig } from "./config.js";
export { OutputRouter, type OutputRoute, type SummarySink } from "./output-router.js";
export { RouteMetrics } from "./metrics.js";
export { SUMMARY_TAG, summaryAlert } from "./summary.js";

/** The dedup an output gets: its own `dedup:`, else the chat default when its definition is a chat service. */
export function effectiveDedup(o: { definition: { chat?: boolean | undefined }; dedup?: DedupConfig | undefined }): DedupConfig | undefined {
  if (o.dedup !== undefined) return o.dedup.enabled ? o.dedup : undefined;
  return o.definition.chat === true ? CHAT_DEDUP_DEFAULT : undefined;
}

/** Compiles each output's routing once. Throws on a filter that does not compile (config check reports it first). */
export function routesFromConfig(outputs: readonly OutputConfig[]): OutputRoute[] {
  return outputs.map((o) => {
    const route: OutputRoute = { name: o.name, type: o.type, minimumPriority: o.minimum_priority };
    if (o.filter !== undefined) {
      const compiled = compileFilter(o.filter);
      if (!compiled.ok) throw new Error(`output ${o.name}: ${compiled.errors.map(describeFilterProblem).join("; ")}`);
      route.filter = compiled.match;
    }
    const dedup = effectiveDedup(o as OutputConfig & { dedup?: DedupConfig });
    if (dedup) route.dedup = dedup;
    const throttle = (o as { throttle?: ThrottleConfig }).throttle;
    if (throttle?.enabled) route.throttle = throttle;
    return route;
  });
}

/**
 * Installs per-output routing on the router; summaries go back through `router.accept`
 * to their one output. Call `stop()` before the router stops, so open windows are summarized.
 */
export function installRouting(router: Router, config: Config, logger: Logger): OutputRouter {
  let lastWarn = 0;
  const holder: { routing?: OutputRouter } = {};
  const routing = new OutputRouter(
    routesFromConfig(config.outputs),
    new RouteMetrics(router.metrics.registry, () => holder.routing?.openWindows() ?? []),
    async (summary, output) => {
      await router.accept([summary], { outputs: [output] });
    },
    {
      onSinkError(err, output) {
        if (Date.now() - lastWarn < 10_000) return;
        lastWarn = Date.now();
        logger.warn({ output, err: errorMessage(err) }, "a dedup/throttle summary could not be journaled yet; retrying");
      },
    },
  );
  holder.routing = routing;
  router.setRouting(routing);
  routing.start();
  return routing;
}
