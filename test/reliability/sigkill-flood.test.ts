/**
 * The promise behind "200 OK": an alert the router acknowledged reaches its output, even
 * when the router is SIGKILLed mid-flood while that output flaps between 200, 503 and hangs.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Receiver } from "../harness/receiver.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { countingBehavior, flood, missing, scale, webhookOutput } from "./helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const KILLS = scale(3, 20);
const FLOOD_MS_BETWEEN_KILLS = scale(2500, 10_000);

describe("reliability: SIGKILL during a flood, output flapping", () => {
  it(`loses no acknowledged alert across ${KILLS} SIGKILLs`, async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    // Flapping: 503 a third of the time, a hang now and then, else 200.
    let healthy = false;
    const { delivered } = countingBehavior(receiver, () => {
      if (healthy) return 200;
      const phase = Math.floor(Date.now() / 300) % 3;
      if (phase === 0) return 503;
      if (Math.random() < 0.02) return "hang";
      return 200;
    });
    const config = {
      outputs: [webhookOutput(receiver.url, { batch: { max_events: 50, max_wait_ms: 5 }, concurrency: 2, timeout_ms: 500 })],
    };
    let router: RouterProcess = await startRouter({ config });
    const dataDir = router.dataDir;
    cleanups.push(() => router.kill());
    const load = flood(() => router.url, { connections: 8, batch: 10 });
    cleanups.push(() => load.stop());

    for (let k = 0; k < KILLS; k++) {
      await new Promise((r) => setTimeout(r, FLOOD_MS_BETWEEN_KILLS));
      const ackedBefore = load.acked.size;
      await router.kill(); // SIGKILL, requests in flight get no answer
      expect(ackedBefore).toBeGreaterThan(0);
      router = await startRouter({ config, dataDir });
    }
    await new Promise((r) => setTimeout(r, 1000));
    await load.stop();
    healthy = true;

    const acked = [...load.acked];
    expect(acked.length).toBeGreaterThan(1000);
    await waitUntil(() => missing(acked, delivered).length === 0, 90_000, `all ${acked.length} acknowledged alerts at the receiver`).catch((err: Error) => {
      throw new Error(`${err.message}: ${missing(acked, delivered).length} missing`);
    });
    expect(missing(acked, delivered)).toEqual([]);
    // At-least-once: duplicates are allowed (a kill between send and ack), but they must stay rare.
    const duplicates = delivered.length - new Set(delivered).size;
    console.log(`sigkill-flood: ${KILLS} kills, ${acked.length} acknowledged, ${load.refused} refused or cut, 0 lost, ${duplicates} duplicates`);
    expect(duplicates).toBeLessThan(acked.length * 0.2);
  });
});
