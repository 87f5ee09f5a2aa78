import { Counter } from "prom-client";
import type { Logger } from "pino";
import type { Router } from "../router.js";
import { errorMessage } from "../errors.js";
import type { EnrichConfig } from "./config.js";
import { createEnricher } from "./enricher.js";

export { enrichShape, type EnrichConfig } from "./config.js";
export { createEnricher, templateErrorValue, type EnricherOptions } from "./enricher.js";
export { templateContext } from "./templated.js";

/** Installs the enricher on the router, counting (and rate-limiting the logs of) template failures. */
export function installEnrichment(router: Router, config: EnrichConfig | undefined, logger: Logger): void {
  if (!config) return;
  const errors = new Counter({
    name: "peregrine_enrich_template_errors_total",
    help: "Templated fields that failed on an alert (the field holds #error: ...; the alert went on).",
    labelNames: ["field"] as const,
    registers: [router.metrics.registry],
  });
  let lastLog = 0;
  router.setEnricher(
    createEnricher(config, {
      onTemplateError(field, err) {
        errors.inc({ field });
        if (Date.now() - lastLog < 10_000) return;
        lastLog = Date.now();
        logger.warn({ field, err: errorMessage(err) }, `templated field ${field} failed on an alert; it holds the error text`);
      },
    }),
  );
}
