/**
 * The history's writes: the schema, a batch of alerts in one transaction, and one retention
 * step. Used in-process by `HistoryStore` (writer "inline") and by the history's worker thread
 * (writer "worker"), which keeps these writes off the router's event loop.
 */
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { priorityRank, type Alert } from "../alert.js";

/** The file beside the journal; the journal forgets delivered alerts, the history keeps them. */
export const HISTORY_FILE = "history.db";

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
/** Per-row overhead estimate: the row, its five indexes, tags and full-text postings. */
const ROW_OVERHEAD = 200;
/** Rows removed per retention step: each step is one short transaction, so ingest is never held up long. */
const PRUNE_STEP = 200;
/** A size prune goes down to this share of max_bytes, so it does not run on every alert. */
const PRUNE_LOW_WATER = 0.9;
/** Text indexed per column: a megabyte of output is stored whole but searched in its first 32 KiB. */
const TEXT_MAX = 32 * 1024;

/** An alert waiting to be written, with the time it was accepted (used when its own time is unreadable). */
export interface PendingAlert {
  alert: Alert;
  at: number;
}

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

/** Opens (creating when needed) `history.db` in `dir` with its schema and roll-ups. */
export function openHistoryDb(dir: string): Database.Database {
  mkdirSync(dir, { recursive: true });
  const db = new Database(join(dir, HISTORY_FILE));
  db.pragma("journal_mode = WAL");
  // History is not the durability path (the journal is): a power cut may lose its last moments.
  db.pragma("synchronous = NORMAL");
  // The worker writes while the router reads: a reader never waits, a writer waits a little.
  db.pragma("busy_timeout = 5000");
  db.exec(`
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
  const stored = (db.prepare("SELECT total(bytes) AS b FROM alerts").get() as { b: number }).b;
  // A history written before the roll-up existed gets it once.
  if (stored > 0 && db.prepare("SELECT 1 FROM alert_counts LIMIT 1").get() === undefined)
    db.exec(`
      INSERT INTO alert_counts SELECT time_ms / ${MINUTE}, priority, source, hostname, rule, count(*) FROM alerts GROUP BY 1, 2, 3, 4, 5;
      INSERT INTO tag_counts SELECT time_ms / ${MINUTE}, tag, count(*) FROM alert_tags GROUP BY 1, 2;
    `);
  // And the hourly level once, from the per-minute one (far fewer rows than the alerts).
  if (stored > 0 && db.prepare("SELECT 1 FROM hour_counts LIMIT 1").get() === undefined)
    db.exec(`
      INSERT INTO hour_counts SELECT 'priority', minute / 60, priority, 0, sum(n) FROM alert_counts GROUP BY 2, 3;
      INSERT INTO hour_counts SELECT 'source', minute / 60, source, 0, sum(n) FROM alert_counts GROUP BY 2, 3;
      INSERT INTO hour_counts SELECT 'hostname', minute / 60, hostname, 0, sum(n) FROM alert_counts GROUP BY 2, 3;
      INSERT INTO hour_counts SELECT 'rule', minute / 60, rule, priority, sum(n) FROM alert_counts GROUP BY 2, 3, 4;
      INSERT INTO hour_counts SELECT 'tag', minute / 60, tag, 0, sum(n) FROM tag_counts GROUP BY 2, 3;
    `);
  return db;
}

/** The history's one writer: batches of alerts in, retention steps out, and the size it holds. */
export class HistoryWriter {
  /** Estimated size of what the history holds (what max_bytes bounds). */
  bytes: number;
  private readonly insertAlert: Database.Statement;
  private readonly insertTag: Database.Statement;
  private readonly insertFts: Database.Statement;
  private readonly countUp: Database.Statement;
  private readonly tagUp: Database.Statement;
  private readonly hourUp: Database.Statement;

  constructor(private readonly db: Database.Database) {
    this.bytes = (db.prepare("SELECT total(bytes) AS b FROM alerts").get() as { b: number }).b;
    this.insertAlert = db.prepare("INSERT INTO alerts (time_ms, priority, rule, source, hostname, bytes, body) VALUES (?, ?, ?, ?, ?, ?, ?)");
    this.insertTag = db.prepare("INSERT OR IGNORE INTO alert_tags (alert_id, tag, time_ms) VALUES (?, ?, ?)");
    this.insertFts = db.prepare("INSERT INTO alerts_fts (rowid, output, fields) VALUES (?, ?, ?)");
    this.countUp = db.prepare("INSERT INTO alert_counts VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1");
    this.tagUp = db.prepare("INSERT INTO tag_counts VALUES (?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1");
    this.hourUp = db.prepare("INSERT INTO hour_counts VALUES (?, ?, ?, ?, 1) ON CONFLICT DO UPDATE SET n = n + 1");
  }

  /** Writes a batch in one transaction; throws (nothing written) when SQLite refuses. */
  write(batch: readonly PendingAlert[]): void {
    let added = 0;
    this.db.transaction(() => {
      for (const { alert, at } of batch) {
        const parsed = Date.parse(alert.time);
        const time = Number.isFinite(parsed) ? parsed : at;
        const body = JSON.stringify(alert);
        const output = alert.output.slice(0, TEXT_MAX);
        const fields = fieldsText(alert).slice(0, TEXT_MAX);
        const bytes = body.length + output.length + fields.length + ROW_OVERHEAD;
        const rank = Math.max(0, priorityRank(alert.priority));
        const id = Number(this.insertAlert.run(time, rank, alert.rule, alert.source, alert.hostname, bytes, body).lastInsertRowid);
        const minute = Math.floor(time / MINUTE);
        const hour = Math.floor(time / HOUR);
        this.countUp.run(minute, rank, alert.source, alert.hostname, alert.rule);
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
        added += bytes;
      }
    })();
    this.bytes += added;
  }

  /** True when the size bound calls for a prune. */
  overSize(maxBytes: number): boolean {
    return this.bytes > maxBytes;
  }

  /**
   * One retention step: removes up to PRUNE_STEP of the alerts past the age or size bound;
   * false when none are. `continuing`: a size prune under way goes on down to the low water mark.
   */
  pruneStep(now: number, retentionMs: number, maxBytes: number, continuing: boolean): boolean {
    let ids: { id: number; bytes: number }[] = [];
    if (retentionMs > 0) {
      ids = this.db.prepare("SELECT id, bytes FROM alerts WHERE time_ms < ? ORDER BY time_ms LIMIT ?").all(now - retentionMs, PRUNE_STEP) as typeof ids;
    }
    if (ids.length === 0 && this.bytes > maxBytes * PRUNE_LOW_WATER && (this.bytes > maxBytes || continuing)) {
      // Oldest by arrival: a producer's wrong clock does not protect its alerts from the size bound.
      const rows = this.db.prepare("SELECT id, bytes FROM alerts ORDER BY id LIMIT ?").all(PRUNE_STEP) as typeof ids;
      let over = this.bytes - maxBytes * PRUNE_LOW_WATER;
      for (const r of rows) {
        if (over <= 0) break;
        ids.push(r);
        over -= r.bytes;
      }
    }
    if (ids.length === 0) return false;
    const db = this.db;
    const delAlert = db.prepare("DELETE FROM alerts WHERE id = ?");
    const delTags = db.prepare("DELETE FROM alert_tags WHERE alert_id = ?");
    const delFts = db.prepare("DELETE FROM alerts_fts WHERE rowid = ?");
    const row = db.prepare("SELECT time_ms, priority, source, hostname, rule FROM alerts WHERE id = ?");
    const tagsOf = db.prepare("SELECT tag FROM alert_tags WHERE alert_id = ?").pluck();
    const countDown = db.prepare("UPDATE alert_counts SET n = n - 1 WHERE minute = ? AND priority = ? AND source = ? AND hostname = ? AND rule = ?");
    const countGone = db.prepare("DELETE FROM alert_counts WHERE minute = ? AND priority = ? AND source = ? AND hostname = ? AND rule = ? AND n <= 0");
    const tagDown = db.prepare("UPDATE tag_counts SET n = n - 1 WHERE minute = ? AND tag = ?");
    const tagGone = db.prepare("DELETE FROM tag_counts WHERE minute = ? AND tag = ? AND n <= 0");
    const hourDown = db.prepare("UPDATE hour_counts SET n = n - 1 WHERE dim = ? AND hour = ? AND key = ? AND priority = ?");
    const hourGone = db.prepare("DELETE FROM hour_counts WHERE dim = ? AND hour = ? AND key = ? AND priority = ? AND n <= 0");
    const hourOut = (dim: string, hour: number, key: string | number, priority: number) => {
      hourDown.run(dim, hour, key, priority);
      hourGone.run(dim, hour, key, priority);
    };
    let removed = 0;
    db.transaction(() => {
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
        removed += bytes;
      }
    })();
    this.bytes -= removed;
    return true;
  }
}
