/**
 * A journal that stops for good (issue 23, finding 2): alerts no output wanted were journaled
 * and collected only when some output acknowledged something. With a 2 MiB quota and an
 * output at minimum_priority: critical, 6,310 Notice alerts filled it and then every alert
 * got 503, Critical ones included, across restarts; 5.3 MiB was on disk for 2 MiB. Now an
 * alert no output wants costs nothing durable, a body goes with its last delivery (no
 * acknowledgement of another output needed), and the files stay within the quota.
 */
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { Receiver, freePort } from "../harness/receiver.js";
import { makeAlert, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { countingBehavior, journalBytesOnDisk, MiB, missing, startRouterIn, webhookOutput } from "./helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const QUOTA = 2 * MiB;
/** Well past the 6,310 that filled the quota before, and about three times the quota in JSON. */
const NOTICES = 20_000;

/** Posts `n` alerts of one priority in batches; returns the statuses seen and the uuids acknowledged. */
async function post(router: RouterProcess, n: number, priority: string): Promise<{ acked: string[]; statuses: Map<number, number> }> {
  const acked: string[] = [];
  const statuses = new Map<number, number>();
  for (let i = 0; i < n; i += 200) {
    const alerts = Array.from({ length: Math.min(200, n - i) }, (_, k) => makeAlert(i + k, { uuid: randomUUID(), priority }));
    const res = await router.post(alerts);
    statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
    if (res.status === 200) acked.push(...alerts.map((a) => a.uuid as string));
  }
  return { acked, statuses };
}

describe("reliability: alerts no output wants, and collection without acknowledgements", () => {
  it(`${NOTICES} Notice alerts under a 2 MiB quota with an output at minimum_priority: critical: all 200, Critical ones still accepted, across a restart`, async () => {
    const port = await freePort();
    const receiver = new Receiver();
    const { delivered } = countingBehavior(receiver);
    await receiver.start(port);
    cleanups.push(() => receiver.stop());
    const config = { storage: { max_bytes: QUOTA }, outputs: [webhookOutput(`http://127.0.0.1:${port}/`, { minimum_priority: "critical" })] };
    const router = await startRouterIn(cleanups, { config });

    const notices = await post(router, NOTICES, "Notice");
    expect(Object.fromEntries(notices.statuses)).toEqual({ 200: NOTICES / 200 });
    const critical = await post(router, 400, "Critical");
    expect(Object.fromEntries(critical.statuses)).toEqual({ 200: 2 });
    await waitUntil(() => missing(critical.acked, delivered).length === 0, 60_000, "the Critical alerts");
    expect(delivered.filter((u) => notices.acked.includes(u))).toEqual([]);
    const onDisk = journalBytesOnDisk(router.dataDir);
    console.log(`journal-unwanted: ${NOTICES} Notice alerts accepted and not stored; journal ${(onDisk / MiB).toFixed(2)} MiB on disk, quota 2 MiB`);
    expect(onDisk).toBeLessThanOrEqual(QUOTA);

    expect(await router.stop("SIGTERM")).toBe(0);
    const again = await startRouterIn(cleanups, { dataDir: router.dataDir, config });
    const more = await post(again, 4000, "Notice");
    expect(Object.fromEntries(more.statuses)).toEqual({ 200: 20 });
    const after = await post(again, 200, "Critical");
    expect(Object.fromEntries(after.statuses)).toEqual({ 200: 1 });
    await waitUntil(() => missing(after.acked, delivered).length === 0, 60_000, "the Critical alerts after the restart");
    expect((await again.get("/healthz")).status).toBe(200);
  }, 240_000);

  it("an output holding one old alert does not keep the bodies another output delivered: the 2 MiB quota is never reached", async () => {
    const port = await freePort();
    const receiver = new Receiver();
    const { delivered } = countingBehavior(receiver);
    await receiver.start(port);
    cleanups.push(() => receiver.stop());
    const nobody = await freePort(); // nothing listens: "stuck" keeps its one alert pending
    const config = {
      storage: { max_bytes: QUOTA },
      outputs: [
        webhookOutput(`http://127.0.0.1:${nobody}/`, { name: "stuck", minimum_priority: "critical" }),
        webhookOutput(`http://127.0.0.1:${port}/`, { name: "live" }),
      ],
    };
    const router = await startRouterIn(cleanups, { config });
    const first = await post(router, 1, "Critical");
    expect(first.acked).toHaveLength(1);

    // Delivered as they come: each batch is acknowledged by "live" before the next is posted
    // (at most a few thousand bodies wait at a time, far below the quota).
    const notices: string[] = [];
    for (let round = 0; round < NOTICES / 2000; round++) {
      const r = await post(router, 2000, "Notice");
      expect(Object.fromEntries(r.statuses)).toEqual({ 200: 10 });
      notices.push(...r.acked);
      await waitUntil(() => missing(r.acked, delivered).length === 0, 60_000, `round ${round} delivered`);
    }
    const onDisk = journalBytesOnDisk(router.dataDir);
    console.log(`journal-unwanted: ${NOTICES} alerts delivered past one pending on another output; journal ${(onDisk / MiB).toFixed(2)} MiB on disk`);
    expect(onDisk).toBeLessThanOrEqual(QUOTA);
    const outputs = (await router.get("/api/outputs")).json as { outputs: { name: string; queue_depth: number }[] };
    expect(outputs.outputs.find((o) => o.name === "stuck")?.queue_depth).toBe(1);
  }, 240_000);
});
