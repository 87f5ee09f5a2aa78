import type { FieldValue } from "../alert.js";
import type { Enricher } from "../router.js";
import { TemplateError } from "../templates/index.js";
import { errorMessage } from "../errors.js";
import type { EnrichConfig } from "./config.js";
import { compileFieldTemplate, templateContext } from "./templated.js";

export interface EnricherOptions {
  /** Called when a templated field fails on one alert (the alert still goes on). */
  onTemplateError?: (field: string, err: unknown) => void;
}

/** The value a templated field gets when its template fails on an alert. */
export function templateErrorValue(err: unknown): string {
  return `#error: ${err instanceof TemplateError ? err.reason : errorMessage(err)}`;
}

/**
 * Builds the enricher once: static custom fields, custom tags, and templated fields
 * compiled once. Custom and templated fields go to `alert.custom_fields` (producers'
 * `output_fields` are never overwritten); configured keys win over a producer's
 * custom_fields of the same name. A template that throws on one alert records
 * `#error: ...` in that field instead of dropping the alert.
 */
export function createEnricher(config: EnrichConfig | undefined, options: EnricherOptions = {}): Enricher {
  if (!config) return (a) => a;
  const fields = Object.entries(config.custom_fields);
  const tags = config.custom_tags;
  const templates = Object.entries(config.templated_fields).map(
    ([key, source]) => [key, compileFieldTemplate(source, `enrich.templated_fields.${key}`)] as const,
  );
  if (fields.length === 0 && tags.length === 0 && templates.length === 0) return (a) => a;

  return (alert) => {
    const custom: Record<string, FieldValue> = {};
    if (alert.custom_fields) for (const k in alert.custom_fields) custom[k] = alert.custom_fields[k]!;
    for (const [k, v] of fields) custom[k] = v;
    if (templates.length > 0) {
      let context: Record<string, unknown> | undefined;
      let contextError: unknown;
      try {
        context = templateContext(alert, Object.assign({}, custom));
      } catch (err) {
        contextError = err;
      }
      for (const [key, template] of templates) {
        try {
          if (context === undefined) throw contextError;
          custom[key] = template.render(context);
        } catch (err) {
          custom[key] = templateErrorValue(err);
          options.onTemplateError?.(key, err);
        }
      }
    }
    let outTags = alert.tags;
    if (tags.length > 0) {
      outTags = [...alert.tags];
      for (const t of tags) if (!outTags.includes(t)) outTags.push(t);
    }
    // Built field by field: a spread that overrides keys takes V8's slow path.
    return {
      uuid: alert.uuid,
      time: alert.time,
      priority: alert.priority,
      rule: alert.rule,
      output: alert.output,
      output_fields: alert.output_fields,
      source: alert.source,
      tags: outTags,
      hostname: alert.hostname,
      custom_fields: custom,
    };
  };
}
