import type Database from "better-sqlite3";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { Logger } from "pino";
import { PRIORITIES, priorityRank, type Alert, type Priority } from "../alert.js";
import type { FromHistoryThread, HistoryThreadData, ToHistoryThread } from "./thread-protocol.js";
import { HOUR, HistoryWriter, MINUTE, openHistoryDb, type PendingAlert } from "./writer.js";

export { HISTORY_FILE } from "./writer.js";

/**
 * The writer thread from the built JavaScript, or, when running from the TypeScript sources
 * (tests, `npm run` scripts under tsx), through tsx's loader registered inside the thread:
 * a loader given with `--import` is not active in worker threads on Node 20.
 */
function spawnWriterThread(data: HistoryThreadData): Worker {
  if (!import.meta.url.endsWith(".ts")) return new Worker(new URL("./writer-thread.js", import.meta.url), { workerData: data });
  // The ESM entry of tsx's API, found from the package the CommonJS resolver finds.
  const tsx = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve("tsx/package.json")), "dist/esm/api/index.mjs")).href;
  const entry = new URL("./writer-thread.ts", import.meta.url).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData: data });
}

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
  /**
   * Where the writes run: "worker" (the router's choice) on a worker thread, off the event loop
   * that takes ingest; "inline" (the default) on the caller's thread, with `now` and
   * `prune()` under the caller's control.
   */
  writer?: "inline" | "worker";
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

const MAX_BUCKETS = 1000;
/** How long alerts gather before they go to the writer thread. */
const THREAD_BATCH_MS = 50;
/** Past this many full-text matches a page is read in time order rather than from the matches. */
const COMMON_TEXT = 5000;

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
 * batch), on a worker thread when `writer: "worker"`; readers wait for what was recorded
 * before them, so a query sees every alert accepted before it. Retention by age and size runs
 * in the background in short steps.
 */
export class HistoryStore {
  private readonly db: Database.Database;
  private pending: PendingAlert[] = [];
  private flushTimer?: { cancel(): void };
  private pruneTimer?: NodeJS.Timeout;
  private pruning = false;
  private closed = false;
  private readonly now: () => number;
  /** Inline mode's writer; also the fallback if the worker thread dies. */
  private inline?: HistoryWriter;
  private thread?: { worker: Worker; progress: Int32Array; size: BigInt64Array; posted: number };

  constructor(private readonly options: HistoryOptions) {
    this.now = options.now ?? Date.now;
    // The schema is made here, on the caller's thread, before a writer opens the file.
    this.db = openHistoryDb(options.dir);
    if (options.writer === "worker") this.thread = this.startThread();
    else this.inline = new HistoryWriter(this.db);
  }

  private startThread(): NonNullable<HistoryStore["thread"]> {
    const shared = new SharedArrayBuffer(24);
    const data: HistoryThreadData = {
      dir: this.options.dir,
      retentionMs: this.options.retentionMs,
      maxBytes: this.options.maxBytes,
      pruneEveryMs: this.options.pruneEveryMs ?? 60_000,
      retain: true,
      shared,
    };
    const worker = spawnWriterThread(data);
    worker.unref();
    worker.on("message", (m: FromHistoryThread) => {
      if (m.kind === "log") this.options.logger?.[m.level]({ err: m.error, ...(m.count !== undefined ? { count: m.count } : {}) }, m.message);
    });
    const fallBack = (why: string) => {
      if (this.closed || !this.thread) return;
      // History is not the durability path: batches in flight to a dead thread are not recorded.
      this.options.logger?.error({ err: why }, "the alert history's writer thread stopped; writing the history on the router's thread");
      this.thread = undefined;
      this.inline = new HistoryWriter(this.db);
    };
    worker.on("error", (err) => fallBack(err.message));
    worker.on("exit", (code) => fallBack(`exit code ${code}`));
    return { worker, progress: new Int32Array(shared, 0, 4), size: new BigInt64Array(shared, 16, 1), posted: 0 };
  }

  private post(message: ToHistoryThread): void {
    this.thread?.worker.postMessage(message);
  }

  /** Records an alert (batched: written on the next tick, or before the next query). */
  record(alert: Alert, receivedAt = this.now()): void {
    if (this.closed) return;
    this.pending.push({ alert, at: receivedAt });
    if (this.pending.length >= 5000) this.flush();
    else if (!this.flushTimer) {
      // To the thread every 50 ms rather than every tick: a lone producer's alerts then wake it
      // once per batch, not once per alert (a query flushes first, so it still sees them all).
      if (this.thread) {
        const t = setTimeout(() => this.flush(), THREAD_BATCH_MS);
        t.unref();
        this.flushTimer = { cancel: () => clearTimeout(t) };
      } else {
        const i = setImmediate(() => this.flush());
        this.flushTimer = { cancel: () => clearImmediate(i) };
      }
    }
  }

  /** Hands what `record` buffered to the writer: written now inline, posted to the thread otherwise. */
  flush(): void {
    this.flushTimer?.cancel();
    this.flushTimer = undefined;
    if (this.pending.length === 0 || this.closed) return;
    const batch = this.pending;
    this.pending = [];
    if (this.thread) {
      this.post({ kind: "write", seq: ++this.thread.posted, batch });
      return;
    }
    try {
      this.inline!.write(batch);
    } catch (err) {
      // The history must never fail ingest: the alert is already journaled.
      this.options.logger?.error({ err: (err as Error).message, count: batch.length }, "writing the alert history failed; these alerts are not in the history");
    }
    if (this.inline!.overSize(this.options.maxBytes)) this.schedulePrune(0);
  }

  /** Flushes, then waits (bounded) until the thread has written it, so a read sees it. */
  private settle(): void {
    this.flush();
    const t = this.thread;
    if (!t) return;
    // A thread still starting (from the TypeScript sources it compiles first) is given a minute.
    if (Atomics.load(t.progress, 2) === 0) Atomics.wait(t.progress, 2, 0, 60_000);
    if (Atomics.load(t.progress, 2) !== 1) return; // it failed to open: the writes fall back to this thread on its exit
    const deadline = Date.now() + 10_000;
    for (;;) {
      const written = Atomics.load(t.progress, 0);
      if (written >= t.posted || this.thread !== t) return;
      const left = deadline - Date.now();
      if (left <= 0) return; // a slow disk: answer from what is written rather than hang the API
      Atomics.wait(t.progress, 0, written, left);
    }
  }

  /** Estimated size of what the history holds (what max_bytes bounds). */
  usedBytes(): number {
    if (this.thread) return Number(Atomics.load(this.thread.size, 0));
    return this.inline?.bytes ?? 0;
  }

  count(): number {
    this.settle();
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
    this.settle();
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
    this.settle();
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
    this.settle();
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


  /** Starts background retention (on the writer thread when there is one). */
  start(): void {
    if (this.thread) this.post({ kind: "start" });
    else this.schedulePrune(this.options.pruneEveryMs ?? 60_000);
  }

  private schedulePrune(delayMs: number): void {
    if (this.closed || this.pruning || this.thread) return;
    clearTimeout(this.pruneTimer);
    this.pruneTimer = setTimeout(() => void this.prune(), delayMs);
    this.pruneTimer.unref();
  }

  /** One retention step (inline writer only): removes up to 200 alerts past the age or size bound; false when none are. */
  pruneStep(): boolean {
    this.flush();
    if (!this.inline || this.thread) return false;
    return this.inline.pruneStep(this.now(), this.options.retentionMs, this.options.maxBytes, this.pruning);
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
    this.settle();
    const t = this.thread;
    this.closed = true;
    clearTimeout(this.pruneTimer);
    if (t) {
      this.thread = undefined;
      t.worker.postMessage({ kind: "close" } satisfies ToHistoryThread);
      // The thread closes its connection before this one, so the WAL is checkpointed once.
      Atomics.wait(t.progress, 1, 0, 10_000);
    }
    this.db.close();
  }
}
