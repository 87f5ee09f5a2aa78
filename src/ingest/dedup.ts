import Database from "better-sqlite3";
import { join } from "node:path";
import type { Logger } from "pino";
import type { Alert } from "../alert.js";
import { errorMessage } from "../errors.js";
import { makeDirs } from "../fs-dirs.js";

/** Lookups per event-loop turn; a 31,000-alert batch is checked in steps like it is parsed. */
const STEP = 500;
const PRUNE_EVERY_MS = 60_000;
/** Rows deleted per pruning step, so a large expiry never holds the event loop. */
const PRUNE_STEP = 5000;

export interface DedupClaim {
  /** The alerts to journal: the batch without retries of alerts already accepted. */
  alerts: Alert[];
  /** How many of the batch were retries (or repeats within it). */
  duplicates: number;
  /** Records these alerts as accepted (after the journal committed them). */
  commit(alerts: readonly Alert[]): void;
  /** Gives up the claims not committed (the journal refused them): a retry is new again. */
  release(): void;
}

/**
 * Idempotent ingest: Falco's http_output and the detector retry a request whose answer they
 * did not see, with the same `uuid`. A uuid accepted within the window is answered 200 again
 * but not journaled twice. Only uuids the producer chose count: the router's own are new.
 *
 * The seen uuids live in their own SQLite file beside the journal (`ingest-dedup.db`), so
 * they survive a restart; recorded just after the journal's commit, a crash in between can
 * at worst let one retry through (at least once, as before). Requests racing with the same
 * uuid wait for the first one's outcome.
 */
export class UuidDedup {
  private readonly db: Database.Database;
  private readonly find: Database.Statement<[string, number], { at: number }>;
  private readonly insert: Database.Statement<[string, number]>;
  private readonly prune: Database.Statement<[number]>;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(
    dir: string,
    private readonly windowMs: number,
    private readonly logger: Logger,
  ) {
    makeDirs(dir);
    this.db = new Database(join(dir, "ingest-dedup.db"));
    this.db.pragma("journal_mode = WAL");
    // A lost record costs at most one duplicate delivery: no fsync per request.
    this.db.pragma("synchronous = NORMAL");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS seen (uuid TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS seen_at ON seen (at);
    `);
    this.find = this.db.prepare("SELECT at FROM seen WHERE uuid = ? AND at >= ?");
    this.insert = this.db.prepare("INSERT OR REPLACE INTO seen (uuid, at) VALUES (?, ?)");
    this.prune = this.db.prepare(`DELETE FROM seen WHERE uuid IN (SELECT uuid FROM seen WHERE at < ? LIMIT ${PRUNE_STEP})`);
    this.timer = setInterval(() => void this.pruneExpired(), PRUNE_EVERY_MS);
    this.timer.unref();
  }

  /** `producerUuid[i]` says whether alert i carried its producer's uuid. */
  async claim(batch: readonly Alert[], producerUuid: readonly boolean[]): Promise<DedupClaim> {
    const alerts: Alert[] = [];
    const mine = new Map<string, () => void>();
    let duplicates = 0;
    for (let i = 0; i < batch.length; i++) {
      if (i > 0 && i % STEP === 0) await new Promise<void>((r) => setImmediate(r));
      const alert = batch[i]!;
      if (!producerUuid[i]) {
        alerts.push(alert);
        continue;
      }
      const uuid = alert.uuid;
      if (mine.has(uuid)) {
        duplicates++;
        continue;
      }
      // Another request holds this uuid: its outcome decides whether this one is a retry.
      for (let other = this.inFlight.get(uuid); other !== undefined; other = this.inFlight.get(uuid)) await other;
      if (this.seen(uuid)) {
        duplicates++;
        continue;
      }
      let settle!: () => void;
      this.inFlight.set(uuid, new Promise<void>((r) => (settle = r)));
      mine.set(uuid, settle);
      alerts.push(alert);
    }
    const settleOne = (uuid: string) => {
      const settle = mine.get(uuid);
      if (!settle) return;
      mine.delete(uuid);
      this.inFlight.delete(uuid);
      settle();
    };
    return {
      alerts,
      duplicates,
      commit: (committed) => {
        const now = Date.now();
        try {
          if (!this.closed)
            this.db.transaction(() => {
              for (const a of committed) if (mine.has(a.uuid)) this.insert.run(a.uuid, now);
            })();
        } catch (err) {
          // The alerts are journaled: only a later retry's dedup is lost.
          this.logger.warn({ err: errorMessage(err) }, "could not record accepted uuids for deduplication");
        }
        for (const a of committed) settleOne(a.uuid);
      },
      release: () => {
        for (const uuid of [...mine.keys()]) settleOne(uuid);
      },
    };
  }

  private seen(uuid: string): boolean {
    if (this.closed) return false;
    return this.find.get(uuid, Date.now() - this.windowMs) !== undefined;
  }

  private async pruneExpired(): Promise<void> {
    try {
      while (!this.closed && this.prune.run(Date.now() - this.windowMs).changes === PRUNE_STEP) await new Promise<void>((r) => setImmediate(r));
    } catch (err) {
      this.logger.warn({ err: errorMessage(err) }, "could not prune expired deduplication records");
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    this.db.close();
  }
}
