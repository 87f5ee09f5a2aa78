/**
 * An output that accepts the connection and never answers: the lane must cut the send at the
 * output's timeout_ms and try again, whatever the garbage collector does meanwhile. Alerts
 * keep arriving during the hang, so the router allocates (and collects) as it would in
 * production.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Pool } from "undici";
import { Receiver } from "../harness/receiver.js";
import { makeAlert, waitUntil } from "../harness/router-process.js";
import { countingBehavior, startRouterIn } from "./helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

describe("reliability: an output that never answers", () => {
  // Regression test: the send's deadline was AbortSignal.any([stop, AbortSignal.timeout()]),
  // whose timeout Node 20 can garbage-collect (Node issue 57736); a hung send then never ended.
  it("cuts a hung send at timeout_ms and delivers the batch on the next try", async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    // The first delivery hangs forever; every later one succeeds.
    const { deliveredN } = countingBehavior(receiver, (req) => (receiver.requests.indexOf(req) === 0 ? "hang" : 200));
    const router = await startRouterIn(cleanups, {
      config: {
        outputs: [{ name: "hook", type: "webhook", url: receiver.url, concurrency: 1, timeout_ms: 4000, retry: { initial_ms: 50, max_ms: 200 }, batch: { max_events: 100, max_wait_ms: 0 } }],
      },
    });
    cleanups.push(() => router.kill());

    const first = await router.post(makeAlert(0, { output_fields: { n: 0 } }));
    expect(first.status).toBe(200);
    await waitUntil(() => receiver.requests.length >= 1, 60_000, "the first (hung) delivery");
    // Ingest keeps the router allocating while the send hangs, as production traffic would.
    const pool = new Pool(router.url, { connections: 4 });
    cleanups.push(() => pool.destroy());
    let n = 1;
    // Big alerts for several seconds: what the router keeps (recent alerts, the lane's queue)
    // churns through the old generation, so full collections run during the hang.
    const padding = "x".repeat(2048);
    const until = Date.now() + 8000;
    while (Date.now() < until) {
      const alerts = Array.from({ length: 200 }, () => makeAlert(n, { output: `alert ${n} ${padding}`, output_fields: { n: n++ } }));
      const res = await pool.request({ path: "/", method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(alerts) });
      await res.body.dump();
      expect(res.statusCode).toBe(200);
    }
    // 4 s after the hang began the send should have been cut and retried; allow far more.
    await waitUntil(() => deliveredN.includes(0), 60_000, "alert 0, whose first send hung, to be delivered on a retry");
    await waitUntil(() => new Set(deliveredN).size >= n, 30_000, `all ${n} alerts`);
  }, 60_000);
});
