import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { PRIORITIES, priorityRank, type Alert, type Priority } from "../alert.js";

/** The file beside the journal; the journal forgets delivered alerts, the history keeps them. */
export const HISTORY_FILE = "history.db";

export interface HistoryOptions {
  /** The directory (storage.path); the store is `history.db` in it. */
  dir: string;
  /** Age past which alerts are pruned (ms, by the alert's time); 0: never by age. */
  retentionMs: number;
  /** Size bound (estimated bytes of the stored alerts and their index). */
  maxBytes: number;
  logger?: Logger;
  now?: () => number;
  /** How often retention runs (ms). */
  pruneEveryMs?: number;
}

export interface HistoryFilter {
  /** Inclusive lower bound, ms since the epoch. */
  from?: number;
  /** Exclusive upper bound, ms since the epoch. */
  to?: number;
  priorities?: Priority[];
  rules?: string[];
  sources?: string[];
  hostnames?: string[];
  /** Every tag given must be on the alert. */
  tags?: string[];
  /** Free text over the output and the field names and values (every word must match). */
  text?: string;
}

export interface HistoryPage {
  /** The newest matching alerts older than the cursor, listed oldest first. */
  alerts: Alert[];
  /** Give as `cursor` for the next (older) page; absent on the last page. */
  next_cursor?: string;
}

export const GROUP_KEYS = ["priority", "rule", "source", "hostname", "tag"] as const;
export type GroupKey = (typeof GROUP_KEYS)[number];

export interface HistoryCounts {
  from: number;
  to: number;
  bucket_ms: number;
  group_by: GroupKey;
  /** Oldest first, one per bucket of the range, zeros left out of `counts`. */
  buckets: { start: number; counts: Record<string, number> }[];
  /** Per group over the whole range, largest first. */
  totals: { key: string; count: number }[];
  total: number;
}

/** Per-row overhead estimate: the row, its five indexes, tags and full-text postings. */
const ROW_OVERHEAD = 200;
/** Rows removed per retention step: each step is one short transaction, so ingest is never held up long. */
const PRUNE_STEP = 200;
/** A size prune goes down to this share of max_bytes, so it does not run on every alert. */
const PRUNE_LOW_WATER = 0.9;
const MAX_BUCKETS = 1000;
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** Text indexed per column: a megabyte of output is stored whole but searched in its first 32 KiB. */
const TEXT_MAX = 32 * 1024;
/** Past this many full-text matches a page is read in time order rather than from the matches. */
const COMMON_TEXT = 5000;

/** Text the full-text index sees for an alert: its output, then every field name and value. */
function fieldsText(alert: Alert): string {
  const parts: string[] = [];
  const walk = (fields: Record<string, unknown> | undefined) => {
    if (!fields) return;
    for (const [k, v] of Object.entries(fields)) parts.push(k, typeof v === "string" ? v : JSON.stringify(v));
  };
  walk(alert.output_fields);
  walk(alert.custom_fields);
  return parts.join(" ");
}

/** Words of a free-text query, each a quoted FTS5 phrase (so `-`, `*`, `"` and `OR` are plain text). */
export function ftsQuery(text: string): string | undefined {
  const words = text
    .split(/\s+/)
    .map((w) => w.trim())
    .filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length === 0) return undefined;
  return words.map((w) => `"${w.replaceAll('"', '""')}"`).join(" AND ");
}

function encodeCursor(time: number, id: number): string {
  return Buffer.from(`${time}:${id}`).toString("base64url");
}

/** Undefined when the cursor is not one this store made. */
export function decodeCursor(cursor: string): { time: number; id: number } | undefined {
  const m = /^(-?\d+):(\d+)$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!m) return undefined;
  return { time: Number(m[1]), id: Number(m[2]) };
}

/**
 * The alert history: SQLite (WAL) in its own file, so the journal's hot path and its
 * quota stay apart. Alerts are recorded in batches on the next tick (one transaction per
 * batch); readers flush first, so a query sees every alert accepted before it. Retention
 * by age and size runs in the background in short steps.
 */
export class HistoryStore {
  private readonly db: Database.Database;
  private pending: { alert: Alert; at: number }[] = [];
  private flushTimer?: NodeJS.Immediate;
  private pruneTimer?: NodeJS.Timeout;
  private pruning = false;
  private bytes = 0;
  private closed = false;
  private readonly now: () => number;
  private readonly insertAlert: Database.Statement;
  private readonly insertTag: Database.Statement;
  private readonly insertFts: Database.Statement;
  private readonly countUp: Database.Statement;
  private readonly tagUp: Database.Statement;
  private readonly hourUp: Database.Statement;

  constructor(private readonly options: HistoryOptions) {
    this.now = options.now ?? Date.now;
    mkdirSync(options.dir, { recursive: true });
    this.db = new Database(join(options.dir, HISTORY_FILE));
    this.db.pragma("journal_mode = WAL");
    // History is not the durability path (the journal is): a power cut may lose its last moments.
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS alerts (
        id INTEGER PRIMARY KEY,
        time_ms INTEGER NOT NULL,
        priority INTEGER NOT NULL,
        rule TEXT NOT NULL,
        source TEXT NOT NULL,
        hostname TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        body TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS alerts_time ON alerts (time_ms, id);
      -- Counts over a time range read this index alone, never the rows.
      CREATE INDEX IF NOT EXISTS alerts_time_keys ON alerts (time_ms, priority, source, hostname, rule);
      CREATE INDEX IF NOT EXISTS alerts_priority ON alerts (priority, time_ms);
      CREATE INDEX IF NOT EXISTS alerts_rule ON alerts (rule, time_ms);
      CREATE INDEX IF NOT EXISTS alerts_source ON alerts (source, time_ms);
      CREATE INDEX IF NOT EXISTS alerts_hostname ON alerts (hostname, time_ms);
      CREATE TABLE IF NOT EXISTS alert_tags (alert_id INTEGER NOT NULL, tag TEXT NOT NULL, time_ms INTEGER NOT NULL, PRIMARY KEY (alert_id, tag)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS alert_tags_tag ON alert_tags (tag, time_ms);
      CREATE INDEX IF NOT EXISTS alert_tags_time ON alert_tags (time_ms, tag);
      -- Per-minute counts, kept with every insert and prune, so counts over a day or a week
      -- read a few thousand rows instead of every alert in the range.
      CREATE TABLE IF NOT EXISTS alert_counts (minute INTEGER NOT NULL, priority INTEGER NOT NULL, source TEXT NOT NULL, hostname TEXT NOT NULL, rule TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (minute, priority, source, hostname, rule)) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS tag_counts (minute INTEGER NOT NULL, tag TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (minute, tag)) WITHOUT ROWID;
      -- Per hour, one dimension at a time (priority, source, hostname, rule, tag), so a week reads
      -- ~170 rows per key of that dimension, however the dimensions combine; minutes serve only
      -- the partial hours. Rows of 'rule' keep the priority too (top rules show the most severe).
      CREATE TABLE IF NOT EXISTS hour_counts (dim TEXT NOT NULL, hour INTEGER NOT NULL, key NOT NULL, priority INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (dim, hour, key, priority)) WITHOUT ROWID;
      CREATE VIRTUAL TABLE IF NOT EXISTS alerts_fts USING fts5 (output, fields, content='', contentless_delete=1);
    `);
    this.insertAlert = this.db.prepare("INSERT INTO alerts (time_ms, priority, rule, source, hostname, bytes, body) VALUES (?, ?, ?, ?, ?, ?, ?)");
    this.insertTag = this.db.prepare("INSERT OR IGNORE INTO alert_tags (alert_id, tag, time_ms) VALUES (?, ?, ?)");
    this.insertFts = this.db.prepare("INSERT INTO alerts_fts (rowid, output, fields) VALUES (?, ?, ?)");
    this.bytes = (this.db.prepare("SELECT total(bytes) AS b FROM alerts").get() as { b: number }).b;
    this.countUp = this.db.prepare("INSERT INTO alert_counts VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1");
    this.tagUp = this.db.prepare("INSERT INTO tag_counts VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1");
    // A history written before the roll-up existed gets it once.
    if (this.bytes > 0 && this.db.prepare("SELECT 1 FROM alert_counts LIMIT 1").get() === undefined)
      this.db.exec(`
        INSERT INTO alert_counts SELECT time_ms / ${MINUTE}, priority, source, hostname, rule, count(*) FROM alerts GROUP BY 1, 2, 3, 4, 5;
        INSERT INTO tag_counts SELECT time_ms / ${MINUTE}, tag, count(*) FROM alert_tags GROUP BY 1, 2;
      `);
    // And the hourly level once, from the per-minute one (far fewer rows than the alerts).
    if (this.bytes > 0 && this.db.prepare("SELECT 1 FROM hour_counts LIMIT 1").get() === undefined)
      this.db.exec(`
        INSERT INTO hour_counts SELECT 'priority', minute / 60, priority, 0, sum(n) FROM alert_counts GROUP BY 2, 3;
        INSERT INTO hour_counts SELECT 'source', minute / 60, source, 0, sum(n) FROM alert_counts GROUP BY 2, 3;
        INSERT INTO hour_counts SELECT 'hostname', minute / 60, hostname, 0, sum(n) FROM alert_counts GROUP BY 2, 3;
        INSERT INTO hour_counts SELECT 'rule', minute / 60, rule, priority, sum(n) FROM alert_counts GROUP BY 2, 3, 4;
        INSERT INTO hour_counts SELECT 'tag', minute / 60, tag, 0, sum(n) FROM tag_counts GROUP BY 2, 3;
      `);
    this.hourUp = this.db.prepare("INSERT INTO hour_counts VALUES (?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1");
  }

  /** Records an alert (batched: written on the next tick, or by the next query). */
  record(alert: Alert, receivedAt = this.now()): void {
    if (this.closed) return;
    this.pending.push({ alert, at: receivedAt });
    if (this.pending.length >= 5000) this.flush();
    else this.flushTimer ??= setImmediate(() => this.flush());
  }

  /** Writes what `record` buffered, in one transaction. */
  flush(): void {
    if (this.flushTimer) clearImmediate(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0 || this.closed) return;
    const batch = this.pending;
    this.pending = [];
    try {
      this.db.transaction(() => {
        for (const { alert, at } of batch) {
          const parsed = Date.parse(alert.time);
          const time = Number.isFinite(parsed) ? parsed : at;
          const body = JSON.stringify(alert);
          const output = alert.output.slice(0, TEXT_MAX);
          const fields = fieldsText(alert).slice(0, TEXT_MAX);
          const bytes = body.length + output.length + fields.length + ROW_OVERHEAD;
          const id = Number(this.insertAlert.run(time, Math.max(0, priorityRank(alert.priority)), alert.rule, alert.source, alert.hostname, bytes, body).lastInsertRowid);
          const minute = Math.floor(time / MINUTE);
          const hour = Math.floor(time / HOUR);
          this.countUp.run(minute, Math.max(0, priorityRank(alert.priority)), alert.source, alert.hostname, alert.rule);
          const rank = Math.max(0, priorityRank(alert.priority));
          this.hourUp.run("priority", hour, rank, 0);
          this.hourUp.run("source", hour, alert.source, 0);
          this.hourUp.run("hostname", hour, alert.hostname, 0);
          this.hourUp.run("rule", hour, alert.rule, rank);
          for (const tag of new Set(alert.tags)) {
            this.insertTag.run(id, tag, time);
            this.tagUp.run(minute, tag);
            this.hourUp.run("tag", hour, tag, 0);
          }
          this.insertFts.run(id, output, fields);
          this.bytes += bytes;
        }
      })();
    } catch (err) {
      // The history must never fail ingest: the alert is already journaled.
      this.options.logger?.error({ err: (err as Error).message, count: batch.length }, "writing the alert history failed; these alerts are not in the history");
    }
    if (this.bytes > this.options.maxBytes) this.schedulePrune(0);
  }

  /** Estimated size of what the history holds (what max_bytes bounds). */
  usedBytes(): number {
    return this.bytes;
  }

  count(): number {
    this.flush();
    return (this.db.prepare("SELECT count(*) AS n FROM alerts").get() as { n: number }).n;
  }

  /**
   * `common`: the text matches many alerts, so a page walks the time index and probes the
   * matches (stopping at the page's end) instead of fetching and sorting every match.
   */
  private where(filter: HistoryFilter, alias = "a", common = false): { sql: string; params: unknown[] } {
    const clauses: string[] = [];
    const params: unknown[] = [];
    if (filter.from !== undefined) {
      clauses.push(`${alias}.time_ms >= ?`);
      params.push(filter.from);
    }
    if (filter.to !== undefined) {
      clauses.push(`${alias}.time_ms < ?`);
      params.push(filter.to);
    }
    const list = (column: string, values: readonly unknown[] | undefined) => {
      if (values === undefined || values.length === 0) return;
      clauses.push(`${alias}.${column} IN (${values.map(() => "?").join(", ")})`);
      params.push(...values);
    };
    list("priority", filter.priorities?.map(priorityRank));
    list("rule", filter.rules);
    list("source", filter.sources);
    list("hostname", filter.hostnames);
    for (const tag of filter.tags ?? []) {
      clauses.push(`EXISTS (SELECT 1 FROM alert_tags t WHERE t.alert_id = ${alias}.id AND t.tag = ?)`);
      params.push(tag);
    }
    const fts = filter.text === undefined ? undefined : ftsQuery(filter.text);
    if (fts !== undefined) {
      clauses.push(`${common ? "+" : ""}${alias}.id IN (SELECT rowid FROM alerts_fts WHERE alerts_fts MATCH ?)`);
      params.push(fts);
    }
    return { sql: clauses.length ? `WHERE ${clauses.join(" AND ")}` : "", params };
  }

  /**
   * A page of matching alerts, newest first by (time, id), so pages are stable while alerts
   * arrive. `maxBytes` bounds the page's JSON (a page of large alerts stops early).
   */
  query(filter: HistoryFilter, page: { limit: number; cursor?: { time: number; id: number }; maxBytes?: number }): HistoryPage {
    this.flush();
    const fts = filter.text === undefined ? undefined : ftsQuery(filter.text);
    const common =
      fts !== undefined &&
      (this.db.prepare("SELECT count(*) AS n FROM (SELECT rowid FROM alerts_fts WHERE alerts_fts MATCH ? LIMIT ?)").get(fts, COMMON_TEXT) as { n: number }).n >= COMMON_TEXT;
    const w = this.where(filter, "a", common);
    let sql = w.sql;
    const params = [...w.params];
    if (page.cursor) {
      sql += `${sql ? " AND" : "WHERE"} (a.time_ms < ? OR (a.time_ms = ? AND a.id < ?))`;
      params.push(page.cursor.time, page.cursor.time, page.cursor.id);
    }
    const stmt = this.db.prepare(`SELECT a.id, a.time_ms, a.body FROM alerts a ${sql} ORDER BY a.time_ms DESC, a.id DESC LIMIT ?`);
    const alerts: Alert[] = [];
    let size = 0;
    let last: { time_ms: number; id: number } | undefined;
    let more = false;
    for (const row of stmt.iterate(...params, page.limit + 1) as IterableIterator<{ id: number; time_ms: number; body: string }>) {
      if (alerts.length === page.limit || (page.maxBytes !== undefined && alerts.length > 0 && size + row.body.length > page.maxBytes)) {
        more = true;
        break;
      }
      size += row.body.length;
      alerts.push(JSON.parse(row.body) as Alert);
      last = row;
    }
    alerts.reverse();
    return more && last ? { alerts, next_cursor: encodeCursor(last.time_ms, last.id) } : { alerts };
  }

  /** Counts over time in buckets, grouped by one key (tags: an alert counts once per tag). */
  counts(filter: HistoryFilter & { from: number; to: number }, groupBy: GroupKey, bucketMs?: number): HistoryCounts {
    this.flush();
    const span = Math.max(1, filter.to - filter.from);
    // About 60 bars; whole minutes from an hour up, whole hours from 60 hours up, so the roll-ups can answer.
    let bucket = bucketMs ?? (span >= 60 * HOUR ? Math.ceil(span / 60 / HOUR) * HOUR : span >= HOUR ? Math.ceil(span / 60 / MINUTE) * MINUTE : Math.ceil(span / 60));
    bucket = Math.max(bucket, Math.ceil(span / MAX_BUCKETS), 1);
    const rows = this.countRows(filter, groupBy, bucket);
    const n = Math.ceil(span / bucket);
    const buckets = Array.from({ length: n }, (_, i) => ({ start: filter.from + i * bucket, counts: {} as Record<string, number> }));
    const totals = new Map<string, number>();
    let total = 0;
    for (const r of rows) {
      const k = groupBy === "priority" ? (PRIORITIES[Number(r.k)] ?? String(r.k)) : String(r.k);
      const slot = buckets[Math.min(Math.max(0, Math.floor(r.b)), n - 1)]!;
      slot.counts[k] = (slot.counts[k] ?? 0) + r.n;
      totals.set(k, (totals.get(k) ?? 0) + r.n);
      total += r.n;
    }
    return {
      from: filter.from,
      to: filter.to,
      bucket_ms: bucket,
      group_by: groupBy,
      buckets,
      totals: [...totals].map(([k, c]) => ({ key: k, count: c })).sort((x, y) => y.count - x.count || x.key.localeCompare(y.key)),
      total,
    };
  }

  /**
   * Counts per (bucket, key). Whole minutes come from the per-minute roll-up when that is exact
   * and the range is unfiltered (minute-aligned buckets); the rest from the alerts.
   */
  private countRows(filter: HistoryFilter & { from: number; to: number }, groupBy: GroupKey, bucket: number): { b: number; k: string | number; n: number }[] {
    const text = filter.text !== undefined && ftsQuery(filter.text) !== undefined;
    const other = (filter.priorities?.length ?? 0) + (filter.rules?.length ?? 0) + (filter.sources?.length ?? 0) + (filter.hostnames?.length ?? 0);
    // With a filter on a column, that column's index over the alerts is the narrower read.
    const usable = !text && other === 0 && !filter.tags?.length && filter.from % MINUTE === 0 && bucket % MINUTE === 0;
    const fromMin = Math.ceil(filter.from / MINUTE);
    const toMin = Math.floor(filter.to / MINUTE);
    if (!usable || toMin <= fromMin) return this.rawRows(filter, groupBy, bucket);
    const rows = this.rawRows({ ...filter, from: toMin * MINUTE }, groupBy, bucket, filter.from);
    const table = groupBy === "tag" ? "tag_counts" : "alert_counts";
    const key = groupBy === "tag" ? "c.tag" : `c.${groupBy}`;
    const bm = bucket / MINUTE;
    // The roll-up's time column, in minutes: a whole hour lies in one bucket, so its start places it.
    const byMinute = this.db.prepare(`SELECT (c.minute - CAST(? AS INTEGER)) / CAST(? AS INTEGER) AS b, ${key} AS k, sum(c.n) AS n FROM ${table} c WHERE c.minute >= ? AND c.minute < ? GROUP BY b, k`);
    const byHour = this.db.prepare(`SELECT (c.hour * 60 - CAST(? AS INTEGER)) / CAST(? AS INTEGER) AS b, c.key AS k, sum(c.n) AS n FROM hour_counts c WHERE c.dim = '${groupBy}' AND c.hour >= ? AND c.hour < ? GROUP BY b, k`);
    // Per bucket: its whole hours from the hourly level, its partial hours from the minutes;
    // adjacent spans are merged, so hour-aligned buckets make one hourly read.
    const spans: { hour: boolean; from: number; to: number }[] = [];
    const add = (hour: boolean, from: number, to: number) => {
      if (to <= from) return;
      const last = spans[spans.length - 1];
      if (last && last.hour === hour && last.to === from) last.to = to;
      else spans.push({ hour, from, to });
    };
    for (let s = fromMin; s < toMin; s += bm) {
      const e = Math.min(s + bm, toMin);
      const hs = Math.ceil(s / 60);
      const he = Math.floor(e / 60);
      if (he <= hs) add(false, s, e);
      else {
        add(false, s, hs * 60);
        add(true, hs, he);
        add(false, he * 60, e);
      }
    }
    for (const sp of spans) {
      const part = (sp.hour ? byHour : byMinute).all(fromMin, bm, sp.from, sp.to) as { b: number; k: string | number; n: number }[];
      // A loop, not push(...part): a spread of many rows overflows the stack.
      for (const r of part) rows.push(r);
    }
    return rows;
  }

  /** Parameters bind as REAL: the CASTs keep `/` an integer division, so rows group per bucket, not per alert. */
  private rawRows(filter: HistoryFilter, groupBy: GroupKey, bucket: number, origin = filter.from ?? 0): { b: number; k: string | number; n: number }[] {
    const w = this.where(filter);
    const key = groupBy === "tag" ? "t.tag" : `a.${groupBy}`;
    const join = groupBy === "tag" ? "JOIN alert_tags t ON t.alert_id = a.id" : "";
    return this.db
      .prepare(`SELECT (a.time_ms - CAST(? AS INTEGER)) / CAST(? AS INTEGER) AS b, ${key} AS k, count(*) AS n FROM alerts a ${join} ${w.sql} GROUP BY b, k`)
      .all(origin, bucket, ...w.params) as { b: number; k: string | number; n: number }[];
  }

  /** The most frequent rules in a range, with their most severe priority and latest time. */
  topRules(filter: HistoryFilter, limit: number): { rule: string; count: number; priority: Priority; last: number }[] {
    this.flush();
    type Row = { rule: string; n: number; p: number; last: number };
    const text = filter.text !== undefined && ftsQuery(filter.text) !== undefined;
    const from = filter.from;
    const to = filter.to ?? Number.MAX_SAFE_INTEGER;
    let rows: Row[];
    let exactLast = false;
    const raw = (f: HistoryFilter): Row[] => {
      const w = this.where(f);
      return this.db
        .prepare(`SELECT a.rule AS rule, count(*) AS n, min(a.priority) AS p, max(a.time_ms) AS last FROM alerts a ${w.sql} GROUP BY a.rule`)
        .all(...w.params) as Row[];
    };
    const other = (filter.priorities?.length ?? 0) + (filter.rules?.length ?? 0) + (filter.sources?.length ?? 0) + (filter.hostnames?.length ?? 0);
    if (!text && other === 0 && !filter.tags?.length && from !== undefined && from % MINUTE === 0 && Math.floor(to / MINUTE) > from / MINUTE) {
      const toMin = Math.floor(to / MINUTE);
      const fromMin = from / MINUTE;
      // Whole hours from the hourly level, the partial hours at either edge from the minutes.
      const hs = Math.ceil(fromMin / 60);
      const he = Math.max(hs, Math.floor(toMin / 60));
      const spans: [string, string, number, number][] =
        he > hs
          ? [["alert_counts", "minute", fromMin, hs * 60], ["hour_counts", "hour", hs, he], ["alert_counts", "minute", he * 60, toMin]]
          : [["alert_counts", "minute", fromMin, toMin]];
      const merged = new Map<string, Row>();
      const merge = (part: Row[]) => {
        for (const r of part) {
          const m = merged.get(r.rule);
          if (!m) merged.set(r.rule, r);
          else merged.set(r.rule, { rule: r.rule, n: m.n + r.n, p: Math.min(m.p, r.p), last: Math.max(m.last, r.last) });
        }
      };
      for (const [table, col, lo, hi] of spans) {
        if (hi <= lo) continue;
        merge(
          this.db
            .prepare(
              table === "hour_counts"
                ? "SELECT c.key AS rule, sum(c.n) AS n, min(c.priority) AS p, 0 AS last FROM hour_counts c WHERE c.dim = 'rule' AND c.hour >= ? AND c.hour < ? GROUP BY c.key"
                : `SELECT c.rule AS rule, sum(c.n) AS n, min(c.priority) AS p, 0 AS last FROM ${table} c WHERE c.${col} >= ? AND c.${col} < ? GROUP BY c.rule`,
            )
            .all(lo, hi) as Row[],
        );
      }
      // The partial last minute from the alerts themselves.
      merge(raw({ ...filter, from: toMin * MINUTE }));
      // The roll-ups do not know the exact latest time: a seek on the alerts' rule index per listed rule does.
      exactLast = true;
      rows = [...merged.values()];
    } else rows = raw(filter);
    rows.sort((x, y) => y.n - x.n || (x.rule < y.rule ? -1 : x.rule > y.rule ? 1 : 0));
    const top = rows.slice(0, limit);
    if (exactLast) {
      const lastOf = this.db.prepare("SELECT max(time_ms) FROM alerts WHERE rule = ? AND time_ms >= ? AND time_ms < ?").pluck();
      for (const r of top) r.last = Math.max(r.last, Number(lastOf.get(r.rule, from ?? 0, to)));
    }
    return top.map((r) => ({ rule: r.rule, count: r.n, priority: PRIORITIES[r.p] ?? "Debug", last: r.last }));
  }


  /** Starts background retention. */
  start(): void {
    this.schedulePrune(this.options.pruneEveryMs ?? 60_000);
  }

  private schedulePrune(delayMs: number): void {
    if (this.closed || this.pruning) return;
    clearTimeout(this.pruneTimer);
    this.pruneTimer = setTimeout(() => void this.prune(), delayMs);
    this.pruneTimer.unref();
  }

  /** One retention step: removes up to PRUNE_STEP of the alerts past the age or size bound; false when none are. */
  pruneStep(): boolean {
    this.flush();
    let ids: { id: number; bytes: number }[] = [];
    if (this.options.retentionMs > 0) {
      ids = this.db.prepare("SELECT id, bytes FROM alerts WHERE time_ms < ? ORDER BY time_ms LIMIT ?").all(this.now() - this.options.retentionMs, PRUNE_STEP) as typeof ids;
    }
    if (ids.length === 0 && this.bytes > this.options.maxBytes * PRUNE_LOW_WATER && (this.bytes > this.options.maxBytes || this.pruning)) {
      // Oldest by arrival: a producer's wrong clock does not protect its alerts from the size bound.
      const rows = this.db.prepare("SELECT id, bytes FROM alerts ORDER BY id LIMIT ?").all(PRUNE_STEP) as typeof ids;
      let over = this.bytes - this.options.maxBytes * PRUNE_LOW_WATER;
      for (const r of rows) {
        if (over <= 0) break;
        ids.push(r);
        over -= r.bytes;
      }
    }
    if (ids.length === 0) return false;
    const delAlert = this.db.prepare("DELETE FROM alerts WHERE id = ?");
    const delTags = this.db.prepare("DELETE FROM alert_tags WHERE alert_id = ?");
    const delFts = this.db.prepare("DELETE FROM alerts_fts WHERE rowid = ?");
    const row = this.db.prepare("SELECT time_ms, priority, source, hostname, rule FROM alerts WHERE id = ?");
    const tagsOf = this.db.prepare("SELECT tag FROM alert_tags WHERE alert_id = ?").pluck();
    const countDown = this.db.prepare("UPDATE alert_counts SET n = n - 1 WHERE minute = ? AND priority = ? AND source = ? AND hostname = ? AND rule = ?");
    const countGone = this.db.prepare("DELETE FROM alert_counts WHERE minute = ? AND priority = ? AND source = ? AND hostname = ? AND rule = ? AND n <= 0");
    const tagDown = this.db.prepare("UPDATE tag_counts SET n = n - 1 WHERE minute = ? AND tag = ?");
    const tagGone = this.db.prepare("DELETE FROM tag_counts WHERE minute = ? AND tag = ? AND n <= 0");
    const hourDown = this.db.prepare("UPDATE hour_counts SET n = n - 1 WHERE dim = ? AND hour = ? AND key = ? AND priority = ?");
    const hourGone = this.db.prepare("DELETE FROM hour_counts WHERE dim = ? AND hour = ? AND key = ? AND priority = ? AND n <= 0");
    const hourOut = (dim: string, hour: number, key: string | number, priority: number) => {
      hourDown.run(dim, hour, key, priority);
      hourGone.run(dim, hour, key, priority);
    };
    this.db.transaction(() => {
      for (const { id, bytes } of ids) {
        const r = row.get(id) as { time_ms: number; priority: number; source: string; hostname: string; rule: string } | undefined;
        if (r) {
          const key = [Math.floor(r.time_ms / MINUTE), r.priority, r.source, r.hostname, r.rule];
          countDown.run(...key);
          countGone.run(...key);
          const hour = Math.floor(r.time_ms / HOUR);
          hourOut("priority", hour, r.priority, 0);
          hourOut("source", hour, r.source, 0);
          hourOut("hostname", hour, r.hostname, 0);
          hourOut("rule", hour, r.rule, r.priority);
          for (const tag of tagsOf.all(id) as string[]) {
            tagDown.run(Math.floor(r.time_ms / MINUTE), tag);
            tagGone.run(Math.floor(r.time_ms / MINUTE), tag);
            hourOut("tag", hour, tag, 0);
          }
        }
        delAlert.run(id);
        delTags.run(id);
        delFts.run(id);
        this.bytes -= bytes;
      }
    })();
    return true;
  }

  /** Runs retention to completion, one short step per turn of the event loop. */
  async prune(): Promise<number> {
    if (this.closed) return 0;
    this.pruning = true;
    let steps = 0;
    try {
      while (!this.closed && this.pruneStep()) {
        steps++;
        await new Promise((r) => setImmediate(r));
      }
    } catch (err) {
      this.options.logger?.error({ err: (err as Error).message }, "pruning the alert history failed");
    } finally {
      this.pruning = false;
    }
    if (!this.closed) this.schedulePrune(this.options.pruneEveryMs ?? 60_000);
    return steps;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    clearTimeout(this.pruneTimer);
    this.db.close();
  }
}
