/**
 * Delivered alerts per second through the router to the real Loki-protocol store and the
 * real Kafka broker (the harness's services), one fresh router process per case.
 *
 *   node --import tsx bench/outputs/run.ts [--alerts 20000] [--cases loki-protobuf,kafka]
 *
 * Each case posts `--alerts` alerts over 32 connections (one alert per request as Falco's
 * http_output sends, or 100 per request), then waits until the service holds all of them.
 * "Accepted" is alerts answered 200 (journaled) per second of posting; "delivered" is alerts
 * per second from the first post until the last one is at the service. CPU is the router
 * process's user+system seconds over the whole case.
 *
 * Needs `npm run services -- up kafka victorialogs redis nats`.
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { request } from "undici";
import type { Alert } from "../../src/alert.js";
import { makeAlerts, runId } from "../../test/harness/alerts.js";
import { Redis } from "ioredis";
import { connect, StorageType, type NatsConnection } from "nats";
import { KAFKA, LOGS, NATS, REDIS } from "../../test/harness/endpoints.js";
import { topicRecordCount } from "../../test/harness/kafka-admin.js";
import { countLogs } from "../../test/harness/logs-query.js";
import { startRouter } from "../../test/harness/router-process.js";
import { cpuSeconds, mib, peakRssBytes } from "../compare-sidekick/procstats.js";

interface Case {
  name: string;
  perRequest: number;
  output(run: string): Record<string, unknown>;
  count(run: string): Promise<number>;
}

const lokiOutput = (encoding: string) => (run: string) => ({
  name: "loki",
  type: "loki",
  url: LOGS.lokiUrl,
  encoding,
  labels: { run },
  structured_metadata: ["uuid"],
});
const kafkaOutput = (compression: string) => (run: string) => ({
  name: "kafka",
  type: "kafka",
  brokers: KAFKA.brokers,
  topic: `peregrine.bench.${run}`,
  compression,
});
const redisOutput = (mode: string) => (run: string) => ({
  name: "redis",
  type: "redis",
  address: REDIS.address,
  key: `peregrine:bench:${run}`,
  mode,
});
let redisClient: Redis | undefined;
const redisCount = (mode: string) => (run: string) => {
  redisClient ??= new Redis({ host: "127.0.0.1", port: REDIS.port });
  const key = `peregrine:bench:${run}`;
  return mode === "stream" ? redisClient.xlen(key) : redisClient.llen(key);
};
let natsClient: NatsConnection | undefined;
const natsConn = async () => (natsClient ??= await connect({ servers: [...NATS.servers] }));
/** Core NATS keeps nothing: the bench subscribes before the router publishes and counts what it gets. */
const natsReceived = new Map<string, number>();
const natsOutput = (run: string) => {
  natsReceived.set(run, 0);
  void natsConn().then((nc) => nc.subscribe(`peregrine.bench.${run}`, { callback: () => natsReceived.set(run, natsReceived.get(run)! + 1) }));
  return { name: "nats", type: "nats", servers: NATS.servers, subject: `peregrine.bench.${run}` };
};
const natsCount = async (run: string) => natsReceived.get(run) ?? 0;
const BENCH_STREAM = "PEREGRINE_BENCH";
const ensureBenchStream = async () => {
  const jsm = await (await natsConn()).jetstreamManager();
  await jsm.streams.info(BENCH_STREAM).catch(() => jsm.streams.add({ name: BENCH_STREAM, subjects: ["peregrine.bench.js.>"], storage: StorageType.File, max_age: 3600 * 1e9 }));
};
/** The stream is made (once) while the router starts, seconds before the first alert is posted. */
const jetstreamOutput = (run: string) => {
  void ensureBenchStream();
  return { name: "jetstream", type: "jetstream", servers: NATS.servers, subject: `peregrine.bench.js.${run}` };
};
const jetstreamCount = async (run: string) => {
  const jsm = await (await natsConn()).jetstreamManager();
  const info = await jsm.streams.info(BENCH_STREAM, { subjects_filter: `peregrine.bench.js.${run}` });
  return info.state.subjects?.[`peregrine.bench.js.${run}`] ?? 0;
};
const lokiCount = (run: string) => countLogs(`{run="${run}"}`);
const kafkaCount = (run: string) => topicRecordCount(`peregrine.bench.${run}`);

const CASES: Case[] = [
  { name: "loki-protobuf", perRequest: 1, output: lokiOutput("protobuf"), count: lokiCount },
  { name: "loki-protobuf", perRequest: 100, output: lokiOutput("protobuf"), count: lokiCount },
  { name: "loki-json", perRequest: 1, output: lokiOutput("json"), count: lokiCount },
  { name: "kafka", perRequest: 1, output: kafkaOutput("none"), count: kafkaCount },
  { name: "kafka", perRequest: 100, output: kafkaOutput("none"), count: kafkaCount },
  { name: "kafka-gzip", perRequest: 1, output: kafkaOutput("gzip"), count: kafkaCount },
  { name: "redis", perRequest: 1, output: redisOutput("list"), count: redisCount("list") },
  { name: "redis", perRequest: 100, output: redisOutput("list"), count: redisCount("list") },
  { name: "redis-stream", perRequest: 1, output: redisOutput("stream"), count: redisCount("stream") },
  { name: "nats", perRequest: 1, output: natsOutput, count: natsCount },
  { name: "jetstream", perRequest: 1, output: jetstreamOutput, count: jetstreamCount },
  { name: "jetstream", perRequest: 100, output: jetstreamOutput, count: jetstreamCount },
];

async function post(url: string, alerts: readonly Alert[], perRequest: number, connections = 32): Promise<void> {
  const bodies: string[] = [];
  for (let i = 0; i < alerts.length; i += perRequest)
    bodies.push(perRequest === 1 ? JSON.stringify(alerts[i]) : JSON.stringify(alerts.slice(i, i + perRequest)));
  let next = 0;
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (;;) {
        const i = next++;
        if (i >= bodies.length) return;
        const res = await request(`${url}/`, { method: "POST", headers: { "content-type": "application/json" }, body: bodies[i] });
        await res.body.dump();
        if (res.statusCode !== 200) throw new Error(`router answered ${res.statusCode}`);
      }
    }),
  );
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { alerts: { type: "string", default: "20000" }, cases: { type: "string" } }, strict: true });
  const total = Number(values.alerts);
  if (!Number.isInteger(total) || total < 100) {
    console.error(`error: --alerts must be an integer of at least 100, got "${values.alerts}"`);
    return 2;
  }
  const wanted = values.cases?.split(",");
  const cases = wanted ? CASES.filter((c) => wanted.includes(c.name)) : CASES;
  if (cases.length === 0) {
    console.error(`error: --cases names none of ${[...new Set(CASES.map((c) => c.name))].join(", ")}`);
    return 2;
  }
  const rows: string[] = [];
  for (const c of cases) {
    const run = runId();
    console.error(`[bench] ${c.name}, ${c.perRequest} alert(s)/request, ${total} alerts`);
    const router = await startRouter({ config: { log: { level: "warn" }, outputs: [c.output(run)] } });
    try {
      const pid = router.proc.pid!;
      const cpu0 = cpuSeconds(pid) ?? 0;
      const alerts = makeAlerts(total);
      const t0 = performance.now();
      await post(router.url, alerts, c.perRequest);
      const posted = (performance.now() - t0) / 1000;
      let have = 0;
      const deadline = Date.now() + 300_000;
      while ((have = await c.count(run)) < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const delivered = (performance.now() - t0) / 1000;
      const cpu = (cpuSeconds(pid) ?? cpu0) - cpu0;
      const load = loadavg()[0]!.toFixed(1);
      rows.push(
        `| ${c.name} | ${c.perRequest} | ${Math.round(total / posted).toLocaleString("en-US")} | ${have >= total ? Math.round(total / delivered).toLocaleString("en-US") : `only ${have} of ${total} in 300 s`} | ${cpu.toFixed(1)} s | ${Math.round(total / cpu).toLocaleString("en-US")} | ${mib(peakRssBytes(pid))} | ${load} |`,
      );
    } finally {
      await router.stop("SIGTERM");
    }
  }
  console.log(`${total} alerts per case, 32 connections.\n`);
  console.log("| output | alerts/request | accepted/s | delivered/s | router CPU | alerts per CPU s | router peak RSS | load avg |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
  await redisClient?.quit();
  await natsClient?.drain();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  },
);
