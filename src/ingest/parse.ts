import type { ErrorCode } from "../errors.js";

export type ParsedBody =
  | { ok: true; values: unknown[]; single: boolean }
  | { ok: false; code: ErrorCode; message: string; line?: number };

/**
 * A body is one JSON alert, a JSON array of alerts, or NDJSON (one alert per line).
 * Whole-body JSON is tried first; NDJSON errors name the line.
 */
export function parseAlertBody(text: string): ParsedBody {
  if (text.trim() === "") return { ok: false, code: "INGEST_EMPTY_BODY", message: "the body is empty" };
  try {
    const value: unknown = JSON.parse(text);
    if (Array.isArray(value)) {
      if (value.length === 0) return { ok: false, code: "INGEST_EMPTY_BODY", message: "the array holds no alert" };
      return { ok: true, values: value, single: false };
    }
    return { ok: true, values: [value], single: true };
  } catch (err) {
    const lines = text.split("\n");
    const nonEmpty = lines.filter((l) => l.trim() !== "");
    if (nonEmpty.length <= 1) return { ok: false, code: "INGEST_INVALID_JSON", message: `invalid JSON: ${(err as Error).message}` };
    const values: unknown[] = [];
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.trim() === "") continue;
      try {
        values.push(JSON.parse(line));
      } catch (lineErr) {
        return { ok: false, code: "INGEST_INVALID_JSON", message: `line ${i + 1}: invalid JSON: ${(lineErr as Error).message}`, line: i + 1 };
      }
    }
    return { ok: true, values, single: false };
  }
}
