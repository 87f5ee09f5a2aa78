import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { UuidDedup } from "../../src/ingest/dedup.js";

const alert = (uuid: string): Alert => ({ uuid, time: "2024-01-01T00:00:00Z", priority: "Notice", rule: "r", output: "o", output_fields: {}, source: "syscall", tags: [], hostname: "h" });
const open = () => new UuidDedup(mkdtempSync(join(tmpdir(), "peregrine-dedup-")), 3_600_000, pino({ level: "silent" }));
const all = (n: number) => Array.from({ length: n }, () => true);

describe("uuid dedup", () => {
  it("a request with a uuid another one is journaling waits for its outcome: a retry once committed, new again if refused", async () => {
    const dedup = open();
    const a = await dedup.claim([alert("11111111-1111-4111-8111-111111111111")], all(1));
    expect(a.alerts).toHaveLength(1);
    let settled = false;
    const b = dedup.claim([alert("11111111-1111-4111-8111-111111111111")], all(1)).then((c) => ((settled = true), c));
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    a.commit(a.alerts);
    a.release();
    const claimB = await b;
    expect(claimB).toMatchObject({ alerts: [], duplicates: 1 });
    claimB.release();
    // Refused by the journal: released without commit, the uuid is new to the next request.
    const c = await dedup.claim([alert("22222222-2222-4222-8222-222222222222")], all(1));
    const d = dedup.claim([alert("22222222-2222-4222-8222-222222222222")], all(1));
    c.release();
    expect((await d).alerts).toHaveLength(1);
    dedup.close();
  });

  it("large batches sharing uuids in opposite orders, at once, never wait on each other; each uuid is taken once", async () => {
    const dedup = open();
    const uuids = Array.from({ length: 1500 }, () => randomUUID());
    const forward = uuids.map(alert);
    const backward = [...forward].reverse();
    const claims = await Promise.all([dedup.claim(forward, all(1500)), dedup.claim(backward, all(1500)), dedup.claim(forward, all(1500))].map(async (p) => {
      const c = await p;
      // The journal takes a while: the others must wait for this outcome, then see retries.
      await new Promise((r) => setTimeout(r, 10));
      c.commit(c.alerts);
      c.release();
      return c;
    }));
    const taken = claims.flatMap((c) => c.alerts.map((a) => a.uuid));
    expect(new Set(taken).size).toBe(1500);
    expect(taken).toHaveLength(1500);
    expect(claims.reduce((n, c) => n + c.duplicates, 0)).toBe(3000);
    dedup.close();
  }, 60_000);
});
