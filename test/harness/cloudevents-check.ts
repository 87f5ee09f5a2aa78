/**
 * Reads a request as a CloudEvents 1.0 HTTP receiver does (HTTP protocol binding, binary and
 * structured content modes), checking the spec's rules: specversion "1.0"; id, source, type
 * non-empty; time RFC 3339; extension names lower-case alphanumeric, at most 20 characters;
 * binary mode: attributes in ce-* headers, data in the body with its content-type; structured:
 * application/cloudevents+json with the attributes and data in the body.
 */
import type { ReceivedRequest } from "./receiver.js";

export interface ParsedEvent {
  mode: "binary" | "structured";
  attributes: Record<string, string>;
  data: unknown;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const NAME = /^[a-z0-9]{1,20}$/;

/** The event in the request, or a string saying what breaks the spec. */
export function parseCloudEvent(r: ReceivedRequest): ParsedEvent | string {
  const contentType = String(r.headers["content-type"] ?? "");
  let attributes: Record<string, string> = {};
  let data: unknown;
  let mode: ParsedEvent["mode"];
  if (contentType.startsWith("application/cloudevents+json")) {
    mode = "structured";
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(r.body) as Record<string, unknown>;
    } catch {
      return "structured body is not JSON";
    }
    for (const [k, v] of Object.entries(body)) {
      if (k === "data") data = v;
      else if (typeof v !== "string") return `attribute ${k} must be a string here`;
      else attributes[k] = v;
    }
    if (Object.keys(r.headers).some((h) => h.startsWith("ce-"))) return "structured mode must not carry ce-* headers";
  } else {
    mode = "binary";
    for (const [h, v] of Object.entries(r.headers)) if (h.startsWith("ce-")) attributes[h.slice(3)] = decodeURIComponent(String(v));
    if (!contentType.startsWith("application/json")) return `binary data content-type ${contentType} is not application/json`;
    try {
      data = JSON.parse(r.body);
    } catch {
      return "binary body is not the JSON its content-type says";
    }
  }
  if (attributes.specversion !== "1.0") return `specversion must be "1.0", got ${attributes.specversion}`;
  for (const required of ["id", "source", "type"]) if (!attributes[required]) return `${required} is required`;
  if (attributes.time !== undefined && !RFC3339.test(attributes.time)) return `time ${attributes.time} is not RFC 3339`;
  for (const name of Object.keys(attributes)) if (!NAME.test(name) && name !== "datacontenttype") return `attribute name ${name} is not lower-case alphanumeric of at most 20`;
  attributes = { ...attributes };
  return { mode, attributes, data };
}
