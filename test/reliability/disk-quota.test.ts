/**
 * The journal's disk quota: with the output down and storage.max_bytes small, ingest ends
 * up answering 503 with Retry-After (never a 200 it cannot keep), and after the output
 * recovers nothing that was acknowledged is lost, and ingest accepts again.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { normalizeAlert, type Alert } from "../../src/alert.js";
import { SqliteJournal, StorageFullError } from "../../src/delivery/journal.js";
import { randomUUID } from "node:crypto";
import { request } from "undici";
import { Receiver, freePort } from "../harness/receiver.js";
import { makeAlert, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { countingBehavior, journalBytesOnDisk, MiB, missing, scale, startRouterIn } from "./helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const MAX_BYTES = scale(2, 16) * MiB;

async function post(url: string, alerts: Record<string, unknown>[]): Promise<{ status: number; retryAfter?: string; code?: string }> {
  const res = await request(`${url}/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(alerts) });
  const text = await res.body.text();
  const retryAfter = res.headers["retry-after"];
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  return { status: res.statusCode, ...(typeof retryAfter === "string" ? { retryAfter } : {}), ...(code ? { code } : {}) };
}

type Decide = Parameters<typeof countingBehavior>[1];

/** Router with a small quota and its output down, fed until ingest refuses; checks the refusal. */
async function fillToQuota(decide?: Decide): Promise<{ router: RouterProcess; receiver: Receiver; port: number; acked: string[]; delivered: string[]; next: () => number }> {
  const port = await freePort();
  const receiver = new Receiver();
  receiver.port = port; // down
  const { delivered } = countingBehavior(receiver, decide);
  cleanups.push(() => receiver.stop());
  const router = await startRouterIn(cleanups, {
    config: {
      storage: { max_bytes: MAX_BYTES },
      outputs: [
        {
          name: "hook",
          type: "webhook",
          url: `http://127.0.0.1:${port}/`,
          batch: { max_events: 500, max_wait_ms: 10 },
          retry: { initial_ms: 100, max_ms: 1000 },
          circuit: { open_ms: 1000 },
        },
      ],
    },
  });

  const acked: string[] = [];
  let full: { status: number; retryAfter?: string; code?: string } | undefined;
  let i = 0;
  // ~500 bytes an alert: the quota is reached within a few thousand alerts.
  for (let attempt = 0; attempt < 2000 && !full; attempt++) {
    const alerts = Array.from({ length: 100 }, () => makeAlert(i++, { uuid: randomUUID() }));
    const r = await post(router.url, alerts);
    if (r.status === 200) acked.push(...alerts.map((a) => a.uuid as string));
    else full = r;
  }
  expect(full, "the quota was never reached").toBeDefined();
  expect(full!.status).toBe(503);
  expect(full!.code).toBe("INGEST_STORAGE_FULL");
  expect(Number(full!.retryAfter)).toBeGreaterThan(0);
  expect(acked.length).toBeGreaterThan(0);

  // While full, every further request is refused as a whole (no half-accepted batch).
  for (let k = 0; k < 20; k++) {
    const alerts = Array.from({ length: 100 }, () => makeAlert(i++, { uuid: randomUUID() }));
    const r = await post(router.url, alerts);
    expect(r.status).toBe(503);
  }
  const health = await router.get("/healthz");
  expect(health.status).toBe(503);
  expect((health.json as { journal: { full: boolean } }).journal.full).toBe(true);
  // The quota holds on disk too (the WAL may overshoot the live pages by its checkpoint size).
  console.log(`disk-quota: ${acked.length} alerts acknowledged before 503; journal ${(journalBytesOnDisk(router.dataDir) / MiB).toFixed(1)} MiB on disk, quota ${MAX_BYTES / MiB} MiB`);

  return { router, receiver, port, acked, delivered, next: () => i++ };
}

describe("reliability: disk quota reached", () => {
  it(`answers 503 with Retry-After at storage.max_bytes (${MAX_BYTES / MiB} MiB) and loses nothing it acknowledged`, async () => {
    const { receiver, port, acked, delivered } = await fillToQuota();
    // Recovery: everything acknowledged arrives.
    await receiver.start(port);
    await waitUntil(() => missing(acked, delivered).length === 0, 60_000, `all ${acked.length} acknowledged alerts after recovery`);
  });

  // Regression test: delivered alerts were collected only inside a commit carrying acks, at most
  // once a second and with no trailing run, so a journal at its quota could stay "full" for good.
  it("a journal at its quota is no longer full once every alert in it is acknowledged", async () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-quota-journal-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const journal = new SqliteJournal({ dir, maxBytes: MAX_BYTES, fsync: false });
    cleanups.push(async () => journal.close());
    journal.track("hook");
    const seqs: number[] = [];
    // Up to the quota: the journal refuses the append that would pass it.
    for (let i = 0; ; i++) {
      const entries = await journal
        .append(Array.from({ length: 100 }, (_, k) => ({ alert: normalized(makeAlert(i * 100 + k, { uuid: randomUUID() })), outputs: ["hook"] })))
        .catch((err: unknown) => {
          if (err instanceof StorageFullError) return undefined;
          throw err;
        });
      if (!entries) break;
      seqs.push(...entries.map((e) => e.seq));
    }
    expect(journal.isFull()).toBe(true);
    // A first batch delivered, then the rest a moment later, as a lane drains a backlog.
    journal.ack("hook", seqs.slice(0, 500));
    await new Promise((r) => setTimeout(r, 100));
    journal.ack("hook", seqs.slice(500));
    await waitUntil(() => journal.pendingCount("hook") === 0, 60_000, "every ack committed");
    await waitUntil(() => !journal.isFull(), 60_000, "the journal to free the delivered alerts");
  });
});

function normalized(raw: Record<string, unknown>): Alert {
  const r = normalizeAlert(raw);
  if (!r.ok) throw new Error(`test alert invalid: ${r.error.message}`);
  return r.alert;
}
