import type { Alert, FieldValue } from "../alert.js";
import { compileTemplate, type CompiledTemplate } from "../templates/index.js";

/** Templated fields render plain text: the value is data, not markup. */
export function compileFieldTemplate(source: string, name: string): CompiledTemplate {
  return compileTemplate(source, { name, escape: "none" });
}

/**
 * The context of a templated field: the alert, plus each output field and custom field at
 * the top level, so Falcosidekick's `{{index . "k8s.ns.name"}}` works unchanged while
 * `{{rule}}` and `{{index output_fields "proc.name"}}` work too. Alert keys win on a clash.
 */
export function templateContext(alert: Alert, customFields: Record<string, FieldValue>): Record<string, unknown> {
  // Plain loops: V8 spreads objects with dotted keys into a new literal some 50x slower.
  const context: Record<string, unknown> = {};
  for (const k in alert.output_fields) context[k] = alert.output_fields[k];
  for (const k in customFields) context[k] = customFields[k];
  for (const k in alert) context[k] = alert[k as keyof Alert];
  context.custom_fields = customFields;
  return context;
}
