/**
 * An output that is down for a long time (CI: 20 s, PEREGRINE_LONG=1: 10 minutes) while
 * alerts keep coming: the backlog goes to the journal on disk, not to memory, and once the
 * output is back every alert arrives, in acceptance order (concurrency 1).
 */
import { afterEach, describe, expect, it } from "vitest";
import { Pool } from "undici";
import { Receiver, freePort } from "../harness/receiver.js";
import { makeAlert, waitUntil } from "../harness/router-process.js";
import { countingBehavior, journalBytesOnDisk, LONG, MiB, rssBytes, sampler, scale, startRouterIn } from "./helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const OUTAGE_MS = scale(20_000, 600_000);
/** Alerts per request and a pause between requests: a steady stream, not a flood. */
const BATCH = scale(50, 20);
const PAUSE_MS = scale(5, 20);
/** How far RSS may rise after the first quarter of the outage, while the journal keeps growing. */
const RSS_GROWTH_LIMIT = 64 * MiB;

describe("reliability: an output down for a long time", () => {
  it(`keeps memory bounded, grows the journal on disk, and delivers everything in order after ${OUTAGE_MS / 1000} s down`, async () => {
    const port = await freePort();
    const receiver = new Receiver();
    receiver.port = port; // not started: connection refused, the output is down
    const { deliveredN } = countingBehavior(receiver);
    cleanups.push(() => receiver.stop());
    const router = await startRouterIn(cleanups, {
      config: {
        outputs: [
          {
            name: "hook",
            type: "webhook",
            url: `http://127.0.0.1:${port}/`,
            concurrency: 1,
            batch: { max_events: 200, max_wait_ms: 10 },
            retry: { initial_ms: 100, max_ms: 1000 },
            circuit: { open_ms: 1000 },
          },
        ],
      },
    });
    cleanups.push(() => router.kill());
    const pid = router.proc.pid!;
    const rss = sampler(() => rssBytes(pid), 500);
    const disk = sampler(() => journalBytesOnDisk(router.dataDir), 500);

    // One client, one request at a time: acceptance order is the order sent (n ascending).
    const pool = new Pool(router.url, { connections: 1 });
    cleanups.push(() => pool.destroy());
    let sent = 0;
    const until = Date.now() + OUTAGE_MS;
    while (Date.now() < until) {
      const alerts = Array.from({ length: BATCH }, () => makeAlert(sent, { output_fields: { n: sent++ } }));
      const res = await pool.request({ path: "/", method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(alerts) });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
      await new Promise((r) => setTimeout(r, PAUSE_MS));
    }
    const health = (await router.get("/healthz")).json as { outputs: { name: string; queue_depth: number; delivered: number }[] };
    const hook = health.outputs.find((o) => o.name === "hook")!;
    expect(hook.delivered).toBe(0);
    expect(hook.queue_depth).toBe(sent);
    rss.stop();
    disk.stop();

    // Memory: after the first quarter, RSS stays within a fixed margin however much piles up.
    const quarter = rss.samples[Math.floor(rss.samples.length / 4)]!.value;
    const peak = Math.max(...rss.samples.map((s) => s.value));
    // Disk: the journal holds the backlog and grew through the outage.
    const diskFirst = disk.samples[Math.floor(disk.samples.length / 4)]!.value;
    const diskLast = disk.samples[disk.samples.length - 1]!.value;
    console.log(
      `output-down: ${sent} alerts in ${OUTAGE_MS / 1000} s; RSS ${(quarter / MiB).toFixed(0)} MiB at 1/4, peak ${(peak / MiB).toFixed(0)} MiB; journal ${(diskFirst / MiB).toFixed(1)} -> ${(diskLast / MiB).toFixed(1)} MiB on disk`,
    );
    expect(peak - quarter).toBeLessThan(RSS_GROWTH_LIMIT);
    expect(diskLast).toBeGreaterThan(diskFirst);
    // Long mode: the backlog on disk outgrows the whole memory margin, and memory still held.
    if (LONG) expect(diskLast - diskFirst).toBeGreaterThan(RSS_GROWTH_LIMIT);

    // Recovery: everything, in acceptance order.
    await receiver.start(port);
    await waitUntil(() => new Set(deliveredN).size >= sent, scale(120_000, 900_000), `all ${sent} alerts after recovery`);
    const firstSeen: number[] = [];
    const seen = new Set<number>();
    for (const n of deliveredN)
      if (!seen.has(n)) {
        seen.add(n);
        firstSeen.push(n);
      }
    expect(firstSeen.length).toBe(sent);
    for (let i = 0; i < firstSeen.length; i++) if (firstSeen[i] !== i) expect.fail(`out of order at position ${i}: alert ${firstSeen[i]} arrived where ${i} was due`);
  }, scale(180_000, 1_800_000));
});
