// The Alertmanager output against a real Alertmanager (Debian's prometheus-alertmanager,
// started by the harness on 127.0.0.1:9093): what arrives is read back through its API.
import pino from "pino";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ParseContext } from "../../src/config/schema.js";
import type { Output } from "../../src/delivery/output.js";
import { alertmanagerOutput } from "../../outputs/alertmanager/index.js";
import { makeAlert, makeAlerts, runId } from "../harness/alerts.js";
import { ALERTMANAGER } from "../harness/endpoints.js";
import { Receiver } from "../harness/receiver.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { services } from "../harness/services.js";

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: string };
}

const ctx = { name: "am-test", logger: pino({ level: "silent" }), dataDir: "/tmp" };
const outputs: Output[] = [];
let release: () => void = () => {};
// The conformance suite stops Alertmanager mid-run: never at the same time as these tests.
beforeAll(async () => {
  release = await services.useExclusively("alertmanager");
});
afterAll(async () => {
  for (const o of outputs) await o.close();
  release();
});

function parse(config: Record<string, unknown>): { issues: ParseContext["issues"]; value: unknown } {
  const pc = new ParseContext();
  const value = alertmanagerOutput.schema.parse(config, pc, "outputs[0]");
  return { issues: pc.issues, value };
}

function am(config: Record<string, unknown> = {}): Output {
  const { issues, value } = parse({ url: ALERTMANAGER.url, ...config });
  expect(issues).toEqual([]);
  const out = alertmanagerOutput.create(value as never, ctx);
  outputs.push(out);
  return out;
}

async function alertsOf(run: string): Promise<AmAlert[]> {
  const res = await request(`${ALERTMANAGER.url}/api/v2/alerts?filter=${encodeURIComponent(`run="${run}"`)}`);
  return (await res.body.json()) as AmAlert[];
}

const signal = () => AbortSignal.timeout(15_000);

describe("Alertmanager output, real Alertmanager", () => {
  it("passes its healthcheck", async () => {
    await expect(am().healthcheck!(signal())).resolves.toBeUndefined();
  });

  it("delivers a batch with Sidekick's labels and annotations", async () => {
    const run = runId();
    const out = am({ labels: { run, team: "sec" }, annotations: { runbook: "https://runbooks.example/falco" } });
    const batch = makeAlerts(20, (i) => ({ custom_fields: { cluster: "eu-1", seq_text: `s${i}` } }));
    expect(await out.send(batch, signal())).toEqual({ kind: "ok" });
    const got = await alertsOf(run);
    expect(got).toHaveLength(20);
    const a = batch[4]!;
    const mine = got.find((g) => g.annotations.uuid === a.uuid)!;
    expect(mine.labels).toEqual({
      alertname: a.rule,
      rule: a.rule,
      priority: a.priority,
      severity: a.priority === "Critical" ? "critical" : a.priority === "Warning" ? "warning" : "information",
      source: "falco",
      eventsource: "syscall",
      hostname: "node-1",
      tags: "filesystem,test",
      proc_name: "cat",
      proc_pid: String(a.output_fields["proc.pid"]),
      user_name: "root",
      fd_name: "/etc/shadow",
      k8s_ns_name: "payments",
      seq: "4",
      cluster: "eu-1",
      seq_text: "s4",
      run,
      team: "sec",
    });
    expect(mine.annotations).toMatchObject({
      summary: a.rule,
      description: a.output,
      info: a.output,
      runbook: "https://runbooks.example/falco",
    });
    expect(JSON.parse(mine.annotations.fields!)).toEqual(a.output_fields);
    expect(Date.parse(mine.startsAt)).toBe(Date.parse(a.time));
    expect(mine.status.state).toBe("active");
  });

  it("field_labels limits field labels; severity_map overrides severity", async () => {
    const run = runId();
    const out = am({ labels: { run }, field_labels: ["k8s.ns.name"], severity_map: { critical: "page", Warning: "ticket" } });
    const batch = [makeAlert(0), makeAlert(1), makeAlert(2)];
    expect(await out.send(batch, signal())).toEqual({ kind: "ok" });
    const got = await alertsOf(run);
    expect(got).toHaveLength(3);
    const byPriority = Object.fromEntries(got.map((g) => [g.labels.priority, g.labels]));
    expect(byPriority.Critical).toMatchObject({ severity: "page", k8s_ns_name: "payments" });
    expect(byPriority.Warning!.severity).toBe("ticket");
    expect(byPriority.Notice!.severity).toBe("information");
    expect(byPriority.Critical!.proc_name).toBeUndefined();
  });

  it("expires_after sets endsAt; an alert whose endsAt has passed arrives resolved", async () => {
    const run = runId();
    const out = am({ labels: { run }, field_labels: ["seq"], expires_after: "1h" });
    const fresh = makeAlert(0);
    const old = makeAlert(1, { time: new Date(Date.now() - 3 * 3_600_000).toISOString() });
    expect(await out.send([fresh, old], signal())).toEqual({ kind: "ok" });
    const got = await alertsOf(run);
    const active = got.find((g) => g.labels.seq === "0")!;
    expect(Date.parse(active.endsAt) - Date.parse(fresh.time)).toBe(3_600_000);
    // Alertmanager lists only unresolved alerts by default: the expired one is not there.
    expect(got.map((g) => g.labels.seq)).toEqual(["0"]);
  });

  it("config check refuses invalid label names, unknown priorities and a bad endpoint", () => {
    const { issues } = parse({ url: ALERTMANAGER.url, labels: { "bad-name": "x" }, severity_map: { urgent: "p1" }, endpoint: "api/v2/alerts" });
    expect(issues.map((i) => i.path).sort()).toEqual(["outputs[0].endpoint", "outputs[0].labels.bad-name", "outputs[0].severity_map.urgent"]);
    expect(parse({ url: "not a url" }).issues[0]!.path).toBe("outputs[0].url");
  });
});

describe("Alertmanager output, answers it classifies", () => {
  const receiver = new Receiver();
  beforeAll(async () => {
    await receiver.start();
  });
  afterAll(async () => {
    await receiver.stop();
  });

  it("a 400 on a batch is resent alert by alert: the refused one fails alone", async () => {
    receiver.requests.length = 0;
    receiver.behavior = (req) => (req.body.includes('"poison"') ? { status: 400, body: '{"code":400,"message":"bad alert"}' } : { status: 200 });
    const out = am({ url: receiver.url.replace(/\/$/, "") });
    const batch = [makeAlert(0), makeAlert(1, { output_fields: { poison: "yes" } }), makeAlert(2)];
    const result = await out.send(batch, signal());
    expect(result).toMatchObject({ kind: "partial", failed: [{ index: 1, result: { kind: "reject", status: 400 } }] });
    expect(receiver.requests.map((r) => (JSON.parse(r.body) as unknown[]).length)).toEqual([3, 1, 1, 1]);
    expect(receiver.requests.every((r) => r.url === "/api/v2/alerts" && r.method === "POST")).toBe(true);
  });

  it("429 and 5xx retry, honoring Retry-After; headers are sent", async () => {
    receiver.requests.length = 0;
    receiver.behavior = (_r, i) => (i === 0 ? { status: 429, headers: { "retry-after": "3" } } : { status: 503 });
    const out = am({ url: receiver.url, headers: { authorization: "Bearer t0ken" } });
    expect(await out.send([makeAlert(0)], signal())).toMatchObject({ kind: "retry", retryAfterMs: 3000, status: 429 });
    expect(await out.send([makeAlert(0)], signal())).toMatchObject({ kind: "retry", status: 503 });
    expect(receiver.requests[0]!.headers.authorization).toBe("Bearer t0ken");
  });

  it("a refused connection is a retry", async () => {
    const out = am({ url: "http://127.0.0.1:1" });
    expect((await out.send([makeAlert(0)], signal())).kind).toBe("retry");
  });
});

describe("Alertmanager through the router", () => {
  let router: RouterProcess | undefined;
  afterAll(async () => {
    await router?.stop();
  });

  it("a posted Falco alert reaches Alertmanager with enrichment labels", async () => {
    const run = runId();
    router = await startRouter({
      config: {
        enrich: { custom_fields: { cluster: "eu-1" }, templated_fields: { team: '{{or (index . "k8s.ns.labels.team") "unknown"}}' } },
        outputs: [{ name: "am", type: "alertmanager", url: ALERTMANAGER.url, labels: { run }, field_labels: ["k8s.ns.name"] }],
      },
    });
    const posted = await router.post({
      rule: "Terminal shell in container",
      priority: "Notice",
      output: "A shell was spawned",
      time: new Date().toISOString(),
      output_fields: { "k8s.ns.name": "payments", "k8s.ns.labels.team": "blue", "proc.name": "bash" },
      tags: ["container", "shell"],
      hostname: "node-7",
    });
    expect(posted.status).toBe(200);
    let got: AmAlert[] = [];
    await waitUntil(async () => (got = await alertsOf(run)).length === 1, 60_000, "the alert in Alertmanager");
    expect(got[0]!.labels).toMatchObject({
      alertname: "Terminal shell in container",
      priority: "Notice",
      severity: "information",
      hostname: "node-7",
      tags: "container,shell",
      k8s_ns_name: "payments",
      cluster: "eu-1",
      team: "blue",
    });
    expect(got[0]!.annotations.description).toBe("A shell was spawned");
  });
});
