import Database from "better-sqlite3";
import { randomUUID } from "node:crypto";
import { closeSync, fsyncSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Logger } from "pino";
import { makeDirs } from "../fs-dirs.js";
import type { Alert } from "../alert.js";
import { PeregrineError, errorMessage, type ErrorCode } from "../errors.js";

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
  /** Bytes counted against the quota: live pages plus the write-ahead log's allowance. */
  usedBytes(): number;
  isFull(): boolean;
  /** Whether writes succeed, the quota, and anything found wrong with the storage. */
  health(): JournalHealth;
  /** Commits buffered acks and closes. */
  close(): void;
}

/** Something wrong with the journal's storage, as /healthz shows it. */
export interface JournalProblem {
  code: ErrorCode;
  message: string;
  /** ISO time it was first seen. */
  since: string;
}

export interface JournalHealth {
  /** False while journal writes fail (a full disk, an I/O error). */
  writable: boolean;
  full: boolean;
  used_bytes: number;
  max_bytes: number;
  problems: JournalProblem[];
}

/** The journal is at storage.max_bytes: the request is refused as a whole, nothing is dropped. */
export class StorageFullError extends PeregrineError {
  constructor() {
    super("INGEST_STORAGE_FULL", "the journal is at storage.max_bytes");
    this.name = "StorageFullError";
  }
}

/** A commit failed (a full disk, an I/O error): the request was not accepted and may be retried. */
export class StorageWriteError extends PeregrineError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("STORAGE_WRITE_FAILED", message, options);
    this.name = "StorageWriteError";
  }
}

export interface SqliteJournalOptions {
  dir: string;
  maxBytes: number;
  fsync: boolean;
  /**
   * The running router's journal: takes the exclusive lock on the directory, checks the
   * database and its marker at open, and watches its files while running. Off for readers
   * such as `peregrine dlq list`.
   */
  owner?: boolean;
  /** With `owner`: start an empty journal although the marker says one was kept here (it was lost). */
  startFresh?: boolean;
  logger?: Logger;
}

const DB_FILE = "journal.db";
/** Held with an OS lock while a router runs; the kernel releases it however the process ends. */
const LOCK_FILE = "journal.lock";
/** Written once a journal exists: an empty database beside it was lost, not new. */
const MARKER_FILE = "journal.id";

const ACK_FLUSH_MS = 20;
/** While writes fail: how often buffered acks and dead letters (or a probe) are tried again. */
const WRITE_RETRY_MS = 500;
/** While writes fail: how often the log says again that they still do. */
const FAILURE_LOG_MS = 60_000;
/** Dead letters of one output waiting for a failing disk, past which its lane is given no more to send. */
const MAX_WAITING_DEAD = 5000;
/** How often the running router checks that its journal files are still there. */
const WATCH_MS = 1000;
/** The write-ahead log's allowance within the quota: an eighth of it, at least 16 KiB, at most 4 MiB. */
const MAX_WAL_BUDGET = 4 * 1024 * 1024;
const MIN_WAL_BUDGET = 16 * 1024;
/** SQLite's shared-memory index beside the WAL: 32 KiB per 4,096 WAL frames. */
const SHM_BYTES = 32 * 1024;

interface PendingAppend {
  items: readonly AppendItem[];
  /** JSON of each item, null for an item no output wants (it is not stored). */
  bodies: (string | null)[];
  bytes: number;
  resolve: (e: JournalEntry[]) => void;
  reject: (e: Error) => void;
}

interface Written {
  entries: JournalEntry[];
  byOutput: Map<string, JournalEntry[]>;
}

/**
 * SQLite in WAL mode. Why SQLite rather than a segment log: one file, crash-safe
 * transactions, and deletes of delivered entries and the dead-letter store come free;
 * group commit makes one fsync cover every alert accepted in the same event-loop turn.
 *
 * No write may take the router down: a commit that fails (a full disk) rejects only the
 * appends in it; acks and dead letters wait in memory and are retried until the disk takes
 * them, while their alerts stay pending in the journal.
 */
export class SqliteJournal implements Journal {
  private db!: Database.Database;
  private stmt!: ReturnType<SqliteJournal["prepare"]>;
  private insertTx!: (a: PendingAppend, now: number) => Written;
  private deadTx!: (output: string, items: readonly DeadLetterInput[], failedAt: number) => void;
  private readonly dir: string;
  private readonly dbPath: string;
  private readonly maxBytes: number;
  private readonly fsync: boolean;
  private readonly walBudget: number;
  private readonly logger: Logger | undefined;
  private lock: Database.Database | undefined;
  private pendingAppends: PendingAppend[] = [];
  private pendingAcks: { output: string; seq: number }[] = [];
  private pendingDead: { output: string; items: readonly DeadLetterInput[]; failedAt: number }[] = [];
  /** Dead letters per output buffered because the disk refused them. */
  private readonly waitingDead = new Map<string, number>();
  private flushScheduled = false;
  /** The connection commits without fsync (a commit of delivery records only). */
  private syncRelaxed = false;
  private ackTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private listeners: ((byOutput: Map<string, JournalEntry[]>) => void)[] = [];
  /** Bytes of live pages, and of the WAL and its index, when last measured. */
  private live = 0;
  private walBytes = 0;
  private shmBytes = 0;
  private measuredAt = 0;
  private pageSize = 0;
  /** Bytes of appends queued but not yet committed, so requests in one turn see each other. */
  private reserved = 0;
  private closed = false;
  /** An append was refused at the quota: reported full until space is freed or an append fits. */
  private quotaHit = false;
  private failure: { since: number; reason: string; refused: number; loggedAt: number } | undefined;
  /** Lasting findings about the files (a WAL deleted while running), shown until restart. */
  private readonly problems = new Map<string, JournalProblem>();
  private walIno: number | undefined;
  private dbIno: number | undefined;
  /** Every output that may hold deliveries, so a body is dropped once none of them needs it. */
  private readonly knownOutputs = new Set<string>();

  constructor(options: SqliteJournalOptions) {
    this.dir = options.dir;
    this.dbPath = join(options.dir, DB_FILE);
    this.maxBytes = options.maxBytes;
    this.fsync = options.fsync;
    this.logger = options.logger;
    this.walBudget = Math.min(MAX_WAL_BUDGET, Math.max(MIN_WAL_BUDGET, Math.floor(options.maxBytes / 8)));
    try {
      makeDirs(options.dir);
    } catch (err) {
      throw new PeregrineError("STORAGE_OPEN_FAILED", `cannot open the journal in ${options.dir}: ${errorMessage(err)}`, { cause: err });
    }
    if (options.owner) this.lock = takeLock(options.dir);
    try {
      this.open(options);
    } catch (err) {
      try {
        this.db?.close();
      } catch {
        // already failing
      }
      this.releaseLock();
      throw err;
    }
    for (const o of this.outputsWithPending()) this.knownOutputs.add(o);
    try {
      // Bodies left by older versions, which collected them only after acknowledgements.
      this.db.transaction(() => this.collectGarbage())();
    } catch {
      // a full disk: the space stays used until the next start
    }
    this.measure();
    if (options.owner) {
      this.watch();
      this.watchTimer = setInterval(() => this.watch(), WATCH_MS);
      this.watchTimer.unref();
    }
  }

  private open(options: SqliteJournalOptions): void {
    const owner = options.owner === true;
    const existing = statOrUndefined(this.dbPath)?.size ?? 0;
    try {
      this.db = new Database(this.dbPath);
    } catch (err) {
      throw openError(this.dbPath, err);
    }
    let freshId: string | undefined;
    try {
      if (owner && existing > 0) this.checkIntegrity();
      const hasSchema = (this.db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'alerts'").get() as { n: number }).n > 0;
      const marker = owner ? readMarker(this.dir) : undefined;
      if (owner && !hasSchema && marker !== undefined) {
        if (!options.startFresh)
          throw new PeregrineError(
            "STORAGE_JOURNAL_LOST",
            `${this.dbPath} is empty, but ${join(this.dir, MARKER_FILE)} says journal ${marker} was kept here: its alerts are lost (the file was truncated, deleted or replaced). Restore it from a backup, or start an empty journal with --start-fresh`,
          );
        this.logger?.warn({ code: "STORAGE_JOURNAL_LOST", journal: marker, storage: this.dir }, `journal ${marker} was lost; starting an empty one as --start-fresh asks`);
      }
      if (owner && (marker === undefined || !hasSchema)) freshId = randomUUID();
      this.configure();
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
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      `);
      this.prepareAll();
      if (freshId !== undefined) {
        const id = hasSchema ? (this.stmt.getMeta.get("journal_id")?.value ?? freshId) : freshId;
        this.stmt.setMeta.run("journal_id", id);
        // After the schema is durable: a crash in between leaves a journal without a marker,
        // which the next start marks, never a marker without its journal.
        writeMarker(this.dir, id);
      }
    } catch (err) {
      throw err instanceof PeregrineError ? err : openError(this.dbPath, err);
    }
  }

  /** Connection settings, again after a reopen. */
  private configure(): void {
    this.db.pragma("journal_mode = WAL");
    this.db.pragma(`synchronous = ${this.fsync ? "FULL" : "NORMAL"}`);
    this.syncRelaxed = false;
    this.db.pragma("busy_timeout = 5000");
    // Keeps the WAL within its allowance of the quota: checkpointed at that size, and cut
    // back to it afterwards (a large commit may grow it past that for a moment).
    const pageSize = this.db.pragma("page_size", { simple: true }) as number;
    this.db.pragma(`wal_autocheckpoint = ${Math.max(4, Math.floor(this.walBudget / pageSize))}`);
    this.db.pragma(`journal_size_limit = ${this.walBudget}`);
  }

  private checkIntegrity(): void {
    const started = Date.now();
    const rows = this.db.pragma("quick_check") as { quick_check: string }[];
    const found = rows.map((r) => r.quick_check).filter((r) => r !== "ok");
    if (found.length > 0)
      throw new PeregrineError(
        "STORAGE_CORRUPT",
        `${this.dbPath} is damaged (${found.slice(0, 3).join("; ")}${found.length > 3 ? `; and ${found.length - 3} more` : ""}): refusing to start on it. Nothing was changed; move it aside and restore a backup, or recover what is readable with sqlite3's .recover`,
      );
    const ms = Date.now() - started;
    if (ms > 1000) this.logger?.info({ ms }, `journal integrity checked in ${ms} ms`);
  }

  private prepareAll(): void {
    this.stmt = this.prepare();
    this.insertTx = this.db.transaction((a: PendingAppend, now: number) => this.insertAppend(a, now));
    this.deadTx = this.db.transaction((output: string, items: readonly DeadLetterInput[], failedAt: number) => this.writeDeadLetters(output, items, failedAt));
  }

  private prepare() {
    const db = this.db;
    return {
      insertAlert: db.prepare<[string, number, string]>("INSERT INTO alerts (uuid, accepted_at, body) VALUES (?, ?, ?)"),
      insertDelivery: db.prepare<[string, number]>("INSERT OR IGNORE INTO deliveries (output, seq) VALUES (?, ?)"),
      deleteDelivery: db.prepare<[string, number]>("DELETE FROM deliveries WHERE output = ? AND seq = ?"),
      hasDelivery: db.prepare<[string, number], { x: number }>("SELECT 1 AS x FROM deliveries WHERE output = ? AND seq = ?"),
      deleteAlert: db.prepare<[number]>("DELETE FROM alerts WHERE seq = ?"),
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
      getMeta: db.prepare<[string], { value: string }>("SELECT value FROM meta WHERE key = ?"),
      setMeta: db.prepare<[string, string]>("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"),
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
    let bodies: (string | null)[];
    try {
      // Serialized here, so a request whose alert cannot be is refused alone and at once.
      bodies = items.map((item) => (item.outputs.length === 0 ? null : JSON.stringify(item.alert)));
    } catch (err) {
      return Promise.reject(unwritable(err));
    }
    let bytes = 0;
    for (const b of bodies) if (b !== null) bytes += b.length;
    this.reserved += bytes;
    return new Promise((resolve, reject) => {
      this.pendingAppends.push({ items, bodies, bytes, resolve, reject });
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
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const appends = this.pendingAppends;
    const acks = this.pendingAcks;
    const dead = this.pendingDead;
    this.pendingAppends = [];
    this.pendingAcks = [];
    this.pendingDead = [];
    for (const a of appends) this.reserved -= a.bytes;
    const nothing = appends.length === 0 && acks.length === 0 && dead.length === 0;
    // While writes fail, an idle journal still tries one, so health sees the disk recover.
    const probe = nothing && this.failure !== undefined;
    if (nothing && !probe) return;
    const now = Date.now();
    const outcomes: (Written | Error)[] = [];
    const written: typeof dead = [];
    let storageError: unknown;
    // A commit of delivery records alone needs no fsync of its own: lost in a crash, its
    // alerts are sent again (at least once), and the next commit that holds alerts or dead
    // letters syncs the write-ahead log up to itself, these records included. So a lone
    // producer's next alert never waits behind a second fsync per alert.
    const relaxed = this.fsync && appends.length === 0 && dead.length === 0 && !probe;
    try {
      // Alerts are never committed on a connection that could not be set back to fsync.
      if (!this.relaxSync(relaxed) && !relaxed) throw new Error("cannot set synchronous = FULL on the journal");
      this.db.transaction(() => {
        for (const { output, seq } of acks) this.removeDelivery(output, seq);
        for (const d of dead) {
          try {
            this.deadTx(d.output, d.items, d.failedAt);
            written.push(d);
          } catch (err) {
            if (!this.db.inTransaction || isStorageError(err)) throw err;
            // Not the disk: this group can never be written. Its alerts stay pending (sent
            // again after a restart) rather than block every later commit.
            written.push(d);
            this.logger?.error({ output: d.output, err: errorMessage(err) }, `journal: ${d.items.length} dead letter(s) of ${d.output} cannot be written`);
          }
        }
        for (const a of appends) {
          try {
            // A savepoint per request: a row that cannot be written fails its request alone.
            outcomes.push(this.insertTx(a, now));
          } catch (err) {
            // SQLite rolled the whole transaction back (it does for some I/O errors): nothing
            // of this commit holds, so it fails as a whole.
            if (!this.db.inTransaction) throw err;
            if (err instanceof StorageFullError) {
              this.quotaHit = true;
              outcomes.push(err);
            }
            else if (isStorageError(err)) {
              storageError ??= err;
              outcomes.push(new StorageWriteError(`journal write failed: ${sqliteReason(err)}`, { cause: err }));
            } else outcomes.push(unwritable(err));
          }
        }
        if (probe) this.stmt.setMeta.run("probe", String(now));
      })();
    } catch (err) {
      const e = new StorageWriteError(`journal write failed: ${sqliteReason(err)}`, { cause: err });
      for (const a of appends) a.reject(e);
      // Kept: committed alone later (deletes need little room), they free the space a full
      // disk needs. Dropping them would strand delivered rows until a restart.
      this.pendingAcks = acks.concat(this.pendingAcks);
      this.pendingDead = dead.concat(this.pendingDead);
      this.noteWriteFailure(err, appends.length);
      return;
    }
    for (const d of written) {
      const n = (this.waitingDead.get(d.output) ?? 0) - d.items.length;
      if (n > 0) this.waitingDead.set(d.output, n);
      else this.waitingDead.delete(d.output);
    }
    if (storageError === undefined) this.noteWriteSuccess();
    else this.noteWriteFailure(storageError, outcomes.filter((o) => o instanceof StorageWriteError).length);
    this.measure();
    const byOutput = new Map<string, JournalEntry[]>();
    for (const o of outcomes) {
      if (o instanceof Error) continue;
      for (const [name, list] of o.byOutput) {
        const all = byOutput.get(name);
        if (all) all.push(...list);
        else byOutput.set(name, list);
      }
    }
    if (byOutput.size > 0) for (const l of this.listeners) l(byOutput);
    if (outcomes.some((o, i) => !(o instanceof Error) && appends[i]!.bytes > 0)) this.quotaHit = false;
    appends.forEach((a, i) => {
      const o = outcomes[i]!;
      if (o instanceof Error) a.reject(o);
      else a.resolve(o.entries);
    });
  }

  /** Sets whether commits skip their fsync; false when the setting could not be changed. */
  private relaxSync(relaxed: boolean): boolean {
    if (relaxed === this.syncRelaxed) return true;
    try {
      this.db.pragma(`synchronous = ${relaxed ? "NORMAL" : "FULL"}`);
      this.syncRelaxed = relaxed;
      return true;
    } catch {
      return false;
    }
  }

  /** One request's rows, inside its savepoint; refused as a whole past the quota. */
  private insertAppend(a: PendingAppend, now: number): Written {
    const entries: JournalEntry[] = [];
    const byOutput = new Map<string, JournalEntry[]>();
    a.items.forEach((item, i) => {
      const body = a.bodies[i];
      if (body === null || body === undefined) {
        // No output wants it: nothing durable to keep (seq 0 is never a journal row).
        entries.push({ seq: 0, alert: item.alert, acceptedAt: now, bytes: 0 });
        return;
      }
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
    });
    if (a.bytes > 0 && this.livePages() + this.walReserve() + this.shmReserve() > this.maxBytes) throw new StorageFullError();
    return { entries, byOutput };
  }

  private removeDelivery(output: string, seq: number): void {
    if (this.stmt.deleteDelivery.run(output, seq).changes === 0) return;
    // The body goes with its last delivery: collection never waits for another output's ack.
    for (const o of this.knownOutputs) if (o !== output && this.stmt.hasDelivery.get(o, seq)) return;
    this.stmt.deleteAlert.run(seq);
    this.quotaHit = false;
  }

  private writeDeadLetters(output: string, items: readonly DeadLetterInput[], failedAt: number): void {
    for (const { entry, status, reason, attempts } of items) {
      this.stmt.insertDead.run(output, entry.alert.uuid, JSON.stringify(entry.alert), status ?? null, reason, attempts, entry.acceptedAt, failedAt);
      this.removeDelivery(output, entry.seq);
    }
  }

  /** Drops bodies below every output's oldest pending delivery (at open, for older journals). */
  private collectGarbage(): void {
    let min: number | null = null;
    for (const output of this.knownOutputs) {
      const m = this.stmt.minPending.get(output)?.m ?? null;
      if (m !== null && (min === null || m < min)) min = m;
    }
    if (min === null) this.stmt.gcAll.run();
    else this.stmt.gc.run(min);
  }

  private noteWriteFailure(err: unknown, refused: number): void {
    const now = Date.now();
    const reason = sqliteReason(err);
    const waiting = `${this.pendingAcks.length} delivery record(s) and ${this.pendingDead.reduce((n, d) => n + d.items.length, 0)} dead letter(s) wait to be written`;
    if (!this.failure) {
      this.failure = { since: now, reason, refused, loggedAt: now };
      this.logger?.error(
        { code: "STORAGE_WRITE_FAILED", err: reason, storage: this.dir },
        `journal writes fail (${reason}): ingest answers 503 and ${waiting}; retried every ${WRITE_RETRY_MS} ms until ${this.dir} has room again. Nothing acknowledged is lost`,
      );
    } else {
      const f = this.failure;
      f.reason = reason;
      f.refused += refused;
      if (now - f.loggedAt >= FAILURE_LOG_MS) {
        this.logger?.warn(
          { code: "STORAGE_WRITE_FAILED", err: reason, refused: f.refused },
          `journal writes still fail (${reason}) after ${Math.round((now - f.since) / 1000)} s: ${f.refused} request(s) refused so far; ${waiting}`,
        );
        f.loggedAt = now;
      }
    }
    this.scheduleRetry();
  }

  /**
   * The retry: buffered acks and dead letters, or a probe. A checkpoint first lets the next
   * commit reuse the WAL's space rather than grow the file.
   */
  private scheduleRetry(): void {
    if (!this.retryTimer && !this.closed)
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        if (this.closed) return;
        try {
          this.db.pragma("wal_checkpoint(RESTART)");
        } catch {
          // still failing; the flush says so
        }
        this.flush();
      }, WRITE_RETRY_MS);
  }

  private noteWriteSuccess(): void {
    if (!this.failure) return;
    const f = this.failure;
    this.failure = undefined;
    this.logger?.info(
      { refused: f.refused },
      `journal writes succeed again after ${Math.round((Date.now() - f.since) / 1000)} s (${f.refused} request(s) were refused meanwhile)`,
    );
  }

  pending(output: string, afterSeq: number, limit: number): JournalEntry[] {
    // While the disk refuses this output's dead letters, its lane gets no more to send: the
    // ones waiting stay bounded instead of the whole backlog passing into memory.
    if ((this.waitingDead.get(output) ?? 0) >= MAX_WAITING_DEAD) return [];
    return this.readPending(output, afterSeq, limit);
  }

  private readPending(output: string, afterSeq: number, limit: number): JournalEntry[] {
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
    if (!this.ackTimer && !this.flushScheduled && !this.retryTimer) this.ackTimer = setTimeout(() => this.flush(), ACK_FLUSH_MS);
  }

  /** Never throws: when the disk refuses, the dead letters wait in memory and are retried. */
  deadLetter(output: string, items: readonly DeadLetterInput[]): void {
    if (items.length === 0) return;
    const now = Date.now();
    if (!this.failure && this.pendingDead.length === 0 && !this.closed && this.relaxSync(false)) {
      try {
        this.deadTx(output, items, now);
        return;
      } catch (err) {
        this.noteWriteFailure(err, 0);
      }
    }
    this.pendingDead.push({ output, items, failedAt: now });
    this.waitingDead.set(output, (this.waitingDead.get(output) ?? 0) + items.length);
    this.scheduleRetry();
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
    try {
      if (!this.relaxSync(false)) throw new Error("cannot set synchronous = FULL on the journal");
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
    } catch (err) {
      if (isStorageError(err)) throw new StorageWriteError(`journal write failed: ${sqliteReason(err)}`, { cause: err });
      throw err;
    }
    return count;
  }

  private livePages(): number {
    // The page size is fixed once the database exists.
    this.pageSize ||= this.stmt.pageSize.get()!.page_size;
    return (this.stmt.pageCount.get()!.page_count - this.stmt.freelist.get()!.freelist_count) * this.pageSize;
  }

  private walReserve(): number {
    return Math.max(this.walBytes, this.walBudget);
  }

  private shmReserve(): number {
    return Math.max(this.shmBytes, SHM_BYTES);
  }

  private measure(): void {
    try {
      this.live = this.livePages();
    } catch {
      // a failing read keeps the last figure
    }
    this.walBytes = statOrUndefined(`${this.dbPath}-wal`)?.size ?? 0;
    this.shmBytes = statOrUndefined(`${this.dbPath}-shm`)?.size ?? 0;
    this.measuredAt = Date.now();
  }

  /**
   * What the quota counts: live database pages, plus the WAL and its index at their
   * allowance (or their size, when larger), plus appends queued in this turn. The files on
   * disk then stay within storage.max_bytes.
   */
  usedBytes(): number {
    // Ingest asks per request: measured after each commit, and at most every 50 ms otherwise.
    if (Date.now() - this.measuredAt > 50) this.measure();
    return this.live + this.walReserve() + this.shmReserve() + this.reserved;
  }

  isFull(): boolean {
    return this.quotaHit || this.usedBytes() >= this.maxBytes;
  }

  health(): JournalHealth {
    const problems = [...this.problems.values()];
    if (this.failure) {
      const waiting = this.pendingAcks.length + this.pendingDead.reduce((n, d) => n + d.items.length, 0);
      problems.unshift({
        code: "STORAGE_WRITE_FAILED",
        message: `journal writes fail (${this.failure.reason}): ingest answers 503; ${waiting} delivery record(s) wait to be written; retried every ${WRITE_RETRY_MS} ms`,
        since: new Date(this.failure.since).toISOString(),
      });
    }
    return { writable: this.failure === undefined, full: this.isFull(), used_bytes: this.usedBytes(), max_bytes: this.maxBytes, problems };
  }

  /** Checks that the database and its WAL are still the files this journal opened. */
  private watch(): void {
    if (this.closed) return;
    const db = statOrUndefined(this.dbPath);
    if (!db || (this.dbIno !== undefined && db.ino !== this.dbIno)) {
      this.databaseLost(db === undefined ? "deleted" : "replaced");
      return;
    }
    this.dbIno = db.ino;
    const wal = statOrUndefined(`${this.dbPath}-wal`);
    if (wal && this.walIno === undefined) this.walIno = wal.ino;
    else if (this.walIno !== undefined && (!wal || wal.ino !== this.walIno)) this.walLost(wal ? "replaced" : "deleted");
  }

  /**
   * The WAL holds commits not yet copied into the database; deleted while running, they
   * would vanish at the next restart. The open file still holds them: a checkpoint copies
   * them into journal.db, and a reopen starts a new WAL.
   */
  private walLost(how: string): void {
    const at = new Date().toISOString();
    let outcome: string;
    try {
      this.db.pragma("wal_checkpoint(TRUNCATE)");
      this.reopen();
      outcome = "what it held was copied into journal.db from the still-open file and a new WAL started";
    } catch (err) {
      outcome = `saving what it held failed (${errorMessage(err)}): commits since the last checkpoint may be lost at the next restart`;
    }
    const message = `${this.dbPath}-wal was ${how} while the router ran: ${outcome}. Find what removes files under ${this.dir}`;
    this.logger?.error({ code: "STORAGE_WAL_LOST", storage: this.dir }, message);
    this.problems.set("wal", { code: "STORAGE_WAL_LOST", message, since: at });
  }

  private databaseLost(how: string): void {
    if (this.problems.has("db")) return;
    const at = new Date().toISOString();
    let outcome: string;
    if (how === "deleted") {
      try {
        // The open connection still reads the deleted file: write its content back.
        this.db.prepare("VACUUM INTO ?").run(this.dbPath);
        this.reopen();
        this.problems.delete("wal");
        outcome = "its content was written back from the still-open file";
      } catch (err) {
        outcome = `writing it back failed (${errorMessage(err)}): the journal will be lost at the next restart`;
      }
    } else outcome = "the router keeps writing to the file it opened, which is no longer there: the journal will be lost at the next restart";
    const message = `${this.dbPath} was ${how} while the router ran: ${outcome}. Find what removes files under ${this.dir}`;
    this.logger?.error({ code: "STORAGE_JOURNAL_LOST", storage: this.dir }, message);
    this.problems.set("db", { code: "STORAGE_JOURNAL_LOST", message, since: at });
  }

  private reopen(): void {
    this.db.close();
    this.db = new Database(this.dbPath);
    this.configure();
    this.prepareAll();
    this.walIno = undefined;
    this.dbIno = statOrUndefined(this.dbPath)?.ino;
  }

  /** Outputs that have undelivered entries, to notice outputs removed from the config. */
  outputsWithPending(): string[] {
    return (this.db.prepare("SELECT DISTINCT output FROM deliveries").all() as { output: string }[]).map((r) => r.output);
  }

  /** Moves an unknown output's pending entries to the dead-letter store rather than losing them. */
  retireOutput(output: string, reason: string): number {
    const entries = this.readPending(output, 0, Number.MAX_SAFE_INTEGER);
    this.deadLetter(output, entries.map((entry) => ({ entry, reason, attempts: 0 })));
    return entries.length;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
    clearTimeout(this.ackTimer);
    clearTimeout(this.retryTimer);
    clearInterval(this.watchTimer);
    const left = this.pendingAcks.length + this.pendingDead.reduce((n, d) => n + d.items.length, 0);
    if (left > 0)
      this.logger?.warn({ count: left }, `journal closed with ${left} delivery record(s) unwritten: those alerts are sent again after the next start`);
    try {
      this.db.close();
    } finally {
      this.releaseLock();
    }
  }

  private releaseLock(): void {
    const lock = this.lock;
    this.lock = undefined;
    if (!lock) return;
    try {
      lock.pragma("user_version = 0");
    } catch {
      // the kernel drops the lock with the connection anyway
    }
    lock.close();
  }
}

/**
 * The exclusive lock on storage.path: an OS lock SQLite holds on journal.lock for as long as
 * the connection lives, so it ends with the process however it ends (a stale lock of a dead
 * router is simply taken). The holder's pid is written into the file's header, where a
 * second router reads it without the lock.
 */
function takeLock(dir: string): Database.Database {
  const path = join(dir, LOCK_FILE);
  let lock: Database.Database;
  try {
    lock = new Database(path, { timeout: 0 });
  } catch (err) {
    throw new PeregrineError("STORAGE_OPEN_FAILED", `cannot open the lock file ${path}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    lock.pragma("page_size = 512");
    // No rollback journal file: rewriting the pid needs no new block, so it works on a full disk.
    lock.pragma("journal_mode = MEMORY");
    lock.pragma("locking_mode = EXCLUSIVE");
    lock.exec("BEGIN EXCLUSIVE");
    lock.exec("COMMIT");
  } catch (err) {
    lock.close();
    if ((err as { code?: string }).code === "SQLITE_BUSY") {
      const pid = holderPid(path);
      throw new PeregrineError(
        "STORAGE_LOCKED",
        `storage.path ${dir} is in use by another router${pid > 0 ? ` (pid ${pid})` : ""}: two routers on one journal would send and dead-letter each other's alerts. Stop that one first, or give this one its own storage.path`,
      );
    }
    throw new PeregrineError("STORAGE_OPEN_FAILED", `cannot lock ${path}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    lock.pragma(`user_version = ${process.pid}`);
  } catch {
    // A full disk on a first start: the lock holds, only the pid is not recorded.
  }
  return lock;
}

/** The pid a running router wrote into journal.lock's header (SQLite's user_version, offset 60). */
function holderPid(path: string): number {
  let fd: number | undefined;
  try {
    fd = openSync(path, "r");
    const buf = Buffer.alloc(4);
    return readSync(fd, buf, 0, 4, 60) === 4 ? buf.readInt32BE(0) : 0;
  } catch {
    return 0;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function readMarker(dir: string): string | undefined {
  try {
    return readFileSync(join(dir, MARKER_FILE), "utf8").trim() || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new PeregrineError("STORAGE_OPEN_FAILED", `cannot read ${join(dir, MARKER_FILE)}: ${errorMessage(err)}`, { cause: err });
  }
}

/** Written whole or not at all (a temporary file renamed), and synced with its directory. */
function writeMarker(dir: string, id: string): void {
  const path = join(dir, MARKER_FILE);
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, `${id}\n`);
  const fd = openSync(tmp, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  try {
    const d = openSync(dir, "r");
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
  } catch {
    // not every file system syncs a directory
  }
}

function statOrUndefined(path: string): { size: number; ino: number } | undefined {
  try {
    const s = statSync(path);
    return { size: s.size, ino: s.ino };
  } catch {
    return undefined;
  }
}

/** SQLite's own errors: the storage, not the row (a full disk, an I/O error, a lock). */
function isStorageError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.startsWith("SQLITE_");
}

function sqliteReason(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  const message = errorMessage(err);
  return typeof code === "string" && !message.includes(code) ? `${code}: ${message}` : message;
}

/** A request whose alert cannot be stored (it cannot be serialized or bound): its own error, not the batch's. */
function unwritable(err: unknown): PeregrineError {
  return new PeregrineError("INGEST_INVALID_FIELD", `the alert cannot be journaled: ${errorMessage(err)}`, { cause: err });
}

function openError(path: string, err: unknown): PeregrineError {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB")
    return new PeregrineError(
      "STORAGE_CORRUPT",
      `${path} is damaged (${errorMessage(err)}): refusing to start on it. Nothing was changed; move it aside and restore a backup, or recover what is readable with sqlite3's .recover`,
      { cause: err },
    );
  return new PeregrineError("STORAGE_OPEN_FAILED", `cannot open the journal ${path}: ${sqliteReason(err)}`, { cause: err });
}
