/**
 * Sends the detector's alerts to a router (`peregrine detect --router URL`) through a small
 * durable spool: every alert is written to SQLite first, with its uuid, and deleted only once
 * the router answered 2xx, so a router restart (or ours) loses nothing and a retried batch is
 * idempotent (the router keeps a producer's uuid). Oldest alerts give way when the spool is
 * full, counted and logged.
 */
import Database from "better-sqlite3";
import { makeDirs } from "../../../fs-dirs.js";
import { dirname } from "node:path";
import type { Logger } from "pino";
import { request } from "undici";
import { normalizeAlert } from "../../../alert.js";
import type { DetectorAlert } from "../../ruleset.js";

export interface ForwarderOptions {
  /** The router's base URL; alerts are POSTed to its `/` as a JSON array. */
  routerUrl: string;
  spoolPath: string;
  logger: Logger;
  /** Bearer token for a router with ingest auth. */
  token?: string;
  maxSpooled?: number;
  batchSize?: number;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

export interface ForwarderStats {
  spooled: number;
  sent: number;
  rejected: number;
  dropped: number;
  failedAttempts: number;
}

export class AlertForwarder {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly batch: Database.Statement;
  private readonly count: Database.Statement;
  private readonly url: string;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private spooledCount: number;
  private readonly s = { sent: 0, rejected: 0, dropped: 0, failedAttempts: 0 };

  constructor(private readonly opts: ForwarderOptions) {
    makeDirs(dirname(opts.spoolPath));
    this.db = new Database(opts.spoolPath);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.exec("CREATE TABLE IF NOT EXISTS spool (id INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT NOT NULL)");
    this.insert = this.db.prepare("INSERT INTO spool (body) VALUES (?)");
    this.batch = this.db.prepare("SELECT id, body FROM spool ORDER BY id LIMIT ?");
    this.count = this.db.prepare("SELECT count(*) AS n FROM spool");
    this.spooledCount = (this.count.get() as { n: number }).n;
    this.url = new URL("/", opts.routerUrl).toString();
  }

  /** Spools one alert (synchronously durable); the sender delivers it. */
  enqueue(alert: DetectorAlert): void {
    const n = normalizeAlert(alert);
    if (!n.ok) {
      this.opts.logger.error({ rule: alert.rule, field: n.error.field }, `detector produced an invalid alert: ${n.error.message}`);
      return;
    }
    const max = this.opts.maxSpooled ?? 100_000;
    if (this.spooledCount >= max) {
      const drop = this.spooledCount - max + 1;
      this.db.prepare("DELETE FROM spool WHERE id IN (SELECT id FROM spool ORDER BY id LIMIT ?)").run(drop);
      this.spooledCount -= drop;
      this.s.dropped += drop;
      this.opts.logger.warn({ dropped: drop, max }, "detector spool full: oldest alerts dropped");
    }
    this.insert.run(JSON.stringify(n.alert));
    this.spooledCount++;
    this.wake?.();
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops sending; alerts still spooled stay for the next start. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.db.close();
  }

  stats(): ForwarderStats {
    return { spooled: this.spooledCount, ...this.s };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        if (this.sleepTimer) clearTimeout(this.sleepTimer);
        this.wake = undefined;
        resolve();
      };
      this.sleepTimer = setTimeout(() => this.wake?.(), ms);
    });
  }

  private async run(): Promise<void> {
    const initial = this.opts.initialBackoffMs ?? 500;
    let backoff = initial;
    while (this.running) {
      const rows = this.batch.all(this.opts.batchSize ?? 500) as { id: number; body: string }[];
      if (rows.length === 0) {
        await this.sleep(1000);
        continue;
      }
      const outcome = await this.send(rows.map((r) => r.body));
      if (outcome === "ok" || outcome === "rejected") {
        const del = this.db.prepare(`DELETE FROM spool WHERE id IN (${rows.map(() => "?").join(",")})`);
        del.run(...rows.map((r) => r.id));
        this.spooledCount -= rows.length;
        if (outcome === "ok") this.s.sent += rows.length;
        else this.s.rejected += rows.length;
        backoff = initial;
        continue;
      }
      this.s.failedAttempts++;
      await this.sleep(backoff);
      backoff = Math.min(backoff * 2, this.opts.maxBackoffMs ?? 30_000);
    }
  }

  /** ok: delivered; rejected: the router will never take these (logged); retry: try again later. */
  private async send(bodies: string[]): Promise<"ok" | "rejected" | "retry"> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    if (this.opts.token) headers.authorization = `Bearer ${this.opts.token}`;
    try {
      const res = await request(this.url, { method: "POST", headers, body: `[${bodies.join(",")}]`, headersTimeout: 10_000, bodyTimeout: 10_000 });
      const text = await res.body.text();
      if (res.statusCode >= 200 && res.statusCode < 300) return "ok";
      if (res.statusCode === 400 || res.statusCode === 413 || res.statusCode === 415) {
        if (bodies.length > 1) {
          // one bad alert must not block the others: send them one by one
          let result: "ok" | "rejected" | "retry" = "ok";
          for (const b of bodies) {
            const r = await this.send([b]);
            if (r === "retry") return "retry";
            if (r === "rejected") result = "rejected";
          }
          return result;
        }
        this.opts.logger.error({ status: res.statusCode, answer: text.slice(0, 300) }, "router rejected a detector alert; dropped");
        return "rejected";
      }
      this.opts.logger.warn({ status: res.statusCode }, "router did not accept detector alerts; retrying");
      return "retry";
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, "router unreachable; detector alerts stay spooled");
      return "retry";
    }
  }
}
