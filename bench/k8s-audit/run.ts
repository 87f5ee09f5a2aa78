/**
 * k8s_audit throughput and latency (`node --import tsx bench/k8s-audit/run.ts [--events N]`):
 *
 * 1. the rule engine alone: audit events/s per CPU core through Falco's whole
 *    k8s_audit_rules.yaml (rule_matching first, Falco's default, and all), events already parsed;
 * 2. parse + evaluate: the same events as EventList bodies of 400 (the API server's default
 *    batch size), JSON.parse included;
 * 3. the endpoint: bodies of 400 events posted over HTTP to the real endpoint in front of a real
 *    router (journal on disk, fsync on), 4 at a time, 200 only after journaling; and the time
 *    from POST to 200 for one-event bodies.
 *
 * Events are a mix shaped like a cluster's audit stream: mostly controllers and kubelets
 * updating status, some reads, some user writes (the fixtures' ConfigMaps, pods, bindings,
 * exec, services, roles), each with its own auditID.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import pino from "pino";
import { startK8sAuditSource } from "../../src/cli/k8s-audit-extension.js";
import { loadConfig } from "../../src/config/index.js";
import { k8sAuditSource, loadRules, parseAuditBody, type K8sAuditEvent } from "../../src/detector/index.js";
import { Router } from "../../src/router.js";

const REPO = resolve(import.meta.dirname, "../..");
const K8S_RULES = resolve(REPO, "../shared/corpus/falco-plugins/k8s_audit_rules.yaml");
const FIXTURES = join(REPO, "test/fixtures/k8s-audit");
const BATCH = 400;

const { values } = parseArgs({ options: { events: { type: "string", default: "200000" }, seconds: { type: "string", default: "10" } } });
const N = Number(values.events);
const SECONDS = Number(values.seconds);

type Doc = Record<string, unknown>;

function templates(): Doc[] {
  const out: Doc[] = [];
  for (const f of readdirSync(FIXTURES).filter((n) => n.endsWith(".json")).sort()) {
    out.push(...(JSON.parse(readFileSync(join(FIXTURES, f), "utf8")) as { items: Doc[] }).items);
  }
  return out;
}

/** Background traffic: a kubelet patching a pod's status, a controller updating a ReplicaSet, a read. */
function background(i: number): Doc {
  const kinds = [
    { verb: "patch", resource: "pods", subresource: "status", user: "system:node:localhost", code: 200 },
    { verb: "update", resource: "replicasets", user: "system:serviceaccount:kube-system:replicaset-controller", code: 200 },
    { verb: "get", resource: "configmaps", user: "system:kube-controller-manager", code: 200 },
    { verb: "list", resource: "pods", user: "admin", code: 200 },
    { verb: "create", resource: "events", user: "system:node:localhost", code: 201 },
  ];
  const k = kinds[i % kinds.length]!;
  return {
    kind: "Event",
    apiVersion: "audit.k8s.io/v1",
    level: "RequestResponse",
    stage: "ResponseComplete",
    requestURI: `/api/v1/namespaces/default/${k.resource}/obj-${i % 97}${k.subresource ? `/${k.subresource}` : ""}`,
    verb: k.verb,
    user: { username: k.user, groups: ["system:authenticated"] },
    sourceIPs: ["127.0.0.1"],
    userAgent: "kubelet/v1.34.4 (linux/amd64) kubernetes/8b2a1c1",
    objectRef: { resource: k.resource, namespace: "default", name: `obj-${i % 97}`, apiVersion: "v1", ...(k.subresource ? { subresource: k.subresource } : {}) },
    responseStatus: { metadata: {}, code: k.code },
    requestObject: { kind: "Status", status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] } },
    requestReceivedTimestamp: "2026-12-07T21:14:11.100000Z",
    stageTimestamp: "2026-12-07T21:14:11.104000Z",
    annotations: { "authorization.k8s.io/decision": "allow", "authorization.k8s.io/reason": "" },
  };
}

/** 80 % background, 20 % the fixtures' user writes, each with its own auditID. */
function mix(n: number): Doc[] {
  const t = templates();
  const out: Doc[] = [];
  for (let i = 0; i < n; i++) {
    const base = i % 5 === 4 ? (structuredClone(t[i % t.length]!) as Doc) : background(i);
    base.auditID = `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
    out.push(base);
  }
  return out;
}

function cpuSeconds(start: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(start);
  return (u.user + u.system) / 1e6;
}

function engine(events: readonly K8sAuditEvent[], ruleMatching: "first" | "all"): { perCpuS: number; perS: number; alerts: number; rules: number } {
  const { ruleset, results } = loadRules({ files: [K8S_RULES], ruleMatching });
  if (!results.ok) throw new Error(JSON.stringify(results.errors[0]));
  const rules = ruleset.rules.filter((r) => r.enabled && r.source === "k8s_audit").length;
  // warm-up: let the JIT settle before measuring
  for (let i = 0; i < Math.min(events.length, 20_000); i++) ruleset.evaluate(k8sAuditSource, events[i]!);
  let alerts = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  for (let i = 0; i < events.length; i++) alerts += ruleset.evaluate(k8sAuditSource, events[i]!).length;
  const cpu = cpuSeconds(c0);
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  return { perCpuS: events.length / cpu, perS: events.length / wall, alerts, rules };
}

function parseAndEvaluate(bodies: readonly string[], count: number): { perCpuS: number } {
  const { ruleset } = loadRules({ files: [K8S_RULES] });
  const c0 = process.cpuUsage();
  for (const b of bodies) for (const ev of parseAuditBody(b)) ruleset.evaluate(k8sAuditSource, ev);
  return { perCpuS: count / cpuSeconds(c0) };
}

function post(url: string, body: string): Promise<number> {
  return new Promise((done, fail) => {
    const req = request(url, { method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on("end", () => done(res.statusCode ?? 0));
    });
    req.on("error", fail);
    req.end(body);
  });
}

async function endpoint(bodies: readonly string[], single: readonly string[]) {
  const dir = mkdtempSync(join(tmpdir(), "pg-bench-k8s-audit-"));
  const file = join(dir, "peregrine.yaml");
  writeFileSync(file, `storage: { path: ${dir}/data }\noutputs: []\ndetector:\n  rules_files: [${JSON.stringify(K8S_RULES)}]\n  k8s_audit: { enabled: true, port: 0 }\n`);
  const { config } = loadConfig(file, {});
  const logger = pino({ level: "warn" });
  const router = new Router(config!, logger);
  router.start();
  const audit = (await startK8sAuditSource(config!, router, logger))!;
  let events = 0;
  let statuses: Record<number, number> = {};
  const until = Date.now() + SECONDS * 1000;
  const c0 = process.cpuUsage();
  const t0 = Date.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (Date.now() < until) {
        const status = await post(audit.url, bodies[next++ % bodies.length]!);
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === 200) events += BATCH;
      }
    }),
  );
  const wall = (Date.now() - t0) / 1000;
  const cpu = cpuSeconds(c0);
  const throughput = { eventsPerS: events / wall, eventsPerCpuS: events / cpu, statuses, alerts: audit.stats().alerts };
  statuses = {};
  const lat: number[] = [];
  for (let i = 0; i < 500; i++) {
    const t = process.hrtime.bigint();
    await post(audit.url, single[i % single.length]!);
    lat.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  lat.sort((a, b) => a - b);
  await audit.close();
  await router.stop(0);
  return { ...throughput, p50: lat[Math.floor(lat.length * 0.5)]!, p99: lat[Math.floor(lat.length * 0.99)]! };
}

const docs = mix(N);
const bodies: string[] = [];
for (let i = 0; i < docs.length; i += BATCH) bodies.push(JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {}, items: docs.slice(i, i + BATCH) }));
const events = bodies.flatMap((b) => parseAuditBody(b));
const single = docs.slice(0, 1000).map((d) => JSON.stringify({ kind: "EventList", apiVersion: "audit.k8s.io/v1", metadata: {}, items: [d] }));

const first = engine(events, "first");
const all = engine(events, "all");
const parsed = parseAndEvaluate(bodies, events.length);
const http = await endpoint(bodies.slice(0, 100), single);
const load = readFileSync("/proc/loadavg", "utf8").split(" ")[0];
const f = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(`k8s_audit bench: ${events.length} events, ${first.rules} k8s_audit rules, load average ${load}`);
console.log(`| stage | events/s per CPU core | events/s wall | alerts |`);
console.log(`|---|---|---|---|`);
console.log(`| rules, rule_matching first | ${f(first.perCpuS)} | ${f(first.perS)} | ${first.alerts} |`);
console.log(`| rules, rule_matching all | ${f(all.perCpuS)} | ${f(all.perS)} | ${all.alerts} |`);
console.log(`| JSON.parse + rules (bodies of ${BATCH}) | ${f(parsed.perCpuS)} | | |`);
console.log(`| HTTP endpoint + journal (bodies of ${BATCH}, 4 in flight, ${SECONDS} s) | ${f(http.eventsPerCpuS)} | ${f(http.eventsPerS)} | ${http.alerts} |`);
console.log(`HTTP answers: ${JSON.stringify(http.statuses)}; one-event body, POST to 200: p50 ${http.p50.toFixed(2)} ms, p99 ${http.p99.toFixed(2)} ms`);
