/**
 * A disk that is really full (ENOSPC), below the journal's own quota: the journal lives on a
 * small tmpfs. Ingest must refuse with 503 + Retry-After rather than acknowledge what it could
 * not write, every alert it did acknowledge must still arrive, and once space is freed (the
 * tmpfs grown, as an operator would) ingest must accept again.
 *
 * Needs root (mount); skipped, saying so, where mounting is not allowed.
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import Database from "better-sqlite3";
import { request } from "undici";
import { Receiver, freePort } from "../harness/receiver.js";
import { makeAlert, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { countingBehavior, missing, startRouterIn } from "./helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

function tryMount(dir: string, sizeMiB: number): boolean {
  if (process.getuid?.() !== 0) return false;
  return spawnSync("mount", ["-t", "tmpfs", "-o", `size=${sizeMiB}m`, "tmpfs", dir]).status === 0;
}

const probeDir = mkdtempSync(join(tmpdir(), "peregrine-mount-probe-"));
const canMount = tryMount(probeDir, 1);
if (canMount) spawnSync("umount", [probeDir]);
rmSync(probeDir, { recursive: true, force: true });

async function post(url: string, alerts: Record<string, unknown>[]): Promise<{ status: number; retryAfter?: string; code?: string }> {
  const res = await request(`${url}/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(alerts) });
  const text = await res.body.text();
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    code = undefined;
  }
  const retryAfter = res.headers["retry-after"];
  return { status: res.statusCode, ...(typeof retryAfter === "string" ? { retryAfter } : {}), ...(code ? { code } : {}) };
}

/** Router on a 4 MiB tmpfs, output down, ingest until the disk refuses; checks the refusal. */
async function fillTheDisk(): Promise<{ router: RouterProcess; receiver: Receiver; port: number; mountDir: string; acked: string[]; delivered: string[]; next: () => number }> {
    const mountDir = mkdtempSync(join(tmpdir(), "peregrine-full-disk-"));
    expect(tryMount(mountDir, 4)).toBe(true);
    cleanups.push(async () => {
      spawnSync("umount", ["-l", mountDir]);
      rmSync(mountDir, { recursive: true, force: true });
    });
    const port = await freePort();
    const receiver = new Receiver();
    receiver.port = port; // down
    const { delivered } = countingBehavior(receiver);
    cleanups.push(() => receiver.stop());
    const router = await startRouterIn(cleanups, {
      dataDir: join(mountDir, "data"),
      config: {
        // The quota is far above the disk: the disk fills first.
        storage: { max_bytes: "1GiB" },
        outputs: [{ name: "hook", type: "webhook", url: `http://127.0.0.1:${port}/`, batch: { max_events: 500, max_wait_ms: 10 }, retry: { initial_ms: 100, max_ms: 1000 }, circuit: { open_ms: 1000 } }],
      },
    });
    cleanups.push(() => router.kill());

    const acked: string[] = [];
    let refusal: { status: number; retryAfter?: string; code?: string } | undefined;
    let i = 0;
    for (let attempt = 0; attempt < 1000 && !refusal; attempt++) {
      const alerts = Array.from({ length: 100 }, () => makeAlert(i++, { uuid: randomUUID() }));
      const r = await post(router.url, alerts);
      if (r.status === 200) acked.push(...alerts.map((a) => a.uuid as string));
      else refusal = r;
    }
    expect(refusal, "the disk never filled").toBeDefined();
    console.log(`disk-full: ${acked.length} alerts acknowledged, then ${refusal!.status} ${refusal!.code ?? ""}`);
    expect(refusal!.status).toBe(503);
    expect(refusal!.code).toBe("STORAGE_WRITE_FAILED");
    expect(Number(refusal!.retryAfter)).toBeGreaterThan(0);
    // The router survives it.
    expect(router.proc.exitCode).toBeNull();
    expect((await router.get("/ping")).status).toBe(200);
  return { router, receiver, port, mountDir, acked, delivered, next: () => i++ };
}

describe("reliability: the disk itself is full (ENOSPC)", () => {
  it.skipIf(!canMount)("refuses with 503 instead of acknowledging, loses nothing acknowledged, and accepts again once space is freed", async () => {
    const { router, receiver, port, mountDir, acked, delivered, next } = await fillTheDisk();
    // The operator frees space; the output comes back: everything acknowledged arrives.
    expect(spawnSync("mount", ["-o", "remount,size=64m", mountDir]).status).toBe(0);
    await receiver.start(port);
    await waitUntil(() => missing(acked, delivered).length === 0, 60_000, `all ${acked.length} acknowledged alerts`).catch((err: Error) => {
      throw new Error(`${err.message}: ${missing(acked, delivered).length} missing`);
    });
    const late = makeAlert(next(), { uuid: randomUUID() });
    await waitUntil(async () => (await post(router.url, [late])).status === 200, 30_000, "ingest to accept again once space is freed");
    await waitUntil(() => delivered.includes(late.uuid as string), 60_000, "the alert accepted after space was freed");
  }, 120_000);

  it.skipIf(!canMount)("deliveries made while the disk was full are recorded in the journal once space is freed (no resend after a restart)", async () => {
    const { router, receiver, port, mountDir, acked, delivered } = await fillTheDisk();
    // The output drains the backlog while the disk is still full: the acks cannot commit yet.
    await receiver.start(port);
    await waitUntil(() => missing(acked, delivered).length === 0, 60_000, `all ${acked.length} acknowledged alerts`);
    expect(spawnSync("mount", ["-o", "remount,size=64m", mountDir]).status).toBe(0);
    const db = new Database(join(router.dataDir, "journal.db"), { readonly: true, fileMustExist: true });
    cleanups.push(async () => db.close());
    const pending = () => (db.prepare("SELECT COUNT(*) AS n FROM deliveries").get() as { n: number }).n;
    await waitUntil(() => pending() === 0, 60_000, "the journal to record every delivery").catch((err: Error) => {
      throw new Error(`${err.message}: ${pending()} of ${acked.length} delivered alerts still pending in the journal`);
    });
  }, 120_000);

  /*
   * KNOWN LIMIT (core, src/delivery/journal.ts): acks of a failed group commit are now kept and
   * retried alone (with a WAL checkpoint first), but on a disk with no byte left SQLite cannot
   * even log the deletes, so nothing is freed and ingest keeps answering 503 until space is
   * freed outside the router (the test above). Nothing is lost either way. The quota
   * (storage.max_bytes, below the disk's size) is what keeps a router away from this state.
   * `it.fails` keeps the reproduction; it turns red once the journal can recover in place.
   */
  it.skipIf(!canMount).fails("[known bug] accepts again once the output drained the backlog, without space being freed", async () => {
    const { router, receiver, port, acked, delivered, next } = await fillTheDisk();
    await receiver.start(port);
    await waitUntil(() => missing(acked, delivered).length === 0, 60_000, `all ${acked.length} acknowledged alerts`);
    const late = makeAlert(next(), { uuid: randomUUID() });
    await waitUntil(async () => (await post(router.url, [late])).status === 200, 60_000, "ingest to accept again once the backlog drained");
  }, 120_000);
});
