// The Kafka output against the harness's real broker: create(config).send(batch) directly,
// then read the records back with a consumer.
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ParseContext } from "../../src/config/schema.js";
import type { Output } from "../../src/delivery/output.js";
import { kafkaOutput } from "../../outputs/kafka/index.js";
import { classifyKafkaError } from "../../outputs/kafka/errors.js";
import { compileTopic } from "../../outputs/kafka/topic.js";
import { makeAlert, makeAlerts, runId } from "../harness/alerts.js";
import { KAFKA } from "../harness/endpoints.js";
import { readRecords } from "../harness/kafka-read.js";
import { services } from "../harness/services.js";

const ctx = { name: "kafka-test", logger: pino({ level: "silent" }), dataDir: "/tmp" };
const outputs: Output[] = [];
let release: () => void = () => {};
beforeAll(async () => {
  release = await services.useExclusively("kafka");
});
afterAll(async () => {
  for (const o of outputs) await o.close();
  release();
});

function kafka(config: Record<string, unknown>): Output {
  const pc = new ParseContext();
  const parsed = kafkaOutput.schema.parse({ brokers: KAFKA.brokers, ...config }, pc, "outputs[0]");
  kafkaOutput.validate!(parsed, pc, "outputs[0]");
  expect(pc.issues).toEqual([]);
  const out = kafkaOutput.create(parsed, ctx);
  outputs.push(out);
  return out;
}

const signal = () => AbortSignal.timeout(30_000);
const saslTls = (mechanism: string, password: string = KAFKA.password) => ({
  brokers: KAFKA.saslSslBrokers,
  tls: { ca_file: KAFKA.certs.caCert },
  sasl: { mechanism, username: KAFKA.username, password },
});

describe("Kafka output", () => {
  it("produces one record per alert with the rule as key and the alert's identity in headers", async () => {
    const topic = `peregrine.${runId()}`;
    const out = kafka({ topic, headers: { cluster: "prod-eu" } });
    const batch = makeAlerts(500);
    expect(await out.send(batch, signal())).toEqual({ kind: "ok" });
    const records = await readRecords([topic], 500);
    expect(records).toHaveLength(500);
    const byUuid = new Map(records.map((r) => [r.headers.uuid, r]));
    for (const a of batch) {
      const r = byUuid.get(a.uuid)!;
      expect(r).toBeDefined();
      expect(r.key).toBe(a.rule);
      expect(r.headers).toEqual({ priority: a.priority, rule: a.rule, source: "syscall", hostname: "node-1", uuid: a.uuid, cluster: "prod-eu" });
      expect(JSON.parse(r.value)).toEqual(a);
    }
    // One key, one partition: a rule's alerts keep their order.
    for (let rule = 0; rule < 3; rule++) {
      const recs = records.filter((r) => r.key === `Test rule ${rule}`);
      expect(new Set(recs.map((r) => r.partition)).size).toBe(1);
      const seqs = recs.map((r) => (JSON.parse(r.value) as { output_fields: { seq: number } }).output_fields.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    }
  });

  it.each(["gzip", "snappy"])("compresses with %s", async (compression) => {
    const topic = `peregrine.${runId()}`;
    const out = kafka({ topic, compression, format: "text", key: "{{hostname}}/{{priority}}" });
    const batch = makeAlerts(200);
    expect(await out.send(batch, signal())).toEqual({ kind: "ok" });
    const records = await readRecords([topic], 200);
    expect(records.map((r) => r.value).sort()).toEqual(batch.map((a) => a.output).sort());
    expect(new Set(records.map((r) => r.key))).toEqual(new Set(["node-1/Critical", "node-1/Warning", "node-1/Notice"]));
  });

  it("a topic template fills only what follows its literal prefix", async () => {
    const prefix = `peregrine.${runId()}.`;
    const out = kafka({ topic: `${prefix}{{priority}}` });
    const evil = makeAlert(0, { priority: "Critical" });
    expect(await out.send([evil, makeAlert(1)], signal())).toEqual({ kind: "ok" });
    const crit = await readRecords([`${prefix}critical`], 1);
    expect(crit.map((r) => r.headers.uuid)).toEqual([evil.uuid]);

    const router = compileTopic("falco.{{rule}}");
    expect(router.topicFor(makeAlert(0, { rule: "../../__consumer_offsets" }))).toBe("falco..._..___consumer_offsets");
    expect(router.topicFor(makeAlert(0, { rule: "Write below /etc" }))).toBe("falco.write_below_etc");
    expect(() => compileTopic("{{rule}}")).toThrow(/only follow a literal prefix/);
  });

  it.each(["scram-sha-256", "scram-sha-512", "plain"])("authenticates with SASL %s over TLS", async (mechanism) => {
    const topic = `peregrine.${runId()}`;
    const out = kafka({ topic, ...saslTls(mechanism) });
    await out.healthcheck!(signal());
    expect(await out.send(makeAlerts(20), signal())).toEqual({ kind: "ok" });
    expect(await readRecords([topic], 20)).toHaveLength(20);
  });

  it("a wrong password: a named healthcheck error, and sends are retries (alerts wait)", async () => {
    const out = kafka({ topic: `peregrine.${runId()}`, ...saslTls("scram-sha-256", "not-the-password") });
    await expect(out.healthcheck!(signal())).rejects.toThrow(
      /^Kafka authentication failed for user "peregrine" \(SCRAM-SHA-256\) at 127\.0\.0\.1:9094: KafkaJSSASLAuthenticationError: .*invalid credentials/,
    );
    const r = await out.send(makeAlerts(1), signal());
    expect(r.kind).toBe("retry");
    if (r.kind === "retry") expect(r.reason).toMatch(/SASL.*authentication failed/i);
  });

  it("mTLS: a client certificate gets in, no certificate is refused", async () => {
    const topic = `peregrine.${runId()}`;
    const tls = { ca_file: KAFKA.certs.caCert, cert_file: KAFKA.certs.clientCert, key_file: KAFKA.certs.clientKey };
    const out = kafka({ topic, brokers: KAFKA.mtlsBrokers, tls });
    await out.healthcheck!(signal());
    expect(await out.send(makeAlerts(5), signal())).toEqual({ kind: "ok" });
    expect(await readRecords([topic], 5)).toHaveLength(5);

    const noCert = kafka({ topic, brokers: KAFKA.mtlsBrokers, tls: { ca_file: KAFKA.certs.caCert } });
    await expect(noCert.healthcheck!(signal())).rejects.toThrow(/cannot reach Kafka at 127\.0\.0\.1:9095: .*(certificate|alert)/i);
    expect((await noCert.send(makeAlerts(1), signal())).kind).toBe("retry");
  });

  it("no broker listening is a retry, quickly", async () => {
    const out = kafka({ topic: "peregrine.nowhere", brokers: ["127.0.0.1:1"], connection_timeout_ms: 500 });
    const t0 = Date.now();
    const r = await out.send(makeAlerts(1), signal());
    expect(r.kind).toBe("retry");
    if (r.kind === "retry") expect(r.reason).toMatch(/ECONNREFUSED/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it("a record larger than the broker accepts is rejected alone; its batch neighbours are delivered", async () => {
    const topic = `peregrine.${runId()}`;
    const out = kafka({ topic });
    const big = makeAlert(0, { output: "x".repeat(2 * 1024 * 1024) });
    expect(await out.send([big], signal())).toMatchObject({ kind: "reject", reason: expect.stringMatching(/MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE/) });

    const batch = makeAlerts(5);
    batch[3] = big;
    const r = await out.send(batch, signal());
    expect(r.kind).toBe("partial");
    if (r.kind !== "partial") return;
    expect(r.failed.map((f) => f.index), JSON.stringify(r.failed)).toEqual([3]);
    expect(r.failed[0]!.result.kind).toBe("reject");
    // The first, whole request may have been written for the partitions that had no oversized
    // record (the broker answers per partition, KafkaJS fails the request): at least once.
    const records = await readRecords([topic], 4);
    expect([...new Set(records.map((x) => x.headers.uuid))].sort()).toEqual(batch.filter((_, i) => i !== 3).map((a) => a.uuid).sort());
  });

  it("maps KafkaJS errors in one place", () => {
    const protocol = (type: string, retriable: boolean) => Object.assign(new Error(type), { name: "KafkaJSProtocolError", type, retriable });
    const wrapped = (inner: Error) => Object.assign(new Error("retries exceeded"), { name: "KafkaJSNumberOfRetriesExceeded", originalError: inner });
    expect(classifyKafkaError(wrapped(protocol("LEADER_NOT_AVAILABLE", true))).kind).toBe("retry");
    expect(classifyKafkaError(protocol("TOPIC_AUTHORIZATION_FAILED", false)).kind).toBe("reject");
    expect(classifyKafkaError(wrapped(protocol("MESSAGE_TOO_LARGE", false))).kind).toBe("reject");
    expect(classifyKafkaError(Object.assign(new Error("bad"), { name: "KafkaJSSASLAuthenticationError" })).kind).toBe("retry");
  });

  it("config check names bad topics, templates and acks", () => {
    const check = (config: Record<string, unknown>) => {
      const pc = new ParseContext();
      const parsed = kafkaOutput.schema.parse({ brokers: KAFKA.brokers, topic: "t", ...config }, pc, "o");
      kafkaOutput.validate!(parsed, pc, "o");
      return pc.issues.map((i) => `${i.path}: ${i.message}`);
    };
    expect(check({ topic: "{{rule}}" })).toEqual([expect.stringMatching(/^o\.topic: a template may only follow a literal prefix/)]);
    expect(check({ topic: "bad topic" })).toEqual([expect.stringMatching(/^o\.topic: "bad topic" has characters/)]);
    expect(check({ key: "{{#if}}" })).toEqual([expect.stringMatching(/^o\.key: /)]);
    expect(check({ acks: "leader" })).toEqual(["o.acks: an idempotent producer needs acks: all (or set idempotent: false)"]);
    expect(check({ brokers: ["nohost"] })).toEqual([expect.stringMatching(/^o\.brokers\[0\]: use host:port/)]);
    expect(check({ headers: { uuid: "x", team: "secops" } })).toEqual([
      'o.headers.uuid: "uuid" is set from each alert (priority, rule, source, hostname, uuid); pick another header name',
    ]);
  });
});
