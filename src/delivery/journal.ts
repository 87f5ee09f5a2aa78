import Database from "better-sqlite3";
import { makeDirs } from "../fs-dirs.js";
import { join } from "node:path";
import type { Alert } from "../alert.js";
import { PeregrineError, errorMessage } from "../errors.js";

/** One journaled alert as a lane sees it. */
export interface JournalEntry {
  seq: number;
  alert: Alert;
  /** Epoch ms when the router acknowledged it; delivery latency and max_age count from here. */
  acceptedAt: number;
  /** Size of the alert's JSON, for batch.max_bytes. */
  bytes: number;
}

export interface DeadLetter {
  id: number;
  output: string;
  uuid: string;
  alert: Alert;
  status: number | null;
  reason: string;
  attempts: number;
  acceptedAt: number;
  failedAt: number;
}

export interface DeadLetterInput {
  entry: JournalEntry;
  status?: number;
  reason: string;
  attempts: number;
}

export interface AppendItem {
  alert: Alert;
  /** The outputs that want this alert (routing already applied). */
  outputs: readonly string[];
}

/**
 * The durable store behind "200 means delivered, eventually". Kept as an interface so a
 * replicated engine can replace the embedded one for several router replicas.
 */
export interface Journal {
  /** Resolves once the items are durable (group commit); entries come back with their seq. */
  append(items: readonly AppendItem[]): Promise<JournalEntry[]>;
  /** Called after each commit with what it added per output, so lanes need not re-read it. */
  onCommit(listener: (byOutput: Map<string, JournalEntry[]>) => void): void;
  /** Undelivered entries of an output after `afterSeq`, in seq order. */
  pending(output: string, afterSeq: number, limit: number): JournalEntry[];
  pendingCount(output: string): number;
  /** Declares an output, so alerts it still needs are never collected. */
  track(output: string): void;
  /** Marks entries delivered. Buffered and committed with the next group commit (at-least-once). */
  ack(output: string, seqs: readonly number[]): void;
  deadLetter(output: string, items: readonly DeadLetterInput[]): void;
  listDeadLetters(filter?: { output?: string; limit?: number }): DeadLetter[];
  countDeadLetters(output?: string): number;
  /** Moves dead letters back into the output's queue; returns how many. */
  replayDeadLetters(filter?: { output?: string; ids?: readonly number[] }): number;
  /** Bytes in use (live pages), for the quota. */
  usedBytes(): number;
  isFull(): boolean;
  /** Commits buffered acks and closes. */
  close(): void;
}

export interface SqliteJournalOptions {
  dir: string;
  maxBytes: number;
  fsync: boolean;
}

const ACK_FLUSH_MS = 20;
const GC_INTERVAL_MS = 1000;
const ACK_RETRY_MS = 200;

/**
 * SQLite in WAL mode. Why SQLite rather than a segment log: one file, crash-safe
 * transactions, and deletes of delivered entries and the dead-letter store come free;
 * group commit makes one fsync cover every alert accepted in the same event-loop turn.
 */
export class SqliteJournal implements Journal {
  private readonly db: Database.Database;
  private readonly maxBytes: number;
  private pendingAppends: { items: readonly AppendItem[]; resolve: (e: JournalEntry[]) => void; reject: (e: Error) => void }[] = [];
  private pendingAcks: { output: string; seq: number }[] = [];
  private flushScheduled = false;
  private ackTimer: NodeJS.Timeout | undefined;
  private listeners: ((byOutput: Map<string, JournalEntry[]>) => void)[] = [];
  private cachedUsed = 0;
  private usedCheckedAt = 0;
  private closed = false;
  private gcAt = 0;
  private gcTimer: NodeJS.Timeout | undefined;
  /** Every output that may hold deliveries, so garbage collection can ask each by index. */
  private readonly knownOutputs = new Set<string>();
  private readonly stmt: ReturnType<SqliteJournal["prepare"]>;

  constructor(options: SqliteJournalOptions) {
    try {
      makeDirs(options.dir);
      this.db = new Database(join(options.dir, "journal.db"));
      this.db.pragma("journal_mode = WAL");
      this.db.pragma(`synchronous = ${options.fsync ? "FULL" : "NORMAL"}`);
      this.db.pragma("busy_timeout = 5000");
      this.db.exec(`
        -- AUTOINCREMENT: a seq is never reused once garbage collection empties the table,
        -- since lanes read the journal as "entries after seq N".
        CREATE TABLE IF NOT EXISTS alerts (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          uuid TEXT NOT NULL,
          accepted_at INTEGER NOT NULL,
          body TEXT NOT NULL
        );
        CREATE TABLE IF NOT EXISTS deliveries (
          output TEXT NOT NULL,
          seq INTEGER NOT NULL,
          PRIMARY KEY (output, seq)
        ) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS dead_letters (
          id INTEGER PRIMARY KEY,
          output TEXT NOT NULL,
          uuid TEXT NOT NULL,
          body TEXT NOT NULL,
          status INTEGER,
          reason TEXT NOT NULL,
          attempts INTEGER NOT NULL,
          accepted_at INTEGER NOT NULL,
          failed_at INTEGER NOT NULL
        );
        CREATE INDEX IF NOT EXISTS dead_letters_output ON dead_letters (output, id);
      `);
    } catch (err) {
      throw new PeregrineError("STORAGE_OPEN_FAILED", `cannot open the journal in ${options.dir}: ${errorMessage(err)}`, { cause: err });
    }
    this.maxBytes = options.maxBytes;
    this.stmt = this.prepare();
    for (const o of this.outputsWithPending()) this.knownOutputs.add(o);
  }

  private prepare() {
    const db = this.db;
    return {
      insertAlert: db.prepare<[string, number, string]>("INSERT INTO alerts (uuid, accepted_at, body) VALUES (?, ?, ?)"),
      insertDelivery: db.prepare<[string, number]>("INSERT OR IGNORE INTO deliveries (output, seq) VALUES (?, ?)"),
      deleteDelivery: db.prepare<[string, number]>("DELETE FROM deliveries WHERE output = ? AND seq = ?"),
      pending: db.prepare<[string, number, number], { seq: number; accepted_at: number; body: string }>(
        "SELECT a.seq, a.accepted_at, a.body FROM deliveries d JOIN alerts a ON a.seq = d.seq WHERE d.output = ? AND d.seq > ? ORDER BY d.seq LIMIT ?",
      ),
      pendingCount: db.prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM deliveries WHERE output = ?"),
      minPending: db.prepare<[string], { m: number | null }>("SELECT MIN(seq) AS m FROM deliveries WHERE output = ?"),
      gc: db.prepare<[number]>("DELETE FROM alerts WHERE seq < ?"),
      gcAll: db.prepare("DELETE FROM alerts"),
      insertDead: db.prepare<[string, string, string, number | null, string, number, number, number]>(
        "INSERT INTO dead_letters (output, uuid, body, status, reason, attempts, accepted_at, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      pageCount: db.prepare<[], { page_count: number }>("PRAGMA page_count"),
      freelist: db.prepare<[], { freelist_count: number }>("PRAGMA freelist_count"),
      pageSize: db.prepare<[], { page_size: number }>("PRAGMA page_size"),
    };
  }

  onCommit(listener: (byOutput: Map<string, JournalEntry[]>) => void): void {
    this.listeners.push(listener);
  }

  append(items: readonly AppendItem[]): Promise<JournalEntry[]> {
    if (this.closed) return Promise.reject(new Error("journal closed"));
    return new Promise((resolve, reject) => {
      this.pendingAppends.push({ items, resolve, reject });
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    // setImmediate lets every request parsed in this turn join the same transaction.
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    if (this.ackTimer) {
      clearTimeout(this.ackTimer);
      this.ackTimer = undefined;
    }
    const appends = this.pendingAppends;
    const acks = this.pendingAcks;
    this.pendingAppends = [];
    this.pendingAcks = [];
    if (appends.length === 0 && acks.length === 0) return;
    const now = Date.now();
    const results: JournalEntry[][] = [];
    const byOutput = new Map<string, JournalEntry[]>();
    try {
      this.db.transaction(() => {
        for (const { output, seq } of acks) this.stmt.deleteDelivery.run(output, seq);
        for (const { items } of appends) {
          const entries: JournalEntry[] = [];
          for (const item of items) {
            const body = JSON.stringify(item.alert);
            const seq = Number(this.stmt.insertAlert.run(item.alert.uuid, now, body).lastInsertRowid);
            const entry: JournalEntry = { seq, alert: item.alert, acceptedAt: now, bytes: body.length };
            entries.push(entry);
            for (const output of item.outputs) {
              this.knownOutputs.add(output);
              this.stmt.insertDelivery.run(output, seq);
              let list = byOutput.get(output);
              if (!list) byOutput.set(output, (list = []));
              list.push(entry);
            }
          }
          results.push(entries);
        }
        if (acks.length > 0) this.collectGarbage();
      })();
    } catch (err) {
      const e = new Error(`journal write failed: ${errorMessage(err)}`);
      for (const a of appends) a.reject(e);
      // Keep the acks: committed alone later (deletes need little room), they free the space
      // a full disk needs. Dropping them would strand delivered rows until a restart.
      if (acks.length > 0) {
        // On a full disk the WAL cannot grow: a checkpoint lets the next commit reuse its space.
        try {
          this.db.pragma("wal_checkpoint(RESTART)");
        } catch {
          // still full; the retry timer tries again
        }
        this.pendingAcks = acks.concat(this.pendingAcks);
        if (!this.ackTimer && !this.closed) this.ackTimer = setTimeout(() => this.flush(), ACK_RETRY_MS);
      }
      return;
    }
    if (byOutput.size > 0) for (const l of this.listeners) l(byOutput);
    appends.forEach((a, i) => a.resolve(results[i]!));
  }

  /** Drops alert bodies no output still needs; per-output MIN uses the primary key, never a scan. */
  private collectGarbage(): void {
    const now = Date.now();
    if (now - this.gcAt < GC_INTERVAL_MS) {
      // Skipped for now: run once when the interval ends, or the last deliveries before an
      // idle (or full, refusing) journal would keep their space for good.
      if (!this.gcTimer && !this.closed)
        this.gcTimer = setTimeout(() => {
          this.gcTimer = undefined;
          if (this.closed) return;
          try {
            this.db.transaction(() => this.collectGarbage())();
          } catch {
            // the next commit carrying acks collects again
          }
        }, GC_INTERVAL_MS - (now - this.gcAt));
      return;
    }
    this.gcAt = now;
    let min: number | null = null;
    for (const output of this.knownOutputs) {
      const m = this.stmt.minPending.get(output)?.m ?? null;
      if (m !== null && (min === null || m < min)) min = m;
    }
    if (min === null) this.stmt.gcAll.run();
    else this.stmt.gc.run(min);
  }

  pending(output: string, afterSeq: number, limit: number): JournalEntry[] {
    return this.stmt.pending.all(output, afterSeq, limit).map((r) => ({
      seq: r.seq,
      alert: JSON.parse(r.body) as Alert,
      acceptedAt: r.accepted_at,
      bytes: r.body.length,
    }));
  }

  track(output: string): void {
    this.knownOutputs.add(output);
  }

  pendingCount(output: string): number {
    return this.stmt.pendingCount.get(output)?.n ?? 0;
  }

  ack(output: string, seqs: readonly number[]): void {
    for (const seq of seqs) this.pendingAcks.push({ output, seq });
    // Acks ride on the next append's transaction; under no load a short timer commits them.
    if (!this.ackTimer && !this.flushScheduled) this.ackTimer = setTimeout(() => this.flush(), ACK_FLUSH_MS);
  }

  deadLetter(output: string, items: readonly DeadLetterInput[]): void {
    const now = Date.now();
    this.db.transaction(() => {
      for (const { entry, status, reason, attempts } of items) {
        this.stmt.insertDead.run(output, entry.alert.uuid, JSON.stringify(entry.alert), status ?? null, reason, attempts, entry.acceptedAt, now);
        this.stmt.deleteDelivery.run(output, entry.seq);
      }
    })();
  }

  listDeadLetters(filter: { output?: string; limit?: number } = {}): DeadLetter[] {
    const limit = filter.limit ?? 1000;
    const rows = (
      filter.output === undefined
        ? this.db.prepare("SELECT * FROM dead_letters ORDER BY id LIMIT ?").all(limit)
        : this.db.prepare("SELECT * FROM dead_letters WHERE output = ? ORDER BY id LIMIT ?").all(filter.output, limit)
    ) as { id: number; output: string; uuid: string; body: string; status: number | null; reason: string; attempts: number; accepted_at: number; failed_at: number }[];
    return rows.map((r) => ({
      id: r.id,
      output: r.output,
      uuid: r.uuid,
      alert: JSON.parse(r.body) as Alert,
      status: r.status,
      reason: r.reason,
      attempts: r.attempts,
      acceptedAt: r.accepted_at,
      failedAt: r.failed_at,
    }));
  }

  countDeadLetters(output?: string): number {
    const row = (
      output === undefined
        ? this.db.prepare("SELECT COUNT(*) AS n FROM dead_letters").get()
        : this.db.prepare("SELECT COUNT(*) AS n FROM dead_letters WHERE output = ?").get(output)
    ) as { n: number };
    return row.n;
  }

  replayDeadLetters(filter: { output?: string; ids?: readonly number[] } = {}): number {
    const now = Date.now();
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (filter.output !== undefined) {
      where.push("output = ?");
      params.push(filter.output);
    }
    if (filter.ids !== undefined) {
      if (filter.ids.length === 0) return 0;
      where.push(`id IN (${filter.ids.map(() => "?").join(",")})`);
      params.push(...filter.ids);
    }
    const sql = `SELECT id, output, uuid, body FROM dead_letters${where.length ? ` WHERE ${where.join(" AND ")}` : ""} ORDER BY id`;
    let count = 0;
    this.db.transaction(() => {
      const rows = this.db.prepare(sql).all(...params) as { id: number; output: string; uuid: string; body: string }[];
      const del = this.db.prepare("DELETE FROM dead_letters WHERE id = ?");
      for (const r of rows) {
        const seq = Number(this.stmt.insertAlert.run(r.uuid, now, r.body).lastInsertRowid);
        this.knownOutputs.add(r.output);
        this.stmt.insertDelivery.run(r.output, seq);
        del.run(r.id);
        count++;
      }
    })();
    return count;
  }

  usedBytes(): number {
    const now = Date.now();
    // PRAGMAs are cheap but not free; ingest asks per request, so cache for a few ms.
    if (now - this.usedCheckedAt > 50) {
      const pages = this.stmt.pageCount.get()!.page_count - this.stmt.freelist.get()!.freelist_count;
      this.cachedUsed = pages * this.stmt.pageSize.get()!.page_size;
      this.usedCheckedAt = now;
    }
    return this.cachedUsed;
  }

  isFull(): boolean {
    return this.usedBytes() >= this.maxBytes;
  }

  /** Outputs that have undelivered entries, to notice outputs removed from the config. */
  outputsWithPending(): string[] {
    return (this.db.prepare("SELECT DISTINCT output FROM deliveries").all() as { output: string }[]).map((r) => r.output);
  }

  /** Moves an unknown output's pending entries to the dead-letter store rather than losing them. */
  retireOutput(output: string, reason: string): number {
    const entries = this.pending(output, 0, Number.MAX_SAFE_INTEGER);
    this.deadLetter(output, entries.map((entry) => ({ entry, reason, attempts: 0 })));
    return entries.length;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    clearTimeout(this.ackTimer);
    clearTimeout(this.gcTimer);
    this.db.close();
  }
}
