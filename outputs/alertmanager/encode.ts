import type { Alert, FieldValue, Priority } from "../../src/alert.js";

/** One alert of Alertmanager's API v2 (`POST /api/v2/alerts` takes a list of these). */
export interface AlertmanagerAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt?: string;
  generatorURL?: string;
}

export interface EncodeOptions {
  /** Extra labels; they win over everything else (as Falcosidekick's extralabels). */
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** Which output fields become labels: ["*"] all, [] none, or names. Custom fields always do. */
  fieldLabels: readonly string[];
  /** Severity label per priority, lower-case priority keys; falls back to DEFAULT_SEVERITY. */
  severityMap: Readonly<Record<string, string>>;
  /** endsAt = the alert's time + this; 0 leaves endsAt out (Alertmanager's resolve_timeout applies). */
  expiresAfterMs: number;
  generatorUrl?: string;
}

/** Falcosidekick's mapping, so existing Alertmanager routes on `severity` keep matching. */
export const DEFAULT_SEVERITY: Record<Priority, string> = {
  Emergency: "critical",
  Alert: "critical",
  Critical: "critical",
  Error: "warning",
  Warning: "warning",
  Notice: "information",
  Informational: "information",
  Debug: "information",
};

const LABEL_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Prometheus label names allow [A-Za-z0-9_] only: `k8s.ns.name` becomes `k8s_ns_name`. */
export function sanitizeLabelName(name: string): string {
  let clean = name.replace(/[^A-Za-z0-9_]+/g, "_").replace(/_+/g, "_").replace(/^_+|_+$/g, "");
  if (clean === "") clean = "field";
  if (/^[0-9]/.test(clean)) clean = `_${clean}`;
  return clean;
}

export function isValidLabelName(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith("__");
}

function labelValue(v: FieldValue | undefined): string | undefined {
  if (typeof v === "string") return v === "" ? undefined : v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return undefined; // lists, maps and null stay in the `fields` annotation
}

/**
 * Builds the Alertmanager alert: labels from fields first, then the built-in ones (alertname,
 * rule, priority, severity, source, eventsource, hostname, tags), then the configured extra
 * labels, each later one winning a clash; annotations summary/description/info and `fields`.
 */
export function encodeAlert(alert: Alert, o: EncodeOptions): AlertmanagerAlert {
  const labels: Record<string, string> = {};
  const all = o.fieldLabels.includes("*");
  const wanted = all ? undefined : new Set(o.fieldLabels);
  for (const [k, v] of Object.entries(alert.output_fields)) {
    // n_evts* counts of Falco's drop alerts change on every alert: never a label (as Sidekick).
    if (k.startsWith("n_evts")) continue;
    if (!all && !wanted!.has(k)) continue;
    const value = labelValue(v);
    if (value !== undefined) labels[sanitizeLabelName(k)] = value;
  }
  for (const [k, v] of Object.entries(alert.custom_fields ?? {})) {
    const value = labelValue(v);
    if (value !== undefined) labels[sanitizeLabelName(k)] = value;
  }
  labels.alertname = alert.rule;
  labels.rule = alert.rule;
  labels.priority = alert.priority;
  labels.severity = o.severityMap[alert.priority.toLowerCase()] ?? DEFAULT_SEVERITY[alert.priority];
  labels.source = "falco";
  labels.eventsource = alert.source;
  if (alert.hostname !== "") labels.hostname = alert.hostname;
  else delete labels.hostname;
  if (alert.tags.length > 0) labels.tags = [...alert.tags].sort().join(",");
  else delete labels.tags;
  for (const [k, v] of Object.entries(o.labels)) if (v !== "") labels[k] = v;

  const annotations: Record<string, string> = {
    summary: alert.rule,
    description: alert.output,
    info: alert.output,
    fields: JSON.stringify(alert.output_fields),
    uuid: alert.uuid,
    ...o.annotations,
  };
  const out: AlertmanagerAlert = { labels, annotations, startsAt: alert.time };
  if (o.expiresAfterMs > 0) {
    const start = Date.parse(alert.time);
    const base = Number.isNaN(start) ? Date.now() : start;
    out.endsAt = new Date(base + o.expiresAfterMs).toISOString();
  }
  if (o.generatorUrl !== undefined) out.generatorURL = o.generatorUrl;
  return out;
}
