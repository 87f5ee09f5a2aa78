/**
 * Shared pieces of the reliability suite: scale (CI vs PEREGRINE_LONG=1), a flood client
 * that remembers exactly which alerts the router acknowledged, a receiver that counts only
 * what it answered 200 to, and /proc samplers for RSS and the journal's size on disk.
 */
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { Pool } from "undici";
import type { ReceivedRequest, Receiver } from "../harness/receiver.js";
import { makeAlert, startRouter, type RouterProcess, type StartRouterOptions } from "../harness/router-process.js";

/** PEREGRINE_LONG=1 runs the long versions (minutes); the default fits CI on two cores. */
export const LONG = process.env.PEREGRINE_LONG === "1";

/** Picks the CI or the long value. */
export function scale<T>(ci: T, long: T): T {
  return LONG ? long : ci;
}

export function rssBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Bytes of the journal's files (database, WAL, shared memory) on disk. */
export function journalBytesOnDisk(dataDir: string): number {
  if (!existsSync(dataDir)) return 0;
  let total = 0;
  for (const name of readdirSync(dataDir)) if (name.startsWith("journal.db")) total += statSync(join(dataDir, name)).size;
  return total;
}

export const MiB = 1024 * 1024;

/** Samples a value every `everyMs` until stopped. */
export function sampler(read: () => number | undefined, everyMs = 250): { samples: { at: number; value: number }[]; stop(): void } {
  const samples: { at: number; value: number }[] = [];
  const take = () => {
    const v = read();
    if (v !== undefined) samples.push({ at: Date.now(), value: v });
  };
  take();
  const timer = setInterval(take, everyMs);
  return { samples, stop: () => (clearInterval(timer), take()) };
}

/**
 * Makes the receiver answer per `decide` and records the alerts of every request it
 * answered 200, in arrival order: those, and only those, count as delivered.
 */
export function countingBehavior(
  receiver: Receiver,
  decide: (req: ReceivedRequest) => number | "hang" | { status: number; headers: Record<string, string> } = () => 200,
): { delivered: string[]; deliveredN: number[]; deliveredSet: Set<string> } {
  const delivered: string[] = [];
  const deliveredN: number[] = [];
  const deliveredSet = new Set<string>();
  receiver.behavior = (req) => {
    const decided = decide(req);
    if (decided === "hang") return "hang";
    const verdict = typeof decided === "number" ? decided : decided.status;
    const headers = typeof decided === "number" ? {} : decided.headers;
    if (verdict === 200 && req.body !== "") {
      const v = JSON.parse(req.body) as unknown;
      for (const a of (Array.isArray(v) ? v : [v]) as { uuid: string; output_fields?: { n?: number } }[]) {
        delivered.push(a.uuid);
        deliveredSet.add(a.uuid);
        deliveredN.push(Number(a.output_fields?.n));
      }
    }
    return { status: verdict, headers };
  };
  return { delivered, deliveredN, deliveredSet };
}

/**
 * A cheap, repeatable "has everything in `expected` arrived?" for large runs: it walks
 * `expected` once overall, resuming where the last call stopped, instead of rebuilding sets
 * on every poll (the receiver shares this event loop). Returns how many are still missing
 * at the first gap (0 when all arrived).
 */
export function arrivalTracker(expected: readonly string[], got: Set<string>): () => number {
  let cursor = 0;
  return () => {
    while (cursor < expected.length && got.has(expected[cursor]!)) cursor++;
    return expected.length - cursor;
  };
}

export interface Flood {
  /** uuids the router answered 200 for. */
  acked: Set<string>;
  /** Requests that got another status, or no answer (connection reset by a kill). */
  refused: number;
  statuses: Map<number, number>;
  /** Stops the flood; resolves once every request in flight settled. */
  stop(): Promise<void>;
}

/**
 * Posts alerts as fast as `connections` parallel clients can, each request a batch of
 * `batch` alerts carrying uuids chosen here (the router keeps a producer's uuid), so that
 * exactly the acknowledged ones can be checked at the receiver. `target()` is read before
 * each request, so the flood follows a router restarted on another port.
 */
export function flood(target: () => string, options: { connections?: number; batch?: number; pauseMs?: number } = {}): Flood {
  const connections = options.connections ?? 8;
  const batch = options.batch ?? 10;
  const acked = new Set<string>();
  const statuses = new Map<number, number>();
  const pools = new Map<string, Pool>();
  let refused = 0;
  let running = true;
  let n = 0;
  const pool = (url: string): Pool => {
    let p = pools.get(url);
    if (!p) pools.set(url, (p = new Pool(url, { connections, headersTimeout: 30_000, bodyTimeout: 30_000 })));
    return p;
  };
  const worker = async (): Promise<void> => {
    while (running) {
      const alerts = Array.from({ length: batch }, () => makeAlert(n, { uuid: randomUUID(), output_fields: { n: n++ } }));
      try {
        const res = await pool(target()).request({ path: "/", method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(alerts) });
        await res.body.dump();
        statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
        if (res.statusCode === 200) for (const a of alerts) acked.add(a.uuid as string);
        else refused++;
      } catch {
        refused++;
        await new Promise((r) => setTimeout(r, 20));
      }
      if (options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs));
    }
  };
  const workers = Array.from({ length: connections }, () => worker());
  return {
    acked,
    statuses,
    get refused() {
      return refused;
    },
    async stop() {
      running = false;
      await Promise.all(workers);
      await Promise.all([...pools.values()].map((p) => p.destroy()));
    },
  };
}

/** uuids in `expected` that `got` lacks. */
export function missing(expected: Iterable<string>, got: Iterable<string>): string[] {
  const have = new Set(got);
  const out: string[] = [];
  for (const u of expected) if (!have.has(u)) out.push(u);
  return out;
}

export function webhookOutput(url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "hook",
    type: "webhook",
    url,
    // Short backoff and circuit: recovery within a second or two keeps the suite quick.
    retry: { initial_ms: 50, max_ms: 500 },
    circuit: { failure_threshold: 5, open_ms: 500 },
    timeout_ms: 2000,
    ...extra,
  };
}

/**
 * Starts the real router and registers its removal: killed, then its directory (config, and
 * the journal unless `dataDir` points elsewhere) deleted, so runs leave no journals behind.
 */
export async function startRouterIn(cleanups: (() => Promise<unknown>)[], options: StartRouterOptions): Promise<RouterProcess> {
  const rp = await startRouter(options);
  cleanups.push(async () => {
    await rp.kill();
    rmSync(dirname(rp.configFile), { recursive: true, force: true });
  });
  return rp;
}
