/** Reads back the records a test produced, with a throw-away consumer group. */
import { Kafka, logLevel, type KafkaConfig } from "kafkajs";
import { randomUUID } from "node:crypto";
import { KAFKA } from "./endpoints.js";
import { registerSnappyCodec } from "../../outputs/kafka/codecs.js";

export interface ReadRecord {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  value: string;
  headers: Record<string, string>;
}

/**
 * Consumes `topics` from the beginning until `expected` records arrived and nothing more
 * came for `settleMs` (so duplicates are counted too), or `timeoutMs` passed.
 */
export async function readRecords(
  topics: string[],
  expected: number,
  opts: { timeoutMs?: number; settleMs?: number; client?: Partial<KafkaConfig> } = {},
): Promise<ReadRecord[]> {
  registerSnappyCodec();
  const kafka = new Kafka({ clientId: "harness-reader", brokers: [...KAFKA.brokers], logLevel: logLevel.NOTHING, ...opts.client });
  const consumer = kafka.consumer({ groupId: `harness-${randomUUID()}`, maxWaitTimeInMs: 200 });
  const records: ReadRecord[] = [];
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  await waitForTopics(kafka, topics, deadline);
  let last = Date.now();
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
        records.push({
          topic,
          partition,
          offset: message.offset,
          key: message.key === null ? null : message.key.toString(),
          value: message.value?.toString() ?? "",
          headers,
        });
        last = Date.now();
      },
    });
    const settle = opts.settleMs ?? 1500;
    while (Date.now() < deadline) {
      if (records.length >= expected && Date.now() - last >= settle) break;
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await consumer.disconnect();
  }
  return records;
}

/** Subscribing to a topic that does not exist yet fails: wait until its producer created it. */
async function waitForTopics(kafka: Kafka, topics: string[], deadline: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    for (;;) {
      const existing = new Set(await admin.listTopics());
      if (topics.every((t) => existing.has(t))) return;
      if (Date.now() > deadline) throw new Error(`topics not created in time: ${topics.filter((t) => !existing.has(t)).join(", ")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
