/**
 * Loki push encodings side by side: protobuf+snappy (Loki's native format) and JSON+gzip.
 * For one batch of alerts: encode time (CPU of this process), body bytes, and end-to-end
 * pushes to the harness's Loki-protocol store (output.send in a loop, no router).
 *
 *   node --import tsx bench/outputs/encoding.ts [--alerts 1000] [--rounds 40]
 *
 * Needs `npm run services -- up victorialogs` for the push part.
 */
import { parseArgs } from "node:util";
import pino from "pino";
import { ParseContext } from "../../src/config/schema.js";
import { lokiOutput } from "../../outputs/loki/index.js";
import { encodeRequest, type LokiEncoding } from "../../outputs/loki/encode.js";
import { planLabels } from "../../outputs/loki/labels.js";
import { makeAlerts, runId } from "../../test/harness/alerts.js";
import { LOGS } from "../../test/harness/endpoints.js";
import { countLogs } from "../../test/harness/logs-query.js";
import { runningPid } from "../../test/harness/proc.js";
import { readFileSync } from "node:fs";

/** CPU seconds (user+system) a process has used, from /proc/PID/stat. */
function processCpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

const { values } = parseArgs({ options: { alerts: { type: "string", default: "1000" }, rounds: { type: "string", default: "40" } } });
const perBatch = Number(values.alerts);
const rounds = Number(values.rounds);
if (!Number.isInteger(perBatch) || perBatch < 1 || !Number.isInteger(rounds) || rounds < 1) {
  console.error("error: --alerts and --rounds must be positive integers");
  process.exit(2);
}

const alerts = makeAlerts(perBatch);
const jsonBytes = Buffer.byteLength(JSON.stringify(alerts));
const options = { plan: planLabels({ env: "bench" }, ["k8s.ns.name"]), format: "text" as const, metadata: [["uuid", "uuid"]] as [string, string][] };

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

const rows: string[] = [];
for (const encoding of ["protobuf", "json"] as LokiEncoding[]) {
  for (let i = 0; i < 5; i++) await encodeRequest(alerts, options, encoding); // warm-up
  const c0 = cpuMs();
  const t0 = performance.now();
  let bytes = 0;
  for (let i = 0; i < rounds; i++) bytes = (await encodeRequest(alerts, options, encoding)).body.length;
  const wall = (performance.now() - t0) / rounds;
  const cpu = (cpuMs() - c0) / rounds;

  const run = runId();
  const pc = new ParseContext();
  const cfg = lokiOutput.schema.parse({ url: LOGS.lokiUrl, encoding, labels: { run, env: "bench" }, label_fields: ["k8s.ns.name"], structured_metadata: ["uuid"] }, pc, "bench");
  const out = lokiOutput.create(cfg, { name: "bench", logger: pino({ level: "silent" }), dataDir: "/tmp" });
  const storePid = runningPid("victorialogs");
  const s0 = processCpuSeconds(storePid);
  const p0 = performance.now();
  for (let i = 0; i < rounds; i++) {
    const r = await out.send(makeAlerts(perBatch), AbortSignal.timeout(30_000));
    if (r.kind !== "ok") throw new Error(`push failed: ${JSON.stringify(r)}`);
  }
  const pushSeconds = (performance.now() - p0) / 1000;
  const storeCpuMsPerBatch = ((processCpuSeconds(storePid) - s0) * 1000) / rounds;
  await out.close();
  let stored = 0;
  for (let i = 0; i < 40 && stored < rounds * perBatch; i++) {
    stored = await countLogs(`{run="${run}"}`);
    if (stored < rounds * perBatch) await new Promise((r) => setTimeout(r, 250));
  }
  rows.push(
    `| ${encoding === "protobuf" ? "protobuf + snappy" : "JSON + gzip"} | ${(bytes / 1024).toFixed(0)} KiB (${((bytes / jsonBytes) * 100).toFixed(1)} %) | ${wall.toFixed(1)} ms | ${cpu.toFixed(1)} ms | ${Math.round((rounds * perBatch) / pushSeconds).toLocaleString("en-US")} | ${storeCpuMsPerBatch.toFixed(1)} ms | ${stored === rounds * perBatch ? "all" : `${stored} of ${rounds * perBatch}`} |`,
  );
}

console.log(`Batch: ${perBatch} alerts, ${(jsonBytes / 1024).toFixed(0)} KiB as alert JSON; ${rounds} rounds each.\n`);
console.log("| encoding | body (vs alert JSON) | encode, wall | encode, CPU | pushed alerts/s (send loop, no router) | store CPU per batch | stored |");
console.log("|---|---|---|---|---|---|---|");
for (const r of rows) console.log(r);
