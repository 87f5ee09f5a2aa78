/**
 * Object keys. A batch's key is a function of its content alone (the earliest alert's time
 * and a hash of the alerts' uuids), so every attempt to write one batch targets one key,
 * and `If-None-Match: *` makes the second write of it a no-op instead of a duplicate.
 *
 * Confinement: the configured `prefix` is literal and always leads the key; the template
 * fills only what follows it. Template values are reduced to `A-Z a-z 0-9 . _ -` (no `/`,
 * never `.` or `..` alone), raw `{{{ }}}` output is refused, and the rendered key may not
 * climb out of the prefix with `.`/`..` segments or empty ones.
 */
import { createHash } from "node:crypto";
import type { Alert } from "../../src/alert.js";
import { compileTemplate, formatTime, parseTime, type CompiledTemplate, type ParsedTime } from "../../src/templates/index.js";

export const DEFAULT_KEY_TEMPLATE = "{{year}}-{{month}}-{{day}}/{{hour}}/{{time}}-{{batch_id}}.{{extension}}";

/** S3's limit on key length, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;

/** A template value as one safe key segment. */
export function keySegment(text: string): string {
  const safe = text.replace(/[^A-Za-z0-9._-]/g, "_");
  return /^\.*$/.test(safe) ? safe.replace(/\./g, "_") || "_" : safe;
}

export interface KeyContext {
  /** Of the earliest alert of the batch, UTC. */
  year: string;
  month: string;
  day: string;
  hour: string;
  minute: string;
  /** The earliest alert's time, compact and sortable: 20240305T070809.123456789Z */
  time: string;
  /** 16 hex digits of SHA-256 over the batch's sorted uuids. */
  batch_id: string;
  /** ndjson.gz or ndjson */
  extension: string;
  /** Alerts in the object. */
  count: number;
  /** The output's name. */
  output: string;
}

export function compileKeyTemplate(source: string, name: string): CompiledTemplate {
  return compileTemplate(source, { name, escape: keySegment, allowRaw: false });
}

function earliest(batch: readonly Alert[]): ParsedTime {
  let best: ParsedTime | undefined;
  for (const a of batch) {
    const t = parseTime(a.time);
    if (t && (!best || t.epochMs < best.epochMs || (t.epochMs === best.epochMs && t.nanos < best.nanos))) best = t;
  }
  // Alerts always carry a valid time once normalized; the epoch is a deterministic fallback.
  return best ?? { epochMs: 0, nanos: "000000000" };
}

export function batchId(batch: readonly Alert[]): string {
  const uuids = batch.map((a) => a.uuid).sort();
  return createHash("sha256").update(uuids.join("\n")).digest("hex").slice(0, 16);
}

export function keyContext(batch: readonly Alert[], extension: string, output: string): KeyContext {
  const t = earliest(batch);
  return {
    year: formatTime(t, "YYYY"),
    month: formatTime(t, "MM"),
    day: formatTime(t, "DD"),
    hour: formatTime(t, "HH"),
    minute: formatTime(t, "mm"),
    time: formatTime(t, "YYYYMMDDTHHmmss.SSSSSSSSSZ"),
    batch_id: batchId(batch),
    extension,
    count: batch.length,
    output,
  };
}

/** Why a rendered key is unusable, or undefined. */
export function keyProblem(rendered: string): string | undefined {
  if (rendered === "") return "the key template rendered an empty key";
  if (rendered.startsWith("/")) return `the key template must not start with "/" (the prefix already ends with one): "${rendered}"`;
  const segments = rendered.split("/");
  if (segments.some((s) => s === "")) return `the key has an empty segment ("//" or a trailing "/"): "${rendered}"`;
  if (segments.some((s) => s === "." || s === "..")) return `the key has a "." or ".." segment: "${rendered}"`;
  return undefined;
}

export function joinKey(prefix: string, rendered: string): string {
  const p = prefix.replace(/\/+$/, "");
  return p === "" ? rendered : `${p}/${rendered}`;
}

export function checkKeyLength(key: string): string | undefined {
  const bytes = Buffer.byteLength(key, "utf8");
  return bytes > MAX_KEY_BYTES ? `the object key is ${bytes} bytes; S3 allows ${MAX_KEY_BYTES}` : undefined;
}
