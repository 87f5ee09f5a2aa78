import { randomUUID } from "node:crypto";

/** Falco's priorities, most severe first; the index is the severity rank (0 = Emergency). */
export const PRIORITIES = [
  "Emergency",
  "Alert",
  "Critical",
  "Error",
  "Warning",
  "Notice",
  "Informational",
  "Debug",
] as const;
export type Priority = (typeof PRIORITIES)[number];

const PRIORITY_BY_LOWER = new Map<string, Priority>();
for (const p of PRIORITIES) PRIORITY_BY_LOWER.set(p.toLowerCase(), p);
PRIORITY_BY_LOWER.set("info", "Informational");

/** Parses a priority name case-insensitively (`info` is Informational); undefined when unknown. */
export function parsePriority(value: string): Priority | undefined {
  return PRIORITY_BY_LOWER.get(value.toLowerCase());
}

/** Severity rank: 0 is Emergency, 7 is Debug. Lower is more severe. */
export function priorityRank(p: Priority): number {
  return PRIORITIES.indexOf(p);
}

/** True when `p` is at least as severe as `minimum`. */
export function meetsMinimum(p: Priority, minimum: Priority): boolean {
  return priorityRank(p) <= priorityRank(minimum);
}

export type FieldValue = string | number | boolean | null | FieldValue[] | { [key: string]: FieldValue };

/** A normalized Falco alert. */
export interface Alert {
  uuid: string;
  /** RFC 3339, with the producer's sub-second digits kept verbatim (Falco sends nanoseconds). */
  time: string;
  priority: Priority;
  rule: string;
  output: string;
  output_fields: Record<string, FieldValue>;
  source: string;
  tags: string[];
  hostname: string;
  /** Fields added by enrichment, kept apart so producers' fields are never overwritten. */
  custom_fields?: Record<string, FieldValue>;
}

export interface AlertValidationError {
  field: string;
  message: string;
}

const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export function isRfc3339(value: string): boolean {
  const m = RFC3339.exec(value);
  if (!m) return false;
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 60) return false;
  return day <= daysInMonth(Number(m[1]), month);
}

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

export function isUuid(value: string): boolean {
  return UUID.test(value);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}


/**
 * Validates and normalizes one alert as Falco's JSON output (or any producer) sends it.
 * Returns the first problem, naming the field, so the HTTP API can answer 400 precisely.
 * `now` supplies the time when the producer sent none.
 */
export function normalizeAlert(
  input: unknown,
  now: () => string = () => new Date().toISOString(),
): { ok: true; alert: Alert } | { ok: false; error: AlertValidationError } {
  if (!isPlainObject(input)) return fail("", "an alert must be a JSON object");
  const { priority, rule, time, output, output_fields, tags, source, hostname, uuid } = input;

  if (typeof rule !== "string" || rule.trim() === "")
    return fail("rule", rule === undefined ? "is required" : "must be a non-empty string");
  if (priority === undefined) return fail("priority", "is required");
  if (typeof priority !== "string") return fail("priority", "must be a string");
  const parsedPriority = parsePriority(priority);
  if (!parsedPriority)
    return fail("priority", `unknown priority "${clip(priority)}"; expected one of ${PRIORITIES.join(", ")}`);
  if (time !== undefined && (typeof time !== "string" || !isRfc3339(time)))
    return fail("time", "must be an RFC 3339 timestamp such as 2024-01-02T03:04:05.123456789Z");
  if (output !== undefined && typeof output !== "string") return fail("output", "must be a string");
  if (output_fields !== undefined && output_fields !== null && !isPlainObject(output_fields))
    return fail("output_fields", "must be an object");
  if (tags !== undefined && tags !== null) {
    if (!Array.isArray(tags)) return fail("tags", "must be a list of strings");
    for (let i = 0; i < tags.length; i++)
      if (typeof tags[i] !== "string") return fail(`tags[${i}]`, "must be a string");
  }
  if (source !== undefined && (typeof source !== "string" || source === ""))
    return fail("source", "must be a non-empty string");
  if (hostname !== undefined && typeof hostname !== "string") return fail("hostname", "must be a string");
  if (uuid !== undefined && typeof uuid !== "string") return fail("uuid", "must be a string");
  if (input.custom_fields !== undefined && !isPlainObject(input.custom_fields))
    return fail("custom_fields", "must be an object");

  const alert: Alert = {
    uuid: typeof uuid === "string" && isUuid(uuid) ? uuid.toLowerCase() : randomUUID(),
    time: typeof time === "string" ? time : now(),
    priority: parsedPriority,
    rule,
    output: typeof output === "string" ? output : "",
    output_fields: (isPlainObject(output_fields) ? output_fields : {}) as Record<string, FieldValue>,
    source: typeof source === "string" ? source : "syscall",
    tags: Array.isArray(tags) ? (tags as string[]) : [],
    hostname: typeof hostname === "string" ? hostname : "",
  };
  if (isPlainObject(input.custom_fields)) alert.custom_fields = input.custom_fields as Record<string, FieldValue>;
  return { ok: true, alert };
}

function fail(field: string, message: string): { ok: false; error: AlertValidationError } {
  return { ok: false, error: { field, message } };
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/**
 * The "<time>: <Priority> " that Falco (and our detector) put at the start of `output`: time as
 * HH:MM:SS.ns, or ISO 8601 with time_format_iso_8601. (The dashboard's app.js hides the same.)
 */
const OUTPUT_PREFIX =
  /^(?:\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?): (?:Emergency|Alert|Critical|Error|Warning|Notice|Informational|Info|Debug) /i;

/**
 * Falco's text line, "<time>: <Priority> <output>". An output that already starts with its
 * time and priority, as Falco's does, is the line itself: prefixing it again doubled them.
 */
export function alertTextLine(alert: Alert): string {
  return OUTPUT_PREFIX.test(alert.output) ? alert.output : `${alert.time}: ${alert.priority} ${alert.output}`;
}
