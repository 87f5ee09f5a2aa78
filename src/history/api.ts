import { parsePriority, PRIORITIES, type Priority } from "../alert.js";
import { GROUP_KEYS, decodeCursor, type GroupKey, type HistoryCounts, type HistoryFilter, type HistoryStore } from "./store.js";
import { PeregrineError } from "../errors.js";

/** The query string keys that select from the history. */
export const FILTER_KEYS = ["from", "to", "priority", "rule", "source", "hostname", "tag", "q", "cursor", "group_by", "bucket_ms"] as const;

export type HistoryQuery = Partial<Record<(typeof FILTER_KEYS)[number] | "limit" | "top", string | string[]>>;

/** A query the history cannot answer: a 400 naming the parameter. */
export class HistoryQueryError extends PeregrineError {
  declare readonly field: string;
  constructor(field: string, message: string) {
    super("INGEST_INVALID_FIELD", message, { field });
    this.name = "HistoryQueryError";
  }
}

/** Repeated keys and comma lists both give several values (`?priority=Error,Warning`, `?tag=a&tag=b`). */
function many(v: string | string[] | undefined, split: boolean): string[] | undefined {
  if (v === undefined) return undefined;
  const list = (Array.isArray(v) ? v : [v]).flatMap((x) => (split ? x.split(",") : [x])).map((x) => x.trim()).filter((x) => x !== "");
  return list.length ? list : undefined;
}

function one(v: string | string[] | undefined, field: string): string | undefined {
  if (Array.isArray(v)) throw new HistoryQueryError(field, `${field}: give it once`);
  return v;
}

/** A time: ms since the epoch or an RFC 3339 date. */
function time(v: string | string[] | undefined, field: string): number | undefined {
  const s = one(v, field);
  if (s === undefined || s === "") return undefined;
  const n = /^-?\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(n)) throw new HistoryQueryError(field, `${field}: expected ms since the epoch or an RFC 3339 time, got ${JSON.stringify(s)}`);
  return n;
}

export function wantsHistory(query: HistoryQuery): boolean {
  return FILTER_KEYS.some((k) => query[k] !== undefined);
}

export function parseFilter(query: HistoryQuery): HistoryFilter {
  const filter: HistoryFilter = {};
  const from = time(query.from, "from");
  const to = time(query.to, "to");
  if (from !== undefined) filter.from = from;
  if (to !== undefined) filter.to = to;
  const priorities = many(query.priority, true);
  if (priorities) {
    filter.priorities = priorities.map((p) => {
      const parsed = parsePriority(p);
      if (parsed === undefined) throw new HistoryQueryError("priority", `priority: ${JSON.stringify(p)} is not one of ${PRIORITIES.join(", ")}`);
      return parsed as Priority;
    });
  }
  const rules = many(query.rule, false);
  if (rules) filter.rules = rules;
  const sources = many(query.source, true);
  if (sources) filter.sources = sources;
  const hostnames = many(query.hostname, true);
  if (hostnames) filter.hostnames = hostnames;
  const tags = many(query.tag, true);
  if (tags) filter.tags = tags;
  const q = one(query.q, "q");
  if (q !== undefined && q.trim() !== "") filter.text = q;
  return filter;
}

export function parseLimit(v: string | string[] | undefined, def: number, max: number): number {
  const s = one(v, "limit");
  return Math.min(Math.max(Math.trunc(Number(s ?? def)) || def, 1), max);
}

export function parseCursor(v: string | string[] | undefined): { time: number; id: number } | undefined {
  const s = one(v, "cursor");
  if (s === undefined || s === "") return undefined;
  const c = decodeCursor(s);
  if (!c) throw new HistoryQueryError("cursor", "cursor: not a cursor this router gave (use next_cursor from the previous page)");
  return c;
}

export interface HistoryStats {
  from: number;
  to: number;
  bucket_ms: number;
  now: number;
  buckets: { start: number; counts: Partial<Record<Priority, number>> }[];
  total: number;
  by_priority: Partial<Record<Priority, number>>;
  by_source: Record<string, number>;
  top_rules: { rule: string; count: number; priority: Priority; last: number }[];
  top_hosts: { hostname: string; count: number }[];
  /** With `group_by`: counts over time by that key. */
  groups?: HistoryCounts;
}

/** `/api/stats` over a time range of the history, in the shape of the live snapshot (plus `groups`). */
export function historyStats(store: HistoryStore, query: HistoryQuery, now = Date.now()): HistoryStats {
  const filter = parseFilter(query);
  const to = filter.to ?? now;
  // A default range starts on a whole minute, so the per-minute roll-up answers it.
  const from = filter.from ?? Math.floor((to - 3_600_000) / 60_000) * 60_000;
  if (from >= to) throw new HistoryQueryError("from", "from: must be before to");
  const top = parseLimit(query.top, 10, 100);
  const bucketText = one(query.bucket_ms, "bucket_ms");
  let bucket: number | undefined;
  if (bucketText !== undefined) {
    bucket = Number(bucketText);
    if (!Number.isInteger(bucket) || bucket < 1) throw new HistoryQueryError("bucket_ms", `bucket_ms: expected a positive integer, got ${JSON.stringify(bucketText)}`);
  }
  const groupBy = one(query.group_by, "group_by");
  if (groupBy !== undefined && !(GROUP_KEYS as readonly string[]).includes(groupBy))
    throw new HistoryQueryError("group_by", `group_by: expected one of ${GROUP_KEYS.join(", ")}, got ${JSON.stringify(groupBy)}`);
  const range = { ...filter, from, to };
  const byPriority = store.counts(range, "priority", bucket);
  const sources = store.counts(range, "source", byPriority.bucket_ms);
  const hosts = store.counts(range, "hostname", byPriority.bucket_ms);
  const stats: HistoryStats = {
    from,
    to,
    bucket_ms: byPriority.bucket_ms,
    now,
    buckets: byPriority.buckets,
    total: byPriority.total,
    by_priority: Object.fromEntries(byPriority.totals.map((t) => [t.key, t.count])),
    by_source: Object.fromEntries(sources.totals.map((t) => [t.key, t.count])),
    top_rules: store.topRules(range, top),
    top_hosts: hosts.totals.slice(0, top).map((t) => ({ hostname: t.key, count: t.count })),
  };
  if (groupBy !== undefined) stats.groups = store.counts(range, groupBy as GroupKey, byPriority.bucket_ms);
  return stats;
}
