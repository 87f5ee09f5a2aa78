/**
 * The `alert` event source: fields over a received Alert, so the router can filter alerts
 * with the rule language (`alert.priority >= warning and alert.tags intersects (mitre_execution)`).
 * `alert.priority` compares by severity: `>= warning` means at least as severe as Warning.
 */
import { PRIORITIES, parsePriority, priorityRank, type Alert, type FieldValue } from "../../alert.js";
import type { EventSource, ExtractedValue, Extractor, FieldInfo } from "../event.js";
import type { LiteralAware } from "../compiler/compile.js";

/** Severity as a number that grows with severity: Debug 0 … Emergency 7. */
export function severity(priority: Alert["priority"]): number {
  return PRIORITIES.length - 1 - priorityRank(priority);
}

const priorityField: FieldInfo & LiteralAware = {
  name: "alert.priority",
  type: "uint",
  description: "Priority, compared by severity: alert.priority >= warning means Warning or more severe. Names are case-insensitive.",
  literal: (text) => {
    const p = parsePriority(text);
    if (p) return severity(p);
    return undefined;
  },
  literalHint: `a priority: ${PRIORITIES.map((p) => p.toLowerCase()).join(", ")}`,
};

export const ALERT_FIELD_LIST: readonly FieldInfo[] = [
  { name: "alert.rule", type: "string", description: "Name of the rule that produced the alert." },
  priorityField,
  { name: "alert.source", type: "string", description: "Event source of the alert (syscall, k8s_audit, ...)." },
  { name: "alert.tags", type: "string", isList: true, description: "The alert's tags (use in / intersects)." },
  { name: "alert.hostname", type: "string", description: "Host that produced the alert." },
  { name: "alert.output", type: "string", description: "The alert's output text." },
  { name: "alert.time", type: "string", description: "The alert's time, RFC 3339." },
  {
    name: "alert.field",
    type: "string",
    arg: "required",
    description: "One output field by key (alert.field[proc.name]), read from output_fields, then custom_fields; as text, so < and > compare text ('1000' < '999'): use alert.num for numbers.",
  },
  {
    name: "alert.num",
    type: "int",
    arg: "required",
    description: "One output field by key as a number (alert.num[user.uid] < 1000): a JSON number, or text that is one; missing otherwise.",
  },
];

export const ALERT_FIELDS: ReadonlyMap<string, FieldInfo> = new Map(ALERT_FIELD_LIST.map((f) => [f.name, f]));

/** A number, or text that is exactly one ("1000", "-1.5"); anything else is missing. */
function fieldNumber(v: FieldValue | undefined): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) ? v : undefined;
  if (typeof v === "string" && /^\s*-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(v)) return Number(v);
  return undefined;
}

function fieldText(v: FieldValue | undefined): ExtractedValue | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

export const alertSource: EventSource<Alert> = {
  name: "alert",
  fields: ALERT_FIELDS,
  eventType: () => undefined,
  extractor(field: string, arg: string | undefined): Extractor<Alert> | undefined {
    switch (field) {
      case "alert.rule":
        return (a) => a.rule;
      case "alert.priority":
        return (a) => severity(a.priority);
      case "alert.source":
        return (a) => a.source;
      case "alert.tags":
        return (a) => a.tags;
      case "alert.hostname":
        return (a) => a.hostname;
      case "alert.output":
        return (a) => a.output;
      case "alert.time":
        return (a) => a.time;
      case "alert.num": {
        if (arg === undefined) return undefined;
        const key = arg;
        return (a) => fieldNumber(a.output_fields[key] ?? a.custom_fields?.[key]);
      }
      case "alert.field": {
        if (arg === undefined) return undefined;
        const key = arg;
        return (a) => {
          const own = a.output_fields[key];
          if (own !== undefined && own !== null) return fieldText(own);
          return fieldText(a.custom_fields?.[key]);
        };
      }
    }
    return undefined;
  },
};
