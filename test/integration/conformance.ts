/**
 * The output conformance suite: what every output must do once it runs inside the real
 * router (a separate process, its journal, its lanes), against its real service.
 *
 *   defineConformance({ name: "loki", ... })   // in test/integration/<output>-conformance.test.ts
 *
 * Cases:
 * - delivers: N alerts posted to the router are N items at the service, each uuid once;
 * - transient faults (5xx, 429, broker unavailable): alerts wait and arrive after the fault;
 * - permanent refusals land in the dead-letter store with the service's reason;
 * - the service stopped and restarted mid-stream: nothing lost (duplicates are counted
 *   and reported, at-least-once allows them); the same after SIGKILL where the service
 *   keeps what it acknowledged;
 * - shutdown: SIGTERM flushes what is queued before the router exits.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { OUTPUT_TYPES } from "../../outputs/registry.js";
import { makeAlerts, runId } from "../harness/alerts.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";

export interface ConformanceFault {
  /** Shown in the test name, e.g. "HTTP 503". */
  name: string;
  /** Output config overrides for this case (e.g. the URL of a gateway that injects the fault). */
  config?: () => Record<string, unknown>;
  inject(): Promise<void>;
  heal(): Promise<void>;
}

export interface ConformancePermanent {
  /** Output config overrides that make the service refuse every send for good. */
  config?: (run: string) => Record<string, unknown>;
  /** Or: alerts the service refuses (others in the same run are delivered). */
  alert?: (alert: Alert) => Alert;
  /** Sets up the refusal (e.g. a topic with a small size limit); undone by `after`. */
  before?: (run: string) => Promise<void>;
  after?: () => Promise<void>;
  /** What the dead letter's reason must say. */
  reason: RegExp;
}

export interface ConformanceSpec {
  /** The output type, as in config. */
  type: string;
  /** Harness services used; the suite takes them exclusively (see services.useExclusively). */
  exclusive?: () => Promise<() => void>;
  /** Output config (without name/type) for one run; `run` is unique per test. */
  config(run: string): Record<string, unknown>;
  /** Items at the service for this run, duplicates counted; cheap, polled. */
  count(run: string): Promise<number>;
  /** The uuids at the service for this run, duplicates included. */
  uuids(run: string, expected: number): Promise<string[]>;
  /** Stop and start the real service (mid-stream outage). */
  stopService(): Promise<void>;
  startService(): Promise<void>;
  /**
   * Kill the service without a graceful shutdown (SIGKILL), when it keeps what it
   * acknowledged through that (a store that acknowledges before its data is durable
   * would lose lines that were never ours to keep, so it leaves this out).
   */
  crashService?(): Promise<void>;
  faults: ConformanceFault[];
  permanent?: ConformancePermanent;
  /** Alerts in the delivery and restart cases (10,000 for the acceptance runs). */
  volume?: number;
  /** Extra checks on one delivered run (labels, keys, headers, ...). */
  checkDelivered?(run: string, alerts: Alert[]): Promise<void>;
  /** How long delivery of `volume` alerts may take. */
  deliveryTimeoutMs?: number;
}

/** Lane settings that keep the suite quick: short backoffs, a circuit that reopens fast. */
const FAST_LANE = { retry: { initial_ms: 100, max_ms: 1000 }, circuit: { failure_threshold: 5, open_ms: 1000 } };

export function defineConformance(spec: ConformanceSpec): void {
  const volume = spec.volume ?? 2000;
  const deliveryTimeout = spec.deliveryTimeoutMs ?? 120_000;
  const routers: RouterProcess[] = [];
  let release: () => void = () => {};

  beforeAll(async () => {
    if (spec.exclusive) release = await spec.exclusive();
  });
  afterAll(() => release());
  afterEach(async () => {
    while (routers.length) await routers.pop()!.kill().catch(() => undefined);
  });

  async function router(run: string, overrides: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
    const r = await startRouter({
      config: { ...extra, outputs: [{ name: "out", type: spec.type, ...FAST_LANE, ...spec.config(run), ...overrides }] },
    });
    routers.push(r);
    return r;
  }

  async function waitDelivered(run: string, uuids: string[], r?: RouterProcess): Promise<{ total: number; duplicates: number }> {
    await waitUntil(async () => (await spec.count(run)) >= uuids.length, deliveryTimeout, `${uuids.length} items at the service`).catch(
      async (err: Error) => {
        const state = r ? JSON.stringify((await r.get("/api/outputs")).json) : "";
        throw new Error(`${err.message} (have ${await spec.count(run)}) ${state}`);
      },
    );
    // Let late duplicates land before counting.
    await new Promise((res) => setTimeout(res, 1500));
    const got = await spec.uuids(run, uuids.length);
    const unique = new Set(got);
    const missing = uuids.filter((u) => !unique.has(u));
    expect(missing, `${missing.length} of ${uuids.length} alerts missing`).toEqual([]);
    return { total: got.length, duplicates: got.length - unique.size };
  }

  describe(`${spec.type} conformance (through the router)`, () => {
    it(`delivers ${volume} alerts, each exactly once`, async () => {
      const run = runId();
      const r = await router(run);
      const alerts = makeAlerts(volume);
      await postAll(r, alerts);
      const { total, duplicates } = await waitDelivered(run, alerts.map((a) => a.uuid), r);
      expect(duplicates).toBe(0);
      expect(total).toBe(volume);
      await spec.checkDelivered?.(run, alerts);
    });

    for (const fault of spec.faults) {
      it(`retries through ${fault.name}: alerts wait, then arrive`, async () => {
        const run = runId();
        const r = await router(run, fault.config?.() ?? {});
        await fault.inject();
        let healed = false;
        try {
          const alerts = makeAlerts(200);
          await postAll(r, alerts);
          await waitUntil(async () => (await outputStatus(r)).failed_attempts > 0, 30_000, "a failed attempt");
          const during = await outputStatus(r);
          expect(during.dead_lettered).toBe(0);
          // Nothing got through (a stopped service cannot be asked: it holds nothing new either).
          expect(await spec.count(run).catch(() => 0)).toBe(0);
          await fault.heal();
          healed = true;
          await waitDelivered(run, alerts.map((a) => a.uuid), r);
          expect((await outputStatus(r)).dead_lettered).toBe(0);
        } finally {
          if (!healed) await fault.heal();
        }
      });
    }

    if (spec.permanent) {
      const p = spec.permanent;
      it("puts permanently refused alerts in the dead-letter store with the service's reason", async () => {
        const run = runId();
        await p.before?.(run);
        try {
          const r = await router(run, p.config?.(run) ?? {});
          const alerts = makeAlerts(6);
          const refused = p.alert ? [alerts[1]!, alerts[4]!].map((a) => a.uuid) : alerts.map((a) => a.uuid);
          const sent = alerts.map((a) => (p.alert && refused.includes(a.uuid) ? p.alert(a) : a));
          await postAll(r, sent);
          let letters: { uuid: string; reason: string; output: string }[] = [];
          await waitUntil(
            async () => {
              letters = ((await r.get("/api/dead-letters")).json as { dead_letters: typeof letters }).dead_letters;
              return letters.length >= refused.length;
            },
            30_000,
            `${refused.length} dead letters`,
          );
          expect(letters.map((l) => l.uuid).sort()).toEqual([...refused].sort());
          for (const l of letters) {
            expect(l.output).toBe("out");
            expect(l.reason).toMatch(p.reason);
          }
          if (p.alert) {
            const delivered = alerts.filter((a) => !refused.includes(a.uuid)).map((a) => a.uuid);
            await waitDelivered(run, delivered, r);
          }
        } finally {
          await p.after?.();
        }
      });
    }

    it(`survives the service stopped and restarted mid-stream: all ${volume} arrive`, async () => {
      const run = runId();
      const r = await router(run);
      const alerts = makeAlerts(volume);
      const third = Math.floor(volume / 3);
      await postAll(r, alerts.slice(0, third));
      await spec.stopService();
      let started = false;
      try {
        await postAll(r, alerts.slice(third, 2 * third));
        await waitUntil(async () => (await outputStatus(r)).failed_attempts > 0, 30_000, "a failed attempt while the service is down");
        await spec.startService();
        started = true;
      } finally {
        if (!started) await spec.startService();
      }
      await postAll(r, alerts.slice(2 * third));
      const { total, duplicates } = await waitDelivered(run, alerts.map((a) => a.uuid), r);
      console.log(`[conformance ${spec.type}] restart mid-stream: ${volume} posted, ${total} delivered, ${duplicates} duplicates`);
      expect((await outputStatus(r)).dead_lettered).toBe(0);
    });

    if (spec.crashService) {
      const crash = spec.crashService;
      it(`survives the service killed (SIGKILL) mid-stream: all ${volume} arrive`, async () => {
        const run = runId();
        const r = await router(run);
        const alerts = makeAlerts(volume);
        const half = Math.floor(volume / 2);
        const posting = postAll(r, alerts.slice(0, half), 8);
        // Kill it while alerts are in flight, not between batches.
        await waitUntil(async () => (await outputStatus(r)).delivered > 0, 30_000, "first deliveries");
        await crash();
        await posting;
        await spec.startService();
        await postAll(r, alerts.slice(half));
        const { total, duplicates } = await waitDelivered(run, alerts.map((a) => a.uuid), r);
        console.log(`[conformance ${spec.type}] crash mid-stream: ${volume} posted, ${total} delivered, ${duplicates} duplicates`);
        expect((await outputStatus(r)).dead_lettered).toBe(0);
      });
    }

    it("flushes queued alerts on SIGTERM before exiting", async () => {
      const run = runId();
      // A batch that never fills and a wait that never ends: only the shutdown can send these
      // alerts, so the case fails if SIGTERM exits without flushing (instead of passing
      // because the lane had already sent everything).
      const batch = { ...((spec.config(run).batch as Record<string, unknown> | undefined) ?? {}) };
      const maxEvents = Number(batch.max_events ?? OUTPUT_TYPES[spec.type]?.laneDefaults?.batch?.max_events ?? 1);
      const n = Math.max(1, Math.min(500, maxEvents - 1));
      const r = await router(run, { batch: { ...batch, max_wait_ms: 600_000 } }, { shutdown: { drain_ms: 30_000 } });
      const alerts = makeAlerts(n);
      await postAll(r, alerts);
      await new Promise((res) => setTimeout(res, 300));
      // (An output that sends one alert per batch cannot hold one back.)
      if (maxEvents > 1) expect(await outputStatus(r)).toMatchObject({ queue_depth: n, delivered: 0 });
      const code = await r.stop("SIGTERM");
      expect(code).toBe(0);
      // Everything was sent before exit: it is all there without any router running.
      await waitDelivered(run, alerts.map((a) => a.uuid));
    });
  });
}

interface OutputStatus {
  name: string;
  queue_depth: number;
  delivered: number;
  failed_attempts: number;
  dead_lettered: number;
  last_error?: { reason: string };
}

export async function outputStatus(r: RouterProcess, name = "out"): Promise<OutputStatus> {
  const { outputs } = (await r.get("/api/outputs")).json as { outputs: OutputStatus[] };
  const o = outputs.find((x) => x.name === name);
  if (!o) throw new Error(`no output ${name} in /api/outputs`);
  return o;
}

/** Posts every alert (32 requests in flight); each must be accepted (200). */
export async function postAll(r: RouterProcess, alerts: readonly Alert[], parallel = 32): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(parallel, alerts.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= alerts.length) return;
        const res = await r.post(alerts[i]);
        if (res.status !== 200) throw new Error(`router answered ${res.status} to alert ${i}: ${JSON.stringify(res.json)}`);
      }
    }),
  );
}
