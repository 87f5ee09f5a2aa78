/**
 * Crash loop on a full disk (issue 23, findings 1 and 8): with the disk full and an output
 * answering 4xx, writing the dead letter threw SQLITE_FULL out of the lane worker and the
 * process exited 1, again within 1.3 s of every restart; /healthz said 200 "ok" and
 * writable: true while every write failed, and each refused request logged an error line.
 *
 * Now no journal write kills the router: dead letters the disk refuses wait (their alerts stay
 * pending in the journal) and are retried; /healthz answers 503 with writable: false and the
 * reason; the failure is logged once, not per request; once space is freed everything
 * acknowledged is in the dead-letter store and ingest accepts again.
 *
 * The journal lives on a 4 MiB tmpfs: needs root (mount); skipped, saying so, where mounting
 * is not allowed.
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Receiver, freePort } from "../harness/receiver.js";
import { makeAlert, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { startRouterIn } from "./helpers.js";

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

interface Health {
  status: string;
  journal: { writable: boolean };
  problems: { code: string; message: string }[];
}

async function health(router: RouterProcess): Promise<{ status: number; body: Health }> {
  const r = await router.get("/healthz");
  return { status: r.status, body: r.json as Health };
}

/** Error lines (pino level 50) about journal writes. */
const writeErrorLines = (router: RouterProcess) => router.stderr.filter((l) => l.includes('"level":50') && /journal write/.test(l)).length;

describe("reliability: a full disk and an output that rejects (dead letters)", () => {
  it.skipIf(!canMount)("the router neither crashes nor crash-loops, health says why, refusals are logged once, and every acknowledged alert ends in the dead-letter store", async () => {
    const mountDir = mkdtempSync(join(tmpdir(), "peregrine-full-disk-dl-"));
    expect(tryMount(mountDir, 4)).toBe(true);
    cleanups.push(async () => {
      spawnSync("umount", ["-l", mountDir]);
      rmSync(mountDir, { recursive: true, force: true });
    });
    const port = await freePort();
    const receiver = new Receiver();
    // 4xx: every alert is refused for good and goes to the dead-letter store.
    receiver.behavior = () => ({ status: 400 });
    await receiver.start(port);
    cleanups.push(() => receiver.stop());
    const config = {
      storage: { max_bytes: "1GiB" }, // far above the disk: the disk fills first
      outputs: [
        {
          name: "hook",
          type: "webhook",
          url: `http://127.0.0.1:${port}/`,
          batch: { max_events: 100, max_wait_ms: 10 },
          // Slower than ingest, so a backlog is waiting to be dead-lettered when the disk fills.
          rate_limit: { per_second: 5, burst: 1 },
        },
      ],
    };
    const dataDir = join(mountDir, "data");
    const router = await startRouterIn(cleanups, { dataDir, config });

    const acked: string[] = [];
    let refusal: { status: number; json: unknown } | undefined;
    for (let i = 0; i < 2000 && !refusal; i++) {
      const alerts = Array.from({ length: 100 }, (_, k) => makeAlert(i * 100 + k, { uuid: randomUUID() }));
      const r = await router.post(alerts);
      if (r.status === 200) acked.push(...alerts.map((a) => a.uuid as string));
      else refusal = r;
    }
    expect(refusal, "the disk never filled").toBeDefined();
    expect(refusal!.status).toBe(503);
    expect((refusal!.json as { error: { code: string } }).error.code).toBe("STORAGE_WRITE_FAILED");
    const sentAtFull = receiver.requests.length;
    console.log(`full-disk-dead-letters: ${acked.length} alerts acknowledged before the 4 MiB volume filled`);

    // The lane keeps sending and the dead letters cannot be written: the router stays up.
    await waitUntil(() => receiver.requests.length >= sentAtFull + 5 || router.proc.exitCode !== null, 60_000, "the lane to keep sending while the disk is full");
    expect(router.proc.exitCode).toBeNull();
    let h = await health(router);
    await waitUntil(
      async () => {
        h = await health(router);
        return h.status === 503 && !h.body.journal.writable;
      },
      30_000,
      "/healthz to say the journal is not writable",
    );
    expect(h.body.status).toBe("unavailable");
    expect(h.body.problems[0]?.code).toBe("STORAGE_WRITE_FAILED");
    console.log(`full-disk-dead-letters: /healthz ${h.status}: ${h.body.problems[0]?.message}`);

    // Refused requests: each answered 503, but logged once for the episode, not per request.
    const linesBefore = writeErrorLines(router);
    for (let i = 0; i < 30; i++) {
      const r = await router.post([makeAlert(i, { uuid: randomUUID() })]);
      expect(r.status).toBe(503);
    }
    expect(writeErrorLines(router) - linesBefore).toBe(0);
    expect(writeErrorLines(router)).toBeLessThanOrEqual(1);
    expect(router.proc.exitCode).toBeNull();

    // A restart on the still-full disk: it starts, resumes, and stays up (no crash loop).
    await router.kill();
    const again = await startRouterIn(cleanups, { dataDir, config });
    const sentAtRestart = receiver.requests.length;
    await waitUntil(() => receiver.requests.length >= sentAtRestart + 5 || again.proc.exitCode !== null, 60_000, "the restarted lane to send");
    await waitUntil(async () => (await health(again)).status === 503 || again.proc.exitCode !== null, 30_000, "the restarted router to see the full disk");
    expect(again.proc.exitCode).toBeNull();

    // Space is freed: health recovers by itself and every acknowledged alert is a dead letter.
    expect(spawnSync("mount", ["-o", "remount,size=64m", mountDir]).status).toBe(0);
    await waitUntil(async () => (await health(again)).status === 200, 60_000, "/healthz to recover once space is freed");
    const deadUuids = async () => {
      const r = (await again.get("/api/dead-letters?limit=10000")).json as { dead_letters: { uuid: string }[]; total: number };
      return { total: r.total, uuids: new Set(r.dead_letters.map((d) => d.uuid)) };
    };
    await waitUntil(async () => (await deadUuids()).total >= acked.length, 120_000, `all ${acked.length} acknowledged alerts in the dead-letter store`).catch(
      async (err: Error) => {
        throw new Error(`${err.message}: ${(await deadUuids()).total} there`);
      },
    );
    const dead = await deadUuids();
    expect(acked.filter((u) => !dead.uuids.has(u))).toEqual([]);
    expect(dead.total).toBe(acked.length); // each once
    expect((await again.post([makeAlert(1, { uuid: randomUUID() })])).status).toBe(200);
    expect(again.stderr.some((l) => l.includes("journal writes succeed again"))).toBe(true);
  }, 300_000);
});
