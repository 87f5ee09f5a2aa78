/**
 * Loki stream labels: names sanitized to Loki's (Prometheus's) label-name rules, values
 * clipped to Loki's default length limit, empty values left out (Loki treats them as absent).
 */
import type { Alert, FieldValue } from "../../src/alert.js";

/** Loki's defaults: max_label_name_length, max_label_value_length, max_label_names_per_series. */
export const MAX_LABEL_NAME_BYTES = 1024;
export const MAX_LABEL_VALUE_BYTES = 2048;
export const MAX_LABELS_PER_STREAM = 15;

/** The labels every stream carries. */
export const BUILTIN_LABELS = ["rule", "priority", "source", "hostname"] as const;

/**
 * `k8s.ns.name` -> `k8s_ns_name`; a leading digit gets a `_` prefix; a leading `__` (reserved
 * for Loki's internal labels) becomes one `_`.
 */
export function sanitizeLabelName(name: string): string {
  let out = name.replace(/[^A-Za-z0-9_]/g, "_");
  if (out === "") return "_";
  if (/^[0-9]/.test(out)) out = `_${out}`;
  if (out.startsWith("__")) out = out.replace(/^_+/, "_");
  return clipBytes(out, MAX_LABEL_NAME_BYTES);
}

export function clipBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let buf = Buffer.from(text).subarray(0, maxBytes);
  // Step back off a split multi-byte character.
  while (buf.length > 0 && (buf[buf.length - 1]! & 0xc0) === 0x80) buf = buf.subarray(0, buf.length - 1);
  if (buf.length > 0 && buf[buf.length - 1]! >= 0xc0) buf = buf.subarray(0, buf.length - 1);
  return buf.toString();
}

/**
 * Fields whose values change with nearly every event: as labels they would make one stream
 * per value, which Loki handles badly (and bills for). `config check` warns about them.
 */
const HIGH_CARDINALITY_EXACT = new Set([
  "proc.pid", "proc.ppid", "proc.vpid", "proc.pvpid", "proc.sid", "proc.vpgid", "thread.tid", "thread.vtid",
  "proc.cmdline", "proc.args", "proc.pcmdline", "proc.exepath", "proc.cwd", "proc.env",
  "container.id", "container.name", "k8s.pod.name", "k8s.pod.uid", "k8s.pod.id", "k8s.pod.ip",
  "user.loginuid", "time", "uuid", "output",
]);
const HIGH_CARDINALITY_PREFIX = ["fd.", "evt.", "proc.aname", "proc.apid", "proc.acmdline", "ka.", "jevt."];

export function isHighCardinalityField(field: string): boolean {
  return HIGH_CARDINALITY_EXACT.has(field) || HIGH_CARDINALITY_PREFIX.some((p) => field.startsWith(p));
}

/** A field's value from the alert: custom fields (enrichment) first, then output_fields. */
export function fieldValue(alert: Alert, field: string): FieldValue | undefined {
  if (field === "uuid") return alert.uuid;
  const custom = alert.custom_fields?.[field];
  if (custom !== undefined) return custom;
  return alert.output_fields[field];
}

export function valueText(v: FieldValue | undefined): string {
  if (v === undefined || v === null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

export interface LabelPlan {
  /** Static labels, already sanitized. */
  staticLabels: [string, string][];
  /** Labels read from each alert: [sanitized label name, field name]. */
  fieldLabels: [string, string][];
}

export function planLabels(staticLabels: Record<string, string>, labelFields: readonly string[]): LabelPlan {
  return {
    staticLabels: Object.entries(staticLabels).map(([k, v]) => [sanitizeLabelName(k), v]),
    fieldLabels: labelFields.map((f) => [sanitizeLabelName(f), f]),
  };
}

export interface LabelSet {
  /** Prometheus text form, `{name="value", ...}`: the protobuf encoding's labels and the stream's identity. */
  text: string;
  /** The same labels as pairs, sorted by name (the JSON encoding's `stream` object). */
  pairs: [string, string][];
}

/**
 * The stream's labels, sorted by name so equal sets make one stream. Later definitions win:
 * built-ins < static < from fields.
 */
export function streamLabels(alert: Alert, plan: LabelPlan): LabelSet {
  const labels = new Map<string, string>();
  labels.set("rule", alert.rule);
  labels.set("priority", alert.priority);
  labels.set("source", alert.source);
  labels.set("hostname", alert.hostname);
  for (const [name, value] of plan.staticLabels) labels.set(name, value);
  for (const [name, field] of plan.fieldLabels) labels.set(name, valueText(fieldValue(alert, field)));
  const pairs: [string, string][] = [];
  const parts: string[] = [];
  for (const name of [...labels.keys()].sort()) {
    const value = clipBytes(labels.get(name)!, MAX_LABEL_VALUE_BYTES);
    if (value === "") continue;
    pairs.push([name, value]);
    // JSON string escaping is a subset of what Loki's label parser unquotes.
    parts.push(`${name}=${JSON.stringify(value)}`);
  }
  return { text: `{${parts.join(", ")}}`, pairs };
}
