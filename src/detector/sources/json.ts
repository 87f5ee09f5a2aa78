/**
 * The `json` event source: `json.value[/json/pointer]` over any JSON document (RFC 6901
 * pointers). Scalars are read as text; objects and arrays as their JSON encoding.
 */
import type { EventSource, ExtractedValue, Extractor, FieldInfo } from "../event.js";

export const JSON_FIELD_LIST: readonly FieldInfo[] = [
  {
    name: "json.value",
    type: "string",
    arg: "required",
    description: "The value at a JSON pointer (json.value[/user/name]), as text; objects and arrays as JSON.",
  },
];

export const JSON_FIELDS: ReadonlyMap<string, FieldInfo> = new Map(JSON_FIELD_LIST.map((f) => [f.name, f]));

/** Splits an RFC 6901 pointer into reference tokens; undefined when malformed. */
export function parsePointer(pointer: string): string[] | undefined {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) return undefined;
  return pointer
    .slice(1)
    .split("/")
    .map((t) => t.replace(/~1/g, "/").replace(/~0/g, "~"));
}

export function resolvePointer(doc: unknown, tokens: readonly string[]): unknown {
  let cur: unknown = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9][0-9]*)$/.test(t)) return undefined;
      cur = cur[Number(t)];
    } else if (cur !== null && typeof cur === "object") {
      if (!Object.prototype.hasOwnProperty.call(cur, t)) return undefined;
      cur = (cur as Record<string, unknown>)[t];
    } else {
      return undefined;
    }
  }
  return cur;
}

function asValue(v: unknown): ExtractedValue | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v);
}

export const jsonSource: EventSource<unknown> = {
  name: "json",
  fields: JSON_FIELDS,
  eventType: () => undefined,
  extractor(field: string, arg: string | undefined): Extractor<unknown> | undefined {
    if (field !== "json.value" || arg === undefined) return undefined;
    const tokens = parsePointer(arg);
    if (!tokens) return undefined;
    return (doc) => asValue(resolvePointer(doc, tokens));
  },
};
