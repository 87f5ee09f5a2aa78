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
/** Accepted uuids are written to the dedup file in one transaction per this many ms. */
const RECORD_EVERY_MS = 20;

export interface DedupClaim {
  /** The alerts to journal: the batch without retries of alerts already accepted. */
  alerts: Alert[];
  /** How many of the batch were retries (or repeats within it). */
  duplicates: number;
  /** Records these alerts as accepted (after the journal committed them). */
  commit(alerts: readonly Alert[]): void;
  /** Ends the claim: requests waiting on its uuids go on (uncommitted ones are new again for them). */
  release(): void;
}

/**
 * Idempotent ingest: Falco's http_output and the detector retry a request whose answer they
 * did not see, with the same `uuid`. A uuid accepted within the window is answered 200 again
 * but not journaled twice. Only uuids the producer chose count: the router's own are new.
 *
 * The seen uuids live in their own SQLite file beside the journal (`ingest-dedup.db`), so
 * they survive a restart; recorded in memory as soon as the journal committed them and
 * written to the file in the background (one transaction per 20 ms), a crash in between can
 * at worst let a retry of those through (at least once, as before). Requests racing with
 * the same uuid wait for the first one's outcome.
 */
export class UuidDedup {
  private readonly db: Database.Database;
  private readonly findMany: Database.Statement<[string, number], { uuid: string }>;
  private readonly findOne: Database.Statement<[string, number], { x: number }>;
  private readonly insert: Database.Statement<[string, number]>;
  private readonly prune: Database.Statement<[number]>;
  /** uuids being journaled by a request, to its outcome. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly timer: NodeJS.Timeout;
  /** Accepted uuids not yet written to the file, to the time they were accepted; looked up like it. */
  private unwritten = new Map<string, number>();
  private recordTimer: NodeJS.Timeout | undefined;
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
    this.findMany = this.db.prepare("SELECT uuid FROM seen WHERE uuid IN (SELECT value FROM json_each(?)) AND at >= ?");
    // A lone alert (Falco's http_output sends one per request): a plain key lookup.
    this.findOne = this.db.prepare("SELECT 1 AS x FROM seen WHERE uuid = ? AND at >= ?");
    this.insert = this.db.prepare("INSERT OR REPLACE INTO seen (uuid, at) VALUES (?, ?)");
    this.prune = this.db.prepare(`DELETE FROM seen WHERE uuid IN (SELECT uuid FROM seen WHERE at < ? LIMIT ${PRUNE_STEP})`);
    this.timer = setInterval(() => void this.pruneExpired(), PRUNE_EVERY_MS);
    this.timer.unref();
  }

  /** `producerUuid[i]` says whether alert i carried its producer's uuid. */
  async claim(batch: readonly Alert[], producerUuid: readonly boolean[]): Promise<DedupClaim> {
    const alerts: Alert[] = [];
    /** The uuids this request journals; racing requests wait on `done` for its outcome. */
    const mine = new Set<string>();
    let settle!: () => void;
    const done = new Promise<void>((r) => (settle = r));
    let duplicates = 0;
    for (;;) {
      // Another request holds some of these uuids: its outcome decides whether ours are
      // retries. This request holds nothing while it waits, so two never wait on each other.
      for (let held = this.heldByOther(batch, producerUuid, done); held !== undefined; held = this.heldByOther(batch, producerUuid, done)) await held;
      const seen = new Set<string>();
      for (let from = 0; from < batch.length; from += STEP) {
        if (from > 0) await new Promise<void>((r) => setImmediate(r));
        const uuids: string[] = [];
        for (let i = from; i < Math.min(from + STEP, batch.length); i++) if (producerUuid[i]) uuids.push(batch[i]!.uuid);
        for (const u of this.seenAmong(uuids)) seen.add(u);
      }
      // Claimed by another while we looked: wait for it and look again.
      if (this.heldByOther(batch, producerUuid, done) !== undefined) continue;
      // From here to the end nothing waits: the claims are taken at once.
      for (let i = 0; i < batch.length; i++) {
        const alert = batch[i]!;
        if (!producerUuid[i]) {
          alerts.push(alert);
          continue;
        }
        if (mine.has(alert.uuid) || seen.has(alert.uuid)) {
          duplicates++;
          continue;
        }
        mine.add(alert.uuid);
        this.inFlight.set(alert.uuid, done);
        alerts.push(alert);
      }
      break;
    }
    let released = false;
    return {
      alerts,
      duplicates,
      commit: (committed) => {
        if (this.closed || mine.size === 0) return;
        // In memory at once (before release, so a racing retry finds it), on file shortly after:
        // the request's answer never waits for this second database.
        const now = Date.now();
        for (const a of committed) if (mine.has(a.uuid)) this.unwritten.set(a.uuid, now);
        this.recordTimer ??= setTimeout(() => this.writeAccepted(), RECORD_EVERY_MS);
      },
      release: () => {
        if (released) return;
        released = true;
        for (const uuid of mine) if (this.inFlight.get(uuid) === done) this.inFlight.delete(uuid);
        settle();
      },
    };
  }

  private heldByOther(batch: readonly Alert[], producerUuid: readonly boolean[], mine: Promise<void>): Promise<void> | undefined {
    if (this.inFlight.size === 0) return undefined;
    for (let i = 0; i < batch.length; i++) {
      if (!producerUuid[i]) continue;
      const holder = this.inFlight.get(batch[i]!.uuid);
      if (holder !== undefined && holder !== mine) return holder;
    }
    return undefined;
  }

  /** Writes the uuids accepted since the last write, in one transaction. */
  private writeAccepted(): void {
    this.recordTimer = undefined;
    if (this.closed || this.unwritten.size === 0) return;
    const batch = this.unwritten;
    this.unwritten = new Map();
    try {
      this.db.transaction(() => {
        for (const [uuid, at] of batch) this.insert.run(uuid, at);
      })();
    } catch (err) {
      // The alerts are journaled: only a later retry's dedup is lost.
      this.logger.warn({ err: errorMessage(err) }, `could not record ${batch.size} accepted uuid(s) for deduplication`);
    }
  }

  /** Which of `uuids` were accepted within the window: one query per step, not one per alert. */
  private seenAmong(uuids: string[]): Set<string> {
    if (this.closed || uuids.length === 0) return new Set();
    const found = new Set<string>();
    for (const u of uuids) if (this.unwritten.has(u)) found.add(u);
    if (found.size === uuids.length) return found;
    if (uuids.length === 1) {
      if (this.findOne.get(uuids[0]!, Date.now() - this.windowMs)) found.add(uuids[0]!);
      return found;
    }
    const rows = this.findMany.all(JSON.stringify(uuids), Date.now() - this.windowMs);
    for (const r of rows) found.add(r.uuid);
    return found;
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
    clearTimeout(this.recordTimer);
    this.writeAccepted();
    this.closed = true;
    clearInterval(this.timer);
    this.db.close();
  }
}
