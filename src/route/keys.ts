import type { Alert, FieldValue } from "../alert.js";
import { didYouMean } from "../config/schema.js";

/** Alert attributes a dedup/throttle key may name, besides `output_fields.X` and `custom_fields.X`. */
export const KEY_ATTRIBUTES = ["rule", "priority", "hostname", "source", "output", "tags"] as const;

export const DEDUP_DEFAULT_KEY = ["rule", "hostname", "output"];
export const THROTTLE_DEFAULT_KEY = ["rule"];

/** Why a key field name is invalid, or undefined when it is fine. */
export function keyFieldProblem(name: string): string | undefined {
  if ((KEY_ATTRIBUTES as readonly string[]).includes(name)) return undefined;
  for (const prefix of ["output_fields.", "custom_fields."]) {
    if (name.startsWith(prefix)) return name.length > prefix.length ? undefined : `names no field after "${prefix}"`;
  }
  return `unknown key field "${name}"${didYouMean(name, KEY_ATTRIBUTES)}; use one of ${KEY_ATTRIBUTES.join(", ")}, output_fields.<name> or custom_fields.<name>`;
}

// Falco prefixes its `output` with the event time ("12:01:02.123456789: ..." or an ISO time).
const FALCO_TIME_PREFIX = /^(?:\d{2}:\d{2}:\d{2}\.\d+|\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?): /;

/** Strips the event-time prefix, so two repeats of one event have the same output text. */
export function outputWithoutTime(output: string): string {
  return output.replace(FALCO_TIME_PREFIX, "");
}

type Part = (alert: Alert) => string;

function text(v: FieldValue | undefined): string {
  if (v === undefined) return "\u0001"; // absent differs from empty
  return typeof v === "string" ? v : JSON.stringify(v);
}

function part(name: string): Part {
  switch (name) {
    case "rule":
      return (a) => a.rule;
    case "priority":
      return (a) => a.priority;
    case "hostname":
      return (a) => a.hostname;
    case "source":
      return (a) => a.source;
    case "output":
      return (a) => outputWithoutTime(a.output);
    case "tags":
      return (a) => [...a.tags].sort().join(",");
  }
  if (name.startsWith("output_fields.")) {
    const field = name.slice("output_fields.".length);
    return (a) => text(a.output_fields[field]);
  }
  const field = name.slice("custom_fields.".length);
  return (a) => text(a.custom_fields?.[field]);
}

/** Compiles the key fields once into a function giving an alert's key string. */
export function compileKey(fields: readonly string[]): (alert: Alert) => string {
  const parts = fields.map(part);
  if (parts.length === 0) return () => "";
  if (parts.length === 1) return parts[0]!;
  return (alert) => {
    let key = parts[0]!(alert);
    for (let i = 1; i < parts.length; i++) key += `\u0000${parts[i]!(alert)}`;
    return key;
  };
}
