/**
 * A graceful stop (SIGTERM, as on a rolling update) in the middle of a flood: the router
 * exits on its own, every alert it answered 200 for arrives after the next start, and
 * requests that came during the stop were refused (503 or no connection), never
 * acknowledged and dropped.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Receiver } from "../harness/receiver.js";
import { waitUntil, type RouterProcess } from "../harness/router-process.js";
import { arrivalTracker, countingBehavior, flood, missing, scale, startRouterIn, webhookOutput } from "./helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const STOPS = scale(2, 10);

describe("reliability: SIGTERM during a flood", () => {
  it(`exits cleanly and loses no acknowledged alert across ${STOPS} graceful stops`, async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    // The output is slow to recover: a backlog is still queued when each stop begins.
    let healthy = false;
    const { delivered, deliveredSet } = countingBehavior(receiver, () => (healthy || Math.floor(Date.now() / 500) % 2 === 0 ? 200 : 503));
    const config = {
      // A short drain, so that the stop leaves work in the journal for the next start.
      shutdown: { drain_ms: 300 },
      outputs: [webhookOutput(receiver.url, { batch: { max_events: 50, max_wait_ms: 5 }, concurrency: 2 })],
    };
    let router: RouterProcess = await startRouterIn(cleanups, { config });
    const dataDir = router.dataDir;
    cleanups.push(() => router.kill());
    const load = flood(() => router.url, { connections: 8, batch: 10, pauseMs: 5 });
    cleanups.push(() => load.stop());

    for (let k = 0; k < STOPS; k++) {
      await new Promise((r) => setTimeout(r, 2000));
      const code = await router.stop("SIGTERM", 30_000);
      expect(code, `exit code of graceful stop ${k + 1}`).toBe(0);
      router = await startRouterIn(cleanups, { config, dataDir });
    }
    await new Promise((r) => setTimeout(r, 1000));
    await load.stop();
    healthy = true;

    const acked = [...load.acked];
    expect(acked.length).toBeGreaterThan(1000);
    // Whatever was refused during the stops was refused with a status, or found no listener.
    for (const status of load.statuses.keys()) expect([200, 503]).toContain(status);
    const remaining = arrivalTracker(acked, deliveredSet);
    await waitUntil(() => remaining() === 0, Math.max(60_000, acked.length / 2), `all ${acked.length} acknowledged alerts`).catch((err: Error) => {
      throw new Error(`${err.message}: ${missing(acked, delivered).length} missing`);
    });
    const duplicates = delivered.length - new Set(delivered).size;
    console.log(`sigterm-flood: ${STOPS} stops, ${acked.length} acknowledged, 0 lost, ${duplicates} duplicates, statuses ${JSON.stringify(Object.fromEntries(load.statuses))}`);
  }, scale(120_000, 600_000));
});
