/**
 * The fan-out scenario's other two sinks: the harness's real Loki-protocol store and real
 * Kafka. Each run writes to its own Kafka topic and its own Loki `hostname` label, so counts
 * never mix runs; Loki is counted with a LogsQL stats query, Kafka by the topic's offsets.
 */
import { Kafka, logLevel } from "kafkajs";
import { request } from "undici";
import { KAFKA, LOGS } from "../../test/harness/endpoints.js";
import { OUTPUT_TYPES } from "../../outputs/registry.js";

export interface Count {
  unique: number;
  duplicates: number;
  /** Epoch ms of the last delivery when the sink knows it, else 0 (the poller's clock is used). */
  lastAt: number;
}

export interface Counter {
  name: string;
  count(): Promise<Count>;
}

const LOKI_PUSH_PATH = "/insert/loki/api/v1/push";

async function lokiReady(): Promise<boolean> {
  try {
    const res = await request(`${LOGS.url}/insert/loki/ready`, { headersTimeout: 2000, bodyTimeout: 2000 });
    await res.body.dump();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

async function kafkaReady(): Promise<boolean> {
  const admin = new Kafka({ brokers: [...KAFKA.brokers], logLevel: logLevel.NOTHING, connectionTimeout: 2000, retry: { retries: 0 } }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return true;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** true, or why the fan-out scenario cannot run here. */
export async function fanoutAvailable(): Promise<true | string> {
  const missing = ["loki", "kafka"].filter((t) => !(t in OUTPUT_TYPES));
  if (missing.length > 0) return `Peregrine has no ${missing.join(" or ")} output in outputs/registry.ts yet`;
  if (!(await lokiReady())) return `no Loki push API answers at ${LOGS.url} (npm run services -- up victorialogs)`;
  if (!(await kafkaReady())) return `no Kafka broker answers at ${KAFKA.brokers[0]} (npm run services -- up kafka)`;
  return true;
}

async function lokiCount(hostname: string): Promise<number> {
  const query = `{hostname="${hostname}"} | stats count() as n`;
  const res = await request(`${LOGS.url}/select/logsql/query?query=${encodeURIComponent(query)}`);
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`Loki count query: ${res.statusCode} ${text}`);
  const line = text.trim().split("\n")[0];
  return line ? Number((JSON.parse(line) as { n?: string }).n ?? 0) : 0;
}

export async function startFanoutCounters(runId: string): Promise<{
  loki: { hostPort: string; pushPath: string };
  kafka: { broker: string; topic: string };
  counters: Counter[];
  close(): Promise<void>;
}> {
  const admin = new Kafka({ brokers: [...KAFKA.brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const topic = runId;
  await admin.createTopics({ topics: [{ topic, numPartitions: 3, replicationFactor: 1 }], waitForLeaders: true });
  const counters: Counter[] = [
    {
      name: "loki",
      async count() {
        return { unique: await lokiCount(runId), duplicates: 0, lastAt: 0 };
      },
    },
    {
      name: "kafka",
      async count() {
        const offsets = await admin.fetchTopicOffsets(topic);
        let n = 0;
        for (const p of offsets) n += Number(p.high) - Number(p.low);
        return { unique: n, duplicates: 0, lastAt: 0 };
      },
    },
  ];
  return {
    loki: { hostPort: LOGS.url, pushPath: LOKI_PUSH_PATH },
    kafka: { broker: KAFKA.brokers[0], topic },
    counters,
    async close() {
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    },
  };
}
