/**
 * Time formatting for templates and object keys. Alert times are RFC 3339 with up to
 * nanosecond digits; a JS Date keeps only milliseconds, so the fraction is carried as
 * text and the sub-millisecond digits survive formatting.
 */

export interface ParsedTime {
  /** Milliseconds since the epoch (UTC). */
  epochMs: number;
  /** The fraction of the second as 9 digits (nanoseconds), zero-padded. */
  nanos: string;
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|([+-])(\d{2}):(\d{2}))$/;

/** Parses an RFC 3339 string, epoch milliseconds or a Date; undefined when unreadable. */
export function parseTime(value: unknown): ParsedTime | undefined {
  if (value instanceof Date) {
    const ms = value.getTime();
    return Number.isNaN(ms) ? undefined : fromEpochMs(ms);
  }
  if (typeof value === "number") return Number.isFinite(value) ? fromEpochMs(value) : undefined;
  if (typeof value !== "string") return undefined;
  const m = RFC3339.exec(value.trim());
  if (!m) {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : fromEpochMs(ms);
  }
  const frac = (m[7] ?? "").padEnd(9, "0");
  let ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
  if (m[9] !== undefined) {
    const offsetMin = Number(m[10]) * 60 + Number(m[11]);
    ms -= (m[9] === "+" ? 1 : -1) * offsetMin * 60_000;
  }
  if (Number.isNaN(ms)) return undefined;
  return { epochMs: ms + Number(frac.slice(0, 3)), nanos: frac };
}

function fromEpochMs(ms: number): ParsedTime {
  const whole = Math.floor(ms);
  const msPart = ((whole % 1000) + 1000) % 1000;
  return { epochMs: whole, nanos: String(msPart).padStart(3, "0") + "000000" };
}

const TOKENS = /YYYY|MM|DD|HH|mm|ss|S{1,9}/g;

/**
 * Formats a time in UTC. `format` is one of `iso` (RFC 3339 with the original
 * sub-second digits), `unix` (seconds), `unix_ms`, or a pattern of the tokens
 * YYYY MM DD HH mm ss and S… (1 to 9 fraction digits); other characters are kept.
 */
export function formatTime(t: ParsedTime, format = "iso"): string {
  if (format === "unix") return String(Math.floor(t.epochMs / 1000));
  if (format === "unix_ms") return String(t.epochMs);
  const d = new Date(t.epochMs - (((t.epochMs % 1000) + 1000) % 1000));
  const parts: Record<string, string> = {
    YYYY: String(d.getUTCFullYear()).padStart(4, "0"),
    MM: pad2(d.getUTCMonth() + 1),
    DD: pad2(d.getUTCDate()),
    HH: pad2(d.getUTCHours()),
    mm: pad2(d.getUTCMinutes()),
    ss: pad2(d.getUTCSeconds()),
  };
  if (format === "iso") {
    const frac = t.nanos.replace(/0+$/, "");
    return `${parts.YYYY}-${parts.MM}-${parts.DD}T${parts.HH}:${parts.mm}:${parts.ss}${frac ? `.${frac}` : ""}Z`;
  }
  return format.replace(TOKENS, (tok) => (tok[0] === "S" ? t.nanos.slice(0, tok.length) : parts[tok]!));
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
