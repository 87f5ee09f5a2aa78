/** Small admin helpers for Kafka tests: record counts and topics with their own limits. */
import { Kafka, logLevel } from "kafkajs";
import { KAFKA } from "./endpoints.js";

function client(): Kafka {
  return new Kafka({ clientId: "harness-admin", brokers: [...KAFKA.brokers], logLevel: logLevel.NOTHING, retry: { retries: 1 } });
}

/** Records in a topic (sum of the partitions' high watermarks); 0 when it does not exist yet. */
export async function topicRecordCount(topic: string): Promise<number> {
  const admin = client().admin();
  try {
    await admin.connect();
    const offsets = await admin.fetchTopicOffsets(topic);
    return offsets.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
  } catch {
    return 0;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

export async function createTopic(topic: string, config: Record<string, string> = {}, partitions = 3): Promise<void> {
  const admin = client().admin();
  try {
    await admin.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries: Object.entries(config).map(([name, value]) => ({ name, value })) }],
    });
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
