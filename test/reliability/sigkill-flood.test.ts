/**
 * The promise behind "200 OK": an alert the router acknowledged reaches its output, even
 * when the router is SIGKILLed mid-flood while that output flaps between 200, 503 and hangs.
 */
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { Receiver } from "../harness/receiver.js";
import { waitUntil, type RouterProcess } from "../harness/router-process.js";
import { arrivalTracker, countingBehavior, flood, missing, scale, startRouterIn, webhookOutput } from "./helpers.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

const KILLS = scale(3, 20);
const FLOOD_MS_BETWEEN_KILLS = scale(2500, 10_000);
/** Clients pause between requests so that the backlog (and the drain) stays within the test's time. */
const PAUSE_MS = scale(5, 20);

describe("reliability: SIGKILL during a flood, output flapping", () => {
  it(`loses no acknowledged alert across ${KILLS} SIGKILLs`, async () => {
    const receiver = await new Receiver().start();
    cleanups.push(() => receiver.stop());
    // Flapping: 503 a third of the time, a hang now and then (cut by the 500 ms timeout), else 200.
    let healthy = false;
    const { delivered, deliveredSet } = countingBehavior(receiver, () => {
      if (healthy) return 200;
      if (Math.floor(Date.now() / 300) % 3 === 0) return 503;
      return Math.random() < 0.02 ? "hang" : 200;
    });
    const config = {
      outputs: [webhookOutput(receiver.url, { batch: { max_events: 50, max_wait_ms: 5 }, concurrency: 2, timeout_ms: 500 })],
    };
    let router: RouterProcess = await startRouterIn(cleanups, { config });
    const dataDir = router.dataDir;
    cleanups.push(() => router.kill());
    const load = flood(() => router.url, { connections: 8, batch: 10, pauseMs: PAUSE_MS });
    cleanups.push(() => load.stop());

    for (let k = 0; k < KILLS; k++) {
      await new Promise((r) => setTimeout(r, FLOOD_MS_BETWEEN_KILLS));
      const ackedBefore = load.acked.size;
      await router.kill(); // SIGKILL, requests in flight get no answer
      expect(ackedBefore).toBeGreaterThan(0);
      router = await startRouterIn(cleanups, { config, dataDir });
    }
    await new Promise((r) => setTimeout(r, 1000));
    await load.stop();
    healthy = true;

    /** What the journal and the router say about missing alerts, for a failure worth reading. */
    const diagnose = async (miss: string[]): Promise<string> => {
      const db = new Database(join(dataDir, "journal.db"), { readonly: true });
      const sample = miss.slice(0, 5).map((u) => {
        const a = db.prepare("SELECT seq FROM alerts WHERE uuid = ?").get(u) as { seq: number } | undefined;
        const pendingFor = a ? (db.prepare("SELECT output FROM deliveries WHERE seq = ?").all(a.seq) as { output: string }[]).map((d) => d.output) : [];
        const sent = receiver.requests.filter((r) => r.body.includes(u)).length;
        return `${u}: ${a ? `journal seq ${a.seq}, pending for [${pendingFor.join(", ")}]` : "not in the journal's alerts"}, in ${sent} request(s) to the receiver`;
      });
      db.close();
      const health = JSON.stringify((await router.get("/healthz")).json);
      const deadLetters = JSON.stringify((await router.get("/api/dead-letters?limit=3")).json);
      return [`${miss.length} missing`, ...sample, `healthz: ${health}`, `dead letters: ${deadLetters}`, "router log tail:", ...router.stdout.slice(-10), ...router.stderr.slice(-10)].join("\n");
    };
    const acked = [...load.acked];
    expect(acked.length).toBeGreaterThan(1000);
    // The deadline grows with the backlog the run built up.
    const remaining = arrivalTracker(acked, deliveredSet);
    const drainStart = Date.now();
    await waitUntil(() => remaining() === 0, Math.max(90_000, acked.length / 2), `all ${acked.length} acknowledged alerts at the receiver`).catch(async (err: Error) => {
      throw new Error(`${err.message}: ${await diagnose(missing(acked, delivered))}`);
    });
    expect(missing(acked, delivered)).toEqual([]);
    // At-least-once: duplicates are allowed (a kill between send and ack), but they must stay rare.
    const duplicates = delivered.length - new Set(delivered).size;
    console.log(
      `sigkill-flood: ${KILLS} kills, ${acked.length} acknowledged, ${load.refused} refused or cut, 0 lost, ${duplicates} duplicates, drained in ${((Date.now() - drainStart) / 1000).toFixed(1)} s`,
    );
    expect(duplicates).toBeLessThan(acked.length * 0.2);
  }, scale(120_000, 900_000));
});
