/**
 * Reads back what reached the log store (VictoriaLogs's LogsQL API), for tests of the Loki
 * output. `tenant` is Loki's X-Scope-OrgID as VictoriaLogs maps it ("7" or "7:1").
 */
import { Agent, request, type Dispatcher } from "undici";
import { certs } from "./certs.js";
import { LOGS } from "./endpoints.js";
import { readFileSync } from "node:fs";

export interface LogRow {
  _msg: string;
  _time: string;
  _stream: string;
  [field: string]: string;
}

export interface QueryOptions {
  tenant?: string;
  /** Query the TLS + basic-auth instance instead of the plain one. */
  auth?: boolean;
  limit?: number;
}

let tlsAgent: Dispatcher | undefined;

function target(opts: QueryOptions): { base: string; headers: Record<string, string>; dispatcher?: Dispatcher } {
  const headers: Record<string, string> = {};
  if (opts.tenant !== undefined) {
    const [account, project] = opts.tenant.split(":");
    headers.accountid = account!;
    if (project !== undefined) headers.projectid = project;
  }
  if (!opts.auth) return { base: LOGS.url, headers };
  tlsAgent ??= new Agent({ connect: { ca: readFileSync(certs.caCert) } });
  headers.authorization = `Basic ${Buffer.from(`${LOGS.username}:${LOGS.password}`).toString("base64")}`;
  return { base: LOGS.authUrl, headers, dispatcher: tlsAgent };
}

async function logsql(query: string, opts: QueryOptions): Promise<Record<string, string>[]> {
  const t = target(opts);
  const body = new URLSearchParams({ query });
  if (opts.limit !== undefined) body.set("limit", String(opts.limit));
  const res = await request(`${t.base}/select/logsql/query`, {
    method: "POST",
    headers: { ...t.headers, "content-type": "application/x-www-form-urlencoded" },
    body: body.toString(),
    ...(t.dispatcher ? { dispatcher: t.dispatcher } : {}),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`LogsQL query failed (HTTP ${res.statusCode}): ${text}`);
  return text
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => JSON.parse(l) as Record<string, string>);
}

/** Rows matching a LogsQL query, e.g. `{run="abc"}` (a Loki-style stream selector). */
export async function queryLogs(query: string, opts: QueryOptions = {}): Promise<LogRow[]> {
  return (await logsql(query, { limit: 100_000, ...opts })) as LogRow[];
}

/** How many lines match (duplicates counted). */
export async function countLogs(query: string, opts: QueryOptions = {}): Promise<number> {
  const rows = await logsql(`${query} | stats count() as n`, opts);
  return rows.length === 0 ? 0 : Number(rows[0]!.n);
}

/** Polls until at least `expected` lines match or `timeoutMs` passes; returns the last count. */
export async function waitForLogCount(
  query: string,
  expected: number,
  opts: QueryOptions & { timeoutMs?: number } = {},
): Promise<number> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    const n = await countLogs(query, opts);
    if (n >= expected || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 250));
  }
}
