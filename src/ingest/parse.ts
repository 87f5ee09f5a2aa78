import type { ErrorCode } from "../errors.js";

export type ParsedBody =
  | { ok: true; values: unknown[]; single: boolean }
  | { ok: false; code: ErrorCode; message: string; line?: number };

export interface ParseLimits {
  /** Deepest nesting of objects and arrays in one alert (an array of alerts adds no level). */
  maxDepth: number;
}

const DEFAULT_LIMITS: ParseLimits = { maxDepth: 64 };

/**
 * A body is one JSON alert, a JSON array of alerts, or NDJSON (one alert per line).
 * Whole-body JSON is tried first; NDJSON errors name the line. Nesting is measured on the
 * text before anything is parsed: a 20,000-level alert is valid JSON that JSON.parse takes
 * but every recursive step after it (stringify, templates) overflows the stack.
 */
export function parseAlertBody(text: string, limits: ParseLimits = DEFAULT_LIMITS): ParsedBody {
  if (text.trim() === "") return { ok: false, code: "INGEST_EMPTY_BODY", message: "the body is empty" };
  const depth = nestingDepth(text);
  // The array holding a batch is not part of any alert. NDJSON lines are each balanced, so
  // the body's depth is its deepest line's.
  const alertDepth = firstNonSpace(text) === "[" ? depth - 1 : depth;
  if (alertDepth > limits.maxDepth)
    return {
      ok: false,
      code: "INGEST_TOO_DEEP",
      message: `an alert nests objects and arrays ${alertDepth} levels deep; the limit (ingest.max_depth) is ${limits.maxDepth}`,
    };
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

/**
 * The deepest `{`/`[` nesting outside strings, in one pass without recursion. Text that is
 * not JSON may be mismeasured, but JSON.parse refuses it afterwards anyway.
 */
export function nestingDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

function firstNonSpace(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c !== " " && c !== "\t" && c !== "\n" && c !== "\r" && c !== "\ufeff") return c;
  }
  return "";
}
