/**
 * The time prefix of an alert's output, spelled as Falco spells it: `%evt.time` (the local
 * clock time with nanoseconds, Falco's default) or, with time_format_iso_8601,
 * `%evt.time.iso8601` (UTC with nanoseconds and a `+0000` offset). In output_fields these
 * time fields are the event's time in nanoseconds since the epoch, a JSON number as Falco
 * writes it (exact to about a quarter of a microsecond in JavaScript's numbers).
 */

const RFC3339 = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i;

/** Falco's time fields whose JSON value is the event time in nanoseconds. */
export const TIME_FIELDS: readonly string[] = ["evt.time", "evt.time.s", "evt.time.iso8601", "evt.datetime", "evt.datetime.s"];

export interface EventClock {
  /** Whole seconds since the epoch, in milliseconds. */
  secondsMs: number;
  /** Nanoseconds within the second, nine digits. */
  frac: string;
}

/** An RFC 3339 time read into whole seconds and nine fraction digits; undefined when malformed. */
export function readTime(t: string): EventClock | undefined {
  const m = RFC3339.exec(t);
  if (!m) return undefined;
  const secondsMs = Date.parse(`${m[1]}${m[3]!.toUpperCase()}`);
  if (!Number.isFinite(secondsMs)) return undefined;
  return { secondsMs, frac: (m[2] ?? "").padEnd(9, "0") };
}

/** Nanoseconds since the epoch, as a JSON number. */
export function timeNs(c: EventClock): number {
  return c.secondsMs * 1e6 + Number(c.frac);
}

const two = (n: number): string => String(n).padStart(2, "0");

/** `%evt.time`: the local clock time, `HH:MM:SS.nnnnnnnnn`. */
export function clockTime(c: EventClock): string {
  const d = new Date(c.secondsMs);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${c.frac}`;
}

/** `%evt.time.iso8601`: `YYYY-MM-DDTHH:MM:SS.nnnnnnnnn+0000`. */
export function iso8601Time(c: EventClock): string {
  return `${new Date(c.secondsMs).toISOString().slice(0, 19)}.${c.frac}+0000`;
}
