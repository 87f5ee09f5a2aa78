/**
 * A producer's retry is not delivered twice: the same alert (same uuid) posted again, in a
 * batch, concurrently, and after the router was killed and restarted, reaches the file
 * output once; every retry gets the first answer back, and the metric counts them.
 */
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { request } from "undici";
import { makeAlert, startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

function uuidsIn(file: string): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l.trim() !== "")
    .map((l) => (JSON.parse(l) as { uuid: string }).uuid);
}

describe("idempotent ingest (uuid)", () => {
  it("delivers an alert posted again with the same uuid once, across a restart, and remembers it across a kill", async () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-dedup-it-"));
    const out = join(dir, "alerts.ndjson");
    const dataDir = join(dir, "data");
    const config = { storage: { fsync: false }, outputs: [{ name: "file", type: "file", path: out, batch: { max_wait_ms: 10 } }] };
    let router: RouterProcess = await startRouter({ config, dataDir });
    cleanups.push(() => router.kill());
    const uuid = randomUUID();
    const alert = makeAlert(1, { uuid });
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push(await router.post(alert));
    answers.push(...(await Promise.all(Array.from({ length: 5 }, () => router.post(alert)))));
    for (const a of answers) expect(a).toEqual({ status: 200, json: { uuid } });
    const batch = await router.post([alert, makeAlert(2, { uuid: randomUUID() })]);
    expect(batch.status).toBe(200);
    expect((batch.json as { uuids: string[] }).uuids[0]).toBe(uuid);
    await waitUntil(() => uuidsIn(out).length >= 2, 60_000, "both alerts at the file output");
    const metrics = await request(`${router.url}/metrics`).then((r) => r.body.text());
    expect(metrics).toMatch(/^peregrine_ingest_duplicates_total 8$/m);

    // The producer did not see an answer and retries after the router restarted.
    expect(await router.stop("SIGTERM")).toBe(0);
    router = await startRouter({ config, dataDir });
    cleanups.push(() => router.kill());
    expect(await router.post(alert)).toEqual({ status: 200, json: { uuid } });
    // A later alert arrives after anything the retry could have caused.
    const sentinel = randomUUID();
    expect((await router.post(makeAlert(3, { uuid: sentinel }))).status).toBe(200);
    await waitUntil(() => uuidsIn(out).includes(sentinel), 60_000, "the sentinel at the file output");
    const delivered = uuidsIn(out);
    expect(delivered.filter((u) => u === uuid)).toHaveLength(1);
    expect(delivered).toHaveLength(3);

    // Killed outright, the router still knows the uuid when it comes back: the record was
    // written before the first answer. (The file is not counted here: a kill may make the
    // output see an alert again, at least once, whatever ingest did.)
    await router.kill();
    router = await startRouter({ config, dataDir });
    cleanups.push(() => router.kill());
    expect(await router.post(alert)).toEqual({ status: 200, json: { uuid } });
    const after = await request(`${router.url}/metrics`).then((r) => r.body.text());
    expect(after).toMatch(/^peregrine_ingest_duplicates_total 1$/m);
  }, 180_000);
});
