/**
 * The action journal: one row per (alert, rule, action), written and fsynced before an action
 * acts (its target recorded) and again with its outcome. It is what makes an action run at
 * most once per alert and rule across crashes: a row that is `started` or `failed` is run again
 * on its recorded target only; every other status is final.
 *
 * A SQLite file of its own (response.db beside the journal), so `peregrine response list`
 * reads it while the router runs (WAL readers never block the writer).
 */
import Database from "better-sqlite3";
import { join } from "node:path";
import { makeDirs } from "../fs-dirs.js";
import type { ActionTarget } from "./actionner.js";

export const STORE_FILE = "response.db";

/**
 * started: target recorded, about to act (or acting when the process died).
 * failed: the last attempt failed; run again on the recorded target when the alert comes back.
 * done, gone, refused, rate_limited, unresolved, dry_run: final.
 */
export type ActionStatus = "started" | "done" | "gone" | "failed" | "refused" | "rate_limited" | "unresolved" | "dry_run";

export const FINAL_STATUSES: ReadonlySet<ActionStatus> = new Set(["done", "gone", "refused", "rate_limited", "unresolved", "dry_run"]);

export interface ActionRecord {
  id: number;
  alert_uuid: string;
  alert_rule: string;
  alert_priority: string;
  alert_time: string;
  rule: string;
  /** Index of the action in the rule's list (two actions of one rule may share a name). */
  action_index: number;
  action: string;
  actionner: string;
  status: ActionStatus;
  target?: ActionTarget;
  parameters: Record<string, unknown>;
  message: string;
  code?: string;
  attempts: number;
  /** Objects created or changed, and artifacts written (`output:`), by kind. */
  objects?: Record<string, string>;
  created_at: number;
  started_at?: number;
  finished_at?: number;
  /** Epoch ms the alert was accepted, for latency. */
  accepted_at?: number;
}

interface Row {
  id: number;
  alert_uuid: string;
  alert_rule: string;
  alert_priority: string;
  alert_time: string;
  rule: string;
  action_index: number;
  action: string;
  actionner: string;
  status: ActionStatus;
  target: string | null;
  parameters: string;
  message: string;
  code: string | null;
  attempts: number;
  objects: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  accepted_at: number | null;
}

export interface ListFilter {
  status?: string;
  rule?: string;
  actionner?: string;
  alert?: string;
  limit?: number;
}

export class ActionStore {
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement;
  private readonly insertStmt: Database.Statement;
  private readonly updateStmt: Database.Statement;

  constructor(dir: string, options: { readonly?: boolean } = {}) {
    if (!options.readonly) makeDirs(dir);
    this.db = new Database(join(dir, STORE_FILE), options.readonly ? { readonly: true, fileMustExist: true } : {});
    if (!options.readonly) {
      this.db.pragma("journal_mode = WAL");
      // Every write is fsynced: "started" must be on disk before the action acts.
      this.db.pragma("synchronous = FULL");
      this.db.pragma("busy_timeout = 5000");
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS actions (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          alert_uuid TEXT NOT NULL,
          alert_rule TEXT NOT NULL,
          alert_priority TEXT NOT NULL,
          alert_time TEXT NOT NULL,
          rule TEXT NOT NULL,
          action_index INTEGER NOT NULL,
          action TEXT NOT NULL,
          actionner TEXT NOT NULL,
          status TEXT NOT NULL,
          target TEXT,
          parameters TEXT NOT NULL,
          message TEXT NOT NULL DEFAULT '',
          code TEXT,
          attempts INTEGER NOT NULL DEFAULT 0,
          objects TEXT,
          created_at INTEGER NOT NULL,
          started_at INTEGER,
          finished_at INTEGER,
          accepted_at INTEGER,
          UNIQUE (alert_uuid, rule, action_index)
        );
        CREATE INDEX IF NOT EXISTS actions_status ON actions (status);
      `);
    } else {
      this.db.pragma("busy_timeout = 5000");
    }
    this.getStmt = this.db.prepare("SELECT * FROM actions WHERE alert_uuid = ? AND rule = ? AND action_index = ?");
    this.insertStmt = options.readonly
      ? this.getStmt
      : this.db.prepare(
          `INSERT INTO actions (alert_uuid, alert_rule, alert_priority, alert_time, rule, action_index, action, actionner, status, target, parameters, message, code, attempts, objects, created_at, started_at, finished_at, accepted_at)
           VALUES (@alert_uuid, @alert_rule, @alert_priority, @alert_time, @rule, @action_index, @action, @actionner, @status, @target, @parameters, @message, @code, @attempts, @objects, @created_at, @started_at, @finished_at, @accepted_at)
           ON CONFLICT (alert_uuid, rule, action_index) DO UPDATE SET
             status = excluded.status, target = excluded.target, message = excluded.message, code = excluded.code,
             attempts = excluded.attempts, objects = excluded.objects, started_at = excluded.started_at, finished_at = excluded.finished_at`,
        );
    this.updateStmt = this.insertStmt;
  }

  get(alertUuid: string, rule: string, actionIndex: number): ActionRecord | undefined {
    const row = this.getStmt.get(alertUuid, rule, actionIndex) as Row | undefined;
    return row ? fromRow(row) : undefined;
  }

  /** Writes the record (insert or update by alert, rule and action index); durable on return. */
  put(r: Omit<ActionRecord, "id">): ActionRecord {
    this.updateStmt.run({
      alert_uuid: r.alert_uuid,
      alert_rule: r.alert_rule,
      alert_priority: r.alert_priority,
      alert_time: r.alert_time,
      rule: r.rule,
      action_index: r.action_index,
      action: r.action,
      actionner: r.actionner,
      status: r.status,
      target: r.target ? JSON.stringify(r.target) : null,
      parameters: JSON.stringify(r.parameters),
      message: r.message,
      code: r.code ?? null,
      attempts: r.attempts,
      objects: r.objects ? JSON.stringify(r.objects) : null,
      created_at: r.created_at,
      started_at: r.started_at ?? null,
      finished_at: r.finished_at ?? null,
      accepted_at: r.accepted_at ?? null,
    });
    return this.get(r.alert_uuid, r.rule, r.action_index)!;
  }

  /** Newest first. */
  list(filter: ListFilter = {}): ActionRecord[] {
    const where: string[] = [];
    const args: unknown[] = [];
    const add = (sql: string, value: string | undefined) => {
      if (!value) return;
      where.push(sql);
      args.push(value);
    };
    add("status = ?", filter.status);
    add("rule = ?", filter.rule);
    add("actionner = ?", filter.actionner);
    add("alert_uuid = ?", filter.alert);
    const sql = `SELECT * FROM actions ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`;
    args.push(Math.min(Math.max(filter.limit ?? 100, 1), 10_000));
    return (this.db.prepare(sql).all(...args) as Row[]).map(fromRow);
  }

  /** Actions by status. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const r of this.db.prepare("SELECT status, COUNT(*) AS n FROM actions GROUP BY status").all() as { status: string; n: number }[]) out[r.status] = r.n;
    return out;
  }

  close(): void {
    this.db.close();
  }
}

function fromRow(row: Row): ActionRecord {
  const r: ActionRecord = {
    id: row.id,
    alert_uuid: row.alert_uuid,
    alert_rule: row.alert_rule,
    alert_priority: row.alert_priority,
    alert_time: row.alert_time,
    rule: row.rule,
    action_index: row.action_index,
    action: row.action,
    actionner: row.actionner,
    status: row.status,
    parameters: JSON.parse(row.parameters) as Record<string, unknown>,
    message: row.message,
    attempts: row.attempts,
    created_at: row.created_at,
  };
  if (row.target) r.target = JSON.parse(row.target) as ActionTarget;
  if (row.code) r.code = row.code;
  if (row.objects) r.objects = JSON.parse(row.objects) as Record<string, string>;
  if (row.started_at !== null) r.started_at = row.started_at;
  if (row.finished_at !== null) r.finished_at = row.finished_at;
  if (row.accepted_at !== null) r.accepted_at = row.accepted_at;
  return r;
}
