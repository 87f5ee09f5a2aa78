// The JetStream and NATS outputs through the real router against the harness's nats-server
// (built from its Go module, JetStream on): the conformance suite on a JetStream stream, then
// core NATS with Falcosidekick's subject template, and a wrong password.
//
// Every wait is a deadline that returns as soon as its condition holds; the stream is created
// (idempotently) before any case, and the harness reports nats ready only once JetStream is.
import { connect, RetentionPolicy, StorageType, type NatsConnection } from "nats";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { makeAlerts, runId } from "../harness/alerts.js";
import { NATS } from "../harness/endpoints.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { services } from "../harness/services.js";
import { defineConformance, outputStatus, postAll } from "./conformance.js";

const STREAM = "PEREGRINE_CONFORMANCE";
const subjectOf = (run: string) => `peregrine.conformance.${run}`;

let client: NatsConnection | undefined;
/** A client for the checks; it reconnects by itself after the suite restarts the server. */
async function nc(): Promise<NatsConnection> {
  if (!client || client.isClosed()) client = await connect({ servers: [...NATS.servers], maxReconnectAttempts: -1, reconnectTimeWait: 250 });
  return client;
}

/** Creates the suite's stream unless it exists with this config (safe to run again, and concurrently). */
async function ensureStream(): Promise<void> {
  await services.start("nats");
  const jsm = await (await nc()).jetstreamManager({ timeout: 30_000 });
  const config = {
    name: STREAM,
    subjects: ["peregrine.conformance.>"],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    // Alerts are about 1 KiB; the permanent case sends 32 KiB ones, which the stream refuses.
    max_msg_size: 16 * 1024,
    duplicate_window: 120 * 1_000_000_000,
    max_age: 3600 * 1_000_000_000,
  };
  try {
    await jsm.streams.info(STREAM);
    await jsm.streams.update(STREAM, config);
  } catch {
    await jsm.streams.add(config).catch(async (err: unknown) => {
      // Another file created it meanwhile.
      await jsm.streams.info(STREAM).catch(() => {
        throw err;
      });
    });
  }
}

async function storedCount(run: string): Promise<number> {
  const jsm = await (await nc()).jetstreamManager({ timeout: 30_000 });
  const info = await jsm.streams.info(STREAM, { subjects_filter: subjectOf(run) });
  return info.state.subjects?.[subjectOf(run)] ?? 0;
}

async function storedAlerts(run: string): Promise<Alert[]> {
  const total = await storedCount(run);
  const js = (await nc()).jetstream({ timeout: 30_000 });
  const consumer = await js.consumers.get(STREAM, { filterSubjects: [subjectOf(run)] });
  const out: Alert[] = [];
  const deadline = Date.now() + 60_000;
  while (out.length < total && Date.now() < deadline) {
    const batch = await consumer.fetch({ max_messages: Math.min(1000, total - out.length), expires: 5000 });
    for await (const m of batch) out.push(m.json<Alert>());
  }
  return out;
}

beforeAll(ensureStream, 120_000);
afterAll(async () => {
  await client?.drain().catch(() => undefined);
});

defineConformance({
  type: "jetstream",
  volume: 5000,
  exclusive: () => services.useExclusively("nats"),
  config: (run) => ({ servers: NATS.servers, subject: subjectOf(run), expect_stream: STREAM }),
  count: storedCount,
  uuids: async (run) => (await storedAlerts(run)).map((a) => a.uuid),
  stopService: async () => {
    await services.stop("nats");
  },
  startService: () => services.start("nats"),
  // JetStream acknowledges once the message is in its store file: a killed server keeps it.
  crashService: () => services.kill("nats"),
  faults: [
    {
      name: "the server stopped",
      inject: async () => {
        await services.stop("nats");
      },
      heal: () => services.start("nats"),
    },
  ],
  permanent: {
    alert: (a) => ({ ...a, output: `${a.output} ${"x".repeat(32 * 1024)}` }),
    reason: /maximum|size/i,
  },
  async checkDelivered(run, alerts) {
    const stored = new Map((await storedAlerts(run)).map((a) => [a.uuid, a]));
    for (const a of alerts) expect(stored.get(a.uuid)?.rule).toBe(a.rule);
  },
});

describe("nats (core) through the router: Falcosidekick's subject template, authentication", () => {
  const routers: RouterProcess[] = [];
  let release: () => void = () => {};
  beforeAll(async () => {
    release = await services.useExclusively("nats");
    await services.start("nats");
  });
  afterAll(() => release());
  afterEach(async () => {
    while (routers.length) await routers.pop()!.kill().catch(() => undefined);
  });

  async function router(output: Record<string, unknown>, dataDir?: string): Promise<RouterProcess> {
    const r = await startRouter({
      config: { outputs: [{ name: "out", type: "nats", retry: { initial_ms: 100, max_ms: 1000 }, ...output }] },
      ...(dataDir ? { dataDir } : {}),
    });
    routers.push(r);
    return r;
  }

  it("publishes every alert to peregrine.<run>.<priority>.<rule> with its identity headers", async () => {
    const run = runId();
    const received: { subject: string; alert: Alert; uuid: string | undefined }[] = [];
    const sub = (await nc()).subscribe(`peregrine.core.${run}.>`, {
      callback: (_err, m) => received.push({ subject: m.subject, alert: m.json<Alert>(), uuid: m.headers?.get("Falco-Uuid") }),
    });
    await (await nc()).flush();
    try {
      const r = await router({ servers: [NATS.url], subject: `peregrine.core.${run}.<priority>.<rule>` });
      const alerts = makeAlerts(500).map((a, i) => (i === 0 ? { ...a, rule: "  Write below /etc (by root)!  " } : a));
      await postAll(r, alerts);
      await waitUntil(async () => received.length >= alerts.length, 60_000, "500 messages");
      expect(received.length).toBe(alerts.length);
      const byUuid = new Map(received.map((m) => [m.alert.uuid, m]));
      for (const a of alerts) {
        const m = byUuid.get(a.uuid)!;
        const rule = a.rule.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
        expect(m.subject).toBe(`peregrine.core.${run}.${a.priority.toLowerCase()}.${rule}`);
        expect(m.uuid).toBe(a.uuid);
      }
      expect(byUuid.get(alerts[0]!.uuid)!.subject).toBe(`peregrine.core.${run}.${alerts[0]!.priority.toLowerCase()}.write_below_etc_by_root`);
    } finally {
      sub.unsubscribe();
    }
  });

  it("a wrong password: a clear healthcheck error, alerts wait in the journal, never logged; then arrive with the right one", async () => {
    const run = runId();
    const received: string[] = [];
    const sub = (await nc()).subscribe(`peregrine.auth.${run}`, { callback: (_err, m) => received.push(m.json<Alert>().uuid) });
    await (await nc()).flush();
    const wrong = `wrong-${run}-password`;
    const secured = (password: string) => ({ servers: NATS.servers, subject: `peregrine.auth.${run}`, username: NATS.username, password });
    try {
      const r = await router(secured(wrong));
      const alerts = makeAlerts(50);
      await postAll(r, alerts);
      await waitUntil(() => r.stdout.concat(r.stderr).some((l) => l.includes("healthcheck failed")), 60_000, "the healthcheck line");
      const line = r.stdout.concat(r.stderr).find((l) => l.includes("healthcheck failed"))!;
      expect(line).toMatch(/NATS authentication failed for user \\?"peregrine\\?" at 127\.0\.0\.1:4222/);
      await waitUntil(async () => (await outputStatus(r)).failed_attempts >= 2, 60_000, "failed attempts");
      expect(await outputStatus(r)).toMatchObject({ queue_depth: 50, delivered: 0, dead_lettered: 0 });
      await r.stop("SIGTERM");
      expect(r.stdout.concat(r.stderr).filter((l) => l.includes(wrong))).toEqual([]);
      await router(secured(NATS.password), r.dataDir);
      await waitUntil(async () => received.length >= alerts.length, 60_000, "50 messages after the fix");
      expect(new Set(received)).toEqual(new Set(alerts.map((a) => a.uuid)));
    } finally {
      sub.unsubscribe();
    }
  });
});
