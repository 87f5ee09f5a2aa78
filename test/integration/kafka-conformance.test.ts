// The Kafka output through the real router against the harness's real broker: the
// conformance suite with the acceptance volume, SASL/SCRAM over TLS, and a wrong
// password that keeps alerts in the journal.
import { afterEach, beforeAll, afterAll, describe, expect, it } from "vitest";
import { makeAlerts, runId } from "../harness/alerts.js";
import { KAFKA } from "../harness/endpoints.js";
import { createTopic, topicRecordCount } from "../harness/kafka-admin.js";
import { readRecords } from "../harness/kafka-read.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { services } from "../harness/services.js";
import { defineConformance, outputStatus, postAll } from "./conformance.js";

const topicOf = (run: string) => `peregrine.conformance.${run}`;

defineConformance({
  type: "kafka",
  volume: 10_000,
  exclusive: () => services.useExclusively("kafka"),
  config: (run) => ({ brokers: KAFKA.brokers, topic: topicOf(run), headers: { suite: "conformance" } }),
  count: (run) => topicRecordCount(topicOf(run)),
  uuids: async (run, expected) => (await readRecords([topicOf(run)], expected)).map((r) => r.headers.uuid!),
  stopService: async () => {
    await services.stop("kafka");
  },
  startService: () => services.start("kafka"),
  // acks=all is answered once the records are in the broker's log (the OS page cache):
  // killing the process loses none of them.
  crashService: () => services.kill("kafka"),
  faults: [
    {
      name: "the broker unavailable",
      inject: async () => {
        await services.stop("kafka");
      },
      heal: () => services.start("kafka"),
    },
  ],
  permanent: {
    // A topic whose records may be at most 4 KiB: a larger alert is MESSAGE_TOO_LARGE for good.
    before: (run) => createTopic(topicOf(run), { "max.message.bytes": "4096" }),
    alert: (a) => ({ ...a, output: `${a.output} ${"x".repeat(8192)}` }),
    reason: /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/,
  },
  async checkDelivered(run, alerts) {
    const records = await readRecords([topicOf(run)], alerts.length);
    const byUuid = new Map(records.map((r) => [r.headers.uuid, r]));
    for (const a of alerts) {
      const r = byUuid.get(a.uuid)!;
      expect(r.key).toBe(a.rule);
      expect(r.headers).toEqual({ priority: a.priority, rule: a.rule, source: a.source, hostname: a.hostname, uuid: a.uuid, suite: "conformance" });
    }
  },
});

describe("kafka through the router: authentication", () => {
  const routers: RouterProcess[] = [];
  let release: () => void = () => {};
  beforeAll(async () => {
    release = await services.useExclusively("kafka");
  });
  afterAll(() => release());
  afterEach(async () => {
    while (routers.length) await routers.pop()!.kill();
  });

  const secured = (run: string, password: string) => ({
    outputs: [
      {
        name: "secure",
        type: "kafka",
        brokers: KAFKA.saslSslBrokers,
        topic: topicOf(run),
        tls: { ca_file: KAFKA.certs.caCert },
        sasl: { mechanism: "scram-sha-512", username: KAFKA.username, password },
        retry: { initial_ms: 100, max_ms: 1000 },
      },
    ],
  });

  it("delivers over SASL/SCRAM + TLS", async () => {
    const run = runId();
    const r = await startRouter({ config: secured(run, KAFKA.password) });
    routers.push(r);
    const alerts = makeAlerts(1000);
    await postAll(r, alerts);
    const records = await readRecords([topicOf(run)], 1000);
    expect(new Set(records.map((x) => x.headers.uuid))).toEqual(new Set(alerts.map((a) => a.uuid)));
  });

  it("a wrong password: a clear healthcheck error at start, alerts wait in the journal, then arrive with the right one", async () => {
    const run = runId();
    const r = await startRouter({ config: secured(run, "wrong-password") });
    routers.push(r);
    const alerts = makeAlerts(100);
    await postAll(r, alerts);
    await waitUntil(() => r.stdout.concat(r.stderr).some((l) => l.includes("healthcheck failed")), 60_000, "the healthcheck line");
    const line = r.stdout.concat(r.stderr).find((l) => l.includes("healthcheck failed"))!;
    expect(line).toMatch(/Kafka authentication failed for user \\?"peregrine\\?" \(SCRAM-SHA-512\) at 127\.0\.0\.1:9094/);
    expect(line).toMatch(/alerts wait in the journal/);
    await waitUntil(async () => (await outputStatus(r, "secure")).failed_attempts >= 2, 60_000, "failed attempts");
    const status = await outputStatus(r, "secure");
    expect(status).toMatchObject({ queue_depth: 100, delivered: 0, dead_lettered: 0 });
    expect(await topicRecordCount(topicOf(run))).toBe(0);

    // The operator fixes the password and restarts: the journal still has every alert.
    await r.stop("SIGTERM");
    const fixed = await startRouter({ config: secured(run, KAFKA.password), dataDir: r.dataDir });
    routers.push(fixed);
    const records = await readRecords([topicOf(run)], 100);
    expect(new Set(records.map((x) => x.headers.uuid))).toEqual(new Set(alerts.map((a) => a.uuid)));
  });
});
