/**
 * Two routers, one journal (issue 23, finding 5): nothing stopped a second router on the
 * same storage.path, and with other outputs it moved the first one's live backlog to the
 * dead-letter store (2,950 of 8,000 acknowledged alerts never reached their output). The
 * second must exit 3 with STORAGE_LOCKED naming the holder's pid and touch nothing; a lock
 * left by a router that died is taken over.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { Receiver, freePort } from "../harness/receiver.js";
import { makeAlert, startRouter, waitUntil } from "../harness/router-process.js";
import { countingBehavior, missing, startRouterIn, webhookOutput } from "./helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const ALERTS = 8000;

describe("reliability: two routers on one storage.path", () => {
  it("the second exits 3 with STORAGE_LOCKED naming the first one's pid, and the first one's backlog is untouched", async () => {
    const port = await freePort();
    const receiver = new Receiver();
    receiver.port = port; // down: the backlog stays in the journal
    const { delivered } = countingBehavior(receiver);
    cleanups.push(() => receiver.stop());
    const first = await startRouterIn(cleanups, { config: { outputs: [webhookOutput(`http://127.0.0.1:${port}/`)] } });

    const acked: string[] = [];
    for (let i = 0; i < ALERTS; i += 200) {
      const alerts = Array.from({ length: 200 }, (_, k) => makeAlert(i + k, { uuid: randomUUID() }));
      const res = await first.post(alerts);
      expect(res.status).toBe(200);
      acked.push(...alerts.map((a) => a.uuid as string));
    }

    // Another router on the same journal with other outputs: it would retire "hook".
    const second = await startRouter({
      dataDir: first.dataDir,
      waitReady: false,
      config: { outputs: [{ name: "other", type: "stdout" }] },
    });
    cleanups.push(() => second.kill());
    await waitUntil(() => second.proc.exitCode !== null, 60_000, "the second router to exit");
    const code = second.proc.exitCode;
    expect(code).toBe(3);
    const log = second.stderr.join("\n");
    expect(log).toContain("STORAGE_LOCKED");
    expect(log).toContain(`pid ${first.proc.pid}`);
    console.log(`two-routers: the second router exited ${code}: ${log.split("\n").find((l) => l.includes("STORAGE_LOCKED"))}`);

    // The first router still has its whole backlog, and nothing went to the dead letters.
    const outputs = (await first.get("/api/outputs")).json as { outputs: { name: string; queue_depth: number; dead_lettered: number }[] };
    expect(outputs.outputs.find((o) => o.name === "hook")?.queue_depth).toBe(ALERTS);
    const dead = (await first.get("/api/dead-letters")).json as { total: number };
    expect(dead.total).toBe(0);
    await receiver.start(port);
    await waitUntil(() => missing(acked, delivered).length === 0, 60_000, `all ${ALERTS} acknowledged alerts`).catch((err: Error) => {
      throw new Error(`${err.message}: ${missing(acked, delivered).length} missing`);
    });
  }, 180_000);

  it("a lock left by a router that was killed is taken over", async () => {
    const first = await startRouterIn(cleanups, { config: { outputs: [{ name: "out", type: "stdout" }] } });
    expect((await first.post(makeAlert(1, { uuid: randomUUID() }))).status).toBe(200);
    await first.kill(); // SIGKILL: no clean release
    const again = await startRouterIn(cleanups, { dataDir: first.dataDir, config: { outputs: [{ name: "out", type: "stdout" }] } });
    const health = await again.get("/healthz");
    expect(health.status).toBe(200);
    // And it holds the lock in turn.
    const third = await startRouter({ dataDir: first.dataDir, waitReady: false, config: { outputs: [{ name: "out", type: "stdout" }] } });
    cleanups.push(() => third.kill());
    await waitUntil(() => third.proc.exitCode !== null, 60_000, "the third router to exit");
    expect(third.proc.exitCode).toBe(3);
    expect(third.stderr.join("\n")).toContain(`pid ${again.proc.pid}`);
  }, 120_000);
});
