/**
 * Apache Kafka, with KafkaJS: one record per alert, keyed (default: the rule name, so one
 * rule's alerts keep their order in one partition), with the alert's identity in headers,
 * produced with acks=all by an idempotent producer.
 */
import { readFileSync } from "node:fs";
import { CompressionTypes, Kafka, logLevel, type Message, type Producer, type SASLOptions, type TopicMessages } from "kafkajs";
import type { ConnectionOptions } from "node:tls";
import type { Logger } from "pino";
import { alertTextLine, type Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { tlsShape } from "../../src/delivery/http.js";
import { defineOutput, type SendResult } from "../../src/delivery/output.js";
import { errorMessage } from "../../src/errors.js";
import { checkTemplate } from "../../src/templates/index.js";
import { registerSnappyCodec } from "./codecs.js";
import { classifyKafkaError, describeKafkaError, isAuthenticationError, isSizeError } from "./errors.js";
import { compileKey, compileTopic } from "./topic.js";

const ACKS = { all: -1, leader: 1, none: 0 } as const;
/** Headers every record carries, from its alert. */
const IDENTITY_HEADERS = ["priority", "rule", "source", "hostname", "uuid"] as const;
const COMPRESSION = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
} as const;

const schema = s
  .object({
    brokers: s.array(s.string().matches(/^[^:\s]+:\d+$/, "use host:port")).describe("Bootstrap brokers, host:port."),
    topic: s
      .string()
      .notEmpty()
      .describe("Topic. A template may follow a literal prefix (falco.{{priority}}); what it renders is lower-cased and reduced to Kafka's topic characters."),
    key: s.string().default("{{rule}}").describe("Record key template; an empty result sends no key."),
    format: s.string().oneOf(["json", "text"]).default("json").describe("Record value: json (the whole alert) or text (Falco's text line)."),
    headers: s.record(s.string()).default({}).describe("Extra static headers, added to priority, rule, source, hostname and uuid."),
    acks: s.string().oneOf(["all", "leader", "none"]).default("all").describe("Acknowledgement the producer waits for."),
    idempotent: s.boolean().default(true).describe("Idempotent producer (no duplicates from the client's own resends); needs acks: all."),
    compression: s.string().oneOf(["none", "gzip", "snappy"]).default("none").describe("Record batch compression."),
    client_id: s.string().default("peregrine").describe("Client id the brokers see."),
    sasl: s
      .object({
        mechanism: s.string().oneOf(["plain", "scram-sha-256", "scram-sha-512"], { ignoreCase: true }).describe("SASL mechanism."),
        username: s.string().notEmpty().describe("User name."),
        password: s.string().describe("Password."),
      })
      .optional()
      .describe("SASL authentication."),
    tls: tlsShape.optional(),
    connection_timeout_ms: s.duration().range(1).default(5000).describe("Time to open a connection to a broker."),
    request_timeout_ms: s.duration().range(1).default(15_000).describe("Time a broker has to answer a request."),
  });

type KafkaConfig = ReturnType<typeof schema.parse>;

export const kafkaOutput = defineOutput({
  type: "kafka",
  summary: "Produces one Kafka record per alert (key, headers, idempotent, acks=all), with TLS/mTLS and SASL.",
  schema,
  // A record batch per partition must stay under the broker's message.max.bytes (1 MB by default).
  laneDefaults: { batch: { max_events: 5000, max_bytes: 512 * 1024, max_wait_ms: 100 } },
  // Cross-field checks live here: the router merges the type's keys with the lane's keys.
  validate(config, ctx, path) {
    if (config.idempotent && config.acks !== "all") ctx.error(`${path}.acks`, 'an idempotent producer needs acks: all (or set idempotent: false)');
    if (config.brokers.length === 0) ctx.error(`${path}.brokers`, "needs at least one broker");
    if (config.sasl !== undefined && config.tls === undefined && String(config.sasl.mechanism ?? "").toLowerCase() === "plain")
      ctx.warn(`${path}.sasl`, "SASL PLAIN without tls sends the password in clear text");
    // These carry the alert's identity; a static value would overwrite it on every record.
    for (const name of Object.keys(config.headers))
      if ((IDENTITY_HEADERS as readonly string[]).includes(name))
        ctx.error(`${path}.headers.${name}`, `"${name}" is set from each alert (${IDENTITY_HEADERS.join(", ")}); pick another header name`);
    checkTemplate(ctx, `${path}.topic`, () => compileTopic(config.topic, `${path}.topic`));
    checkTemplate(ctx, `${path}.key`, () => compileKey(config.key, `${path}.key`));
  },
  create(config, ctx) {
    registerSnappyCodec();
    const topics = compileTopic(config.topic);
    const keyOf = compileKey(config.key);
    const kafka = new Kafka(clientConfig(config, ctx.logger));
    const newProducer = (): Producer =>
      kafka.producer({
        idempotent: config.idempotent,
        maxInFlightRequests: config.idempotent ? 1 : 5,
        // The lane retries; KafkaJS's own quick resends (which the idempotent producer needs
        // to keep its sequence numbers) stay short so a send answers within seconds.
        retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      });
    let producer = newProducer();
    let connected: Promise<Producer> | undefined;
    /** The current producer, connected (a producer replaced meanwhile is not reused). */
    const connect = (): Promise<Producer> => {
      const p = producer;
      connected ??= p.connect().then(
        () => p,
        (err: unknown) => {
          if (producer === p) connected = undefined;
          throw err;
        },
      );
      return connected;
    };
    /**
     * After a failed produce KafkaJS's idempotent sequence numbers may no longer match the
     * broker's (part of the request may have been written), and every later send would fail
     * with OUT_OF_ORDER_SEQUENCE_NUMBER. A fresh producer gets a new producer id and starts
     * over; the cost is one InitProducerId round trip after a failure, never on the happy path.
     */
    const resetProducer = () => {
      const old = producer;
      producer = newProducer();
      connected = undefined;
      void old.disconnect().catch(() => undefined);
    };
    const staticHeaders = Object.entries(config.headers);
    const format = config.format;

    function toMessage(alert: Alert): Message {
      const headers: Record<string, string> = {
        priority: alert.priority,
        rule: alert.rule,
        source: alert.source,
        hostname: alert.hostname,
        uuid: alert.uuid,
      };
      for (const [k, v] of staticHeaders) headers[k] = v;
      const value = format === "json" ? JSON.stringify(alert) : alert.output || alertTextLine(alert);
      return { key: keyOf(alert), value, headers, timestamp: String(Date.parse(alert.time) || Date.now()) };
    }

    function records(batch: readonly Alert[]): TopicMessages[] {
      const byTopic = new Map<string, Message[]>();
      for (const alert of batch) {
        const topic = topics.topicFor(alert);
        let list = byTopic.get(topic);
        if (!list) byTopic.set(topic, (list = []));
        list.push(toMessage(alert));
      }
      return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
    }

    async function produce(topicMessages: TopicMessages[], signal: AbortSignal): Promise<void> {
      await abortable(
        (async () => {
          const p = await connect();
          await p.sendBatch({
            topicMessages,
            acks: ACKS[config.acks as keyof typeof ACKS],
            compression: COMPRESSION[config.compression as keyof typeof COMPRESSION],
            timeout: config.request_timeout_ms,
          });
        })(),
        signal,
      );
    }

    /**
     * A record batch over the broker's size limit fails as a whole: the batch is split in
     * halves sent at once, recursively, so only the alert that is itself too large is
     * rejected and its neighbours are delivered (failures come back as `partial`).
     */
    async function sendSlice(batch: readonly Alert[], offset: number, signal: AbortSignal): Promise<SendResult> {
      let topicMessages: TopicMessages[];
      try {
        topicMessages = records(batch);
      } catch (err) {
        // A template that fails on these alerts fails every time.
        return { kind: "reject", reason: `cannot build the records: ${errorMessage(err)}` };
      }
      try {
        await produce(topicMessages, signal);
        return { kind: "ok" };
      } catch (err) {
        resetProducer();
        if (signal.aborted) return { kind: "retry", reason: `send aborted: ${errorMessage(signal.reason ?? err)}` };
        if (!isSizeError(err) || batch.length === 1) return classifyKafkaError(err);
      }
      const mid = Math.ceil(batch.length / 2);
      const halves: [number, SendResult][] = [
        [mid, await sendSlice(batch.slice(0, mid), offset, signal)],
        [batch.length - mid, await sendSlice(batch.slice(mid), offset + mid, signal)],
      ];
      if (halves.every(([, r]) => r.kind === "ok")) return { kind: "ok" };
      const failed: { index: number; result: SendResult }[] = [];
      let start = offset;
      for (const [size, r] of halves) {
        if (r.kind === "partial") failed.push(...r.failed);
        else if (r.kind !== "ok") for (let i = 0; i < size; i++) failed.push({ index: start + i, result: r });
        start += size;
      }
      return { kind: "partial", failed };
    }

    return {
      send(batch, signal) {
        return sendSlice(batch, 0, signal);
      },
      /** Connects and asks for the cluster: a wrong password or certificate shows here, named. */
      async healthcheck(signal) {
        const admin = kafka.admin({ retry: { retries: 0 } });
        try {
          await abortable(
            (async () => {
              await admin.connect();
              await admin.describeCluster();
            })(),
            signal,
          );
        } catch (err) {
          const where = config.brokers.join(",");
          if (isAuthenticationError(err))
            throw new Error(
              `Kafka authentication failed for user "${config.sasl?.username ?? ""}" (${config.sasl?.mechanism.toUpperCase() ?? "no SASL"}) at ${where}: ${describeKafkaError(err)}`,
              { cause: err },
            );
          throw new Error(`cannot reach Kafka at ${where}: ${describeKafkaError(err)}`, { cause: err });
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      },
      async close() {
        await producer.disconnect();
      },
    };
  },
});

function clientConfig(config: KafkaConfig, logger: Logger): ConstructorParameters<typeof Kafka>[0] {
  let ssl: ConnectionOptions | boolean = false;
  if (config.tls !== undefined) {
    const t = config.tls;
    const o: ConnectionOptions = { rejectUnauthorized: !t.insecure_skip_verify };
    if (t.ca_file) o.ca = [readFileSync(t.ca_file)];
    if (t.cert_file) o.cert = readFileSync(t.cert_file);
    if (t.key_file) o.key = readFileSync(t.key_file);
    ssl = o;
  }
  let sasl: SASLOptions | undefined;
  if (config.sasl !== undefined) {
    const { username, password } = config.sasl;
    const mechanism = config.sasl.mechanism.toLowerCase();
    sasl =
      mechanism === "plain"
        ? { mechanism: "plain", username, password }
        : mechanism === "scram-sha-256"
          ? { mechanism: "scram-sha-256", username, password }
          : { mechanism: "scram-sha-512", username, password };
  }
  return {
    clientId: config.client_id,
    brokers: config.brokers,
    ssl,
    ...(sasl ? { sasl } : {}),
    connectionTimeout: config.connection_timeout_ms,
    requestTimeout: config.request_timeout_ms,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
    // KafkaJS reports each failed attempt; the lane already reports outcomes once, so these are debug.
    logLevel: logLevel.WARN,
    logCreator: () => ({ namespace, log }) => logger.debug({ kafkajs: namespace, ...log }, String(log.message)),
  };
}

/** Rejects as soon as `signal` aborts (the KafkaJS request itself cannot be cancelled). */
function abortable<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}
