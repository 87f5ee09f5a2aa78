// The Loki output against a real Loki-protocol store (VictoriaLogs from the harness):
// create(config).send(batch) directly, then read back what arrived.
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ParseContext } from "../../src/config/schema.js";
import type { Output } from "../../src/delivery/output.js";
import { lokiOutput } from "../../outputs/loki/index.js";
import { makeAlert, makeAlerts, runId } from "../harness/alerts.js";
import { LOGS } from "../harness/endpoints.js";
import { Gateway } from "../harness/gateway.js";
import { queryLogs, waitForLogCount } from "../harness/logs-query.js";
import { services } from "../harness/services.js";

const ctx = { name: "loki-test", logger: pino({ level: "silent" }), dataDir: "/tmp" };
const outputs: Output[] = [];
let release: () => void = () => {};
beforeAll(async () => {
  release = await services.useExclusively("victorialogs");
});
afterAll(async () => {
  for (const o of outputs) await o.close();
  release();
});

function loki(config: Record<string, unknown>): Output {
  const pc = new ParseContext();
  const parsed = lokiOutput.schema.parse({ url: LOGS.lokiUrl, ...config }, pc, "outputs[0]");
  expect(pc.issues).toEqual([]);
  const out = lokiOutput.create(parsed, ctx);
  outputs.push(out);
  return out;
}

const signal = () => AbortSignal.timeout(15_000);

describe.each(["protobuf", "json"] as const)("Loki output, %s encoding", (encoding) => {
  it("delivers a batch as streams with the built-in, static and field labels", async () => {
    const run = runId();
    const out = loki({ encoding, labels: { run, env: "prod" }, label_fields: ["k8s.ns.name"], structured_metadata: ["uuid", "proc.pid"] });
    const batch = makeAlerts(300);
    expect(await out.send(batch, signal())).toEqual({ kind: "ok" });
    expect(await waitForLogCount(`{run="${run}"}`, 300)).toBe(300);

    // Three rules x three priorities in the batch: one stream per label set.
    for (let r = 0; r < 3; r++) expect(await waitForLogCount(`{run="${run}", rule="Test rule ${r}"}`, 100)).toBe(100);
    const rows = await queryLogs(`{run="${run}"} seq:=7`);
    expect(rows).toHaveLength(0); // seq is not a field of the line in text format
    const all = await queryLogs(`{run="${run}"}`);
    const byUuid = new Map(all.map((r) => [r.uuid, r]));
    const a = batch[7]!;
    const row = byUuid.get(a.uuid)!;
    expect(row).toBeDefined();
    expect(row._msg).toBe(a.output);
    expect(row._stream).toBe(
      `{env="prod",hostname="node-1",k8s_ns_name="payments",priority="${a.priority}",rule="${a.rule}",run="${run}",source="syscall"}`,
    );
    expect(row.proc_pid).toBe(String(a.output_fields["proc.pid"]));
    // Nanosecond digits survive.
    expect(row._time).toBe(a.time);
  });

  it("format json sends the whole alert as the line", async () => {
    const run = runId();
    const out = loki({ encoding, format: "json", labels: { run }, headers: { "VL-Loki-Disable-Message-Parsing": "true" } });
    const a = makeAlert(1, { output_fields: { "proc.name": "bash", quote: 'say "hi"\n' } });
    expect(await out.send([a], signal())).toEqual({ kind: "ok" });
    expect(await waitForLogCount(`{run="${run}"}`, 1)).toBe(1);
    const [row] = await queryLogs(`{run="${run}"}`);
    expect(JSON.parse(row!._msg)).toEqual(a);
  });

  it("sanitizes label names and skips empty label values", async () => {
    const run = runId();
    const out = loki({ encoding, labels: { run, "team-name": "blue", "9lives": "x" }, label_fields: ["container.image.repository"] });
    const a = makeAlert(1, { hostname: "" });
    a.custom_fields = { "container.image.repository": 'docker.io/library/"nginx"' };
    expect(await out.send([a], signal())).toEqual({ kind: "ok" });
    expect(await waitForLogCount(`{run="${run}"}`, 1)).toBe(1);
    const [row] = await queryLogs(`{run="${run}"}`);
    expect(row!._stream).toBe(
      `{_9lives="x",container_image_repository="docker.io/library/\\"nginx\\"",priority="${a.priority}",rule="${a.rule}",run="${run}",source="syscall",team_name="blue"}`,
    );
  });
});

describe("Loki output: tenants, auth, TLS and errors", () => {
  it("sends X-Scope-OrgID: lines land in that tenant only", async () => {
    const run = runId();
    const out = loki({ tenant: "42", labels: { run } });
    expect(await out.send(makeAlerts(5), signal())).toEqual({ kind: "ok" });
    expect(await waitForLogCount(`{run="${run}"}`, 5, { tenant: "42" })).toBe(5);
    expect(await waitForLogCount(`{run="${run}"}`, 1, { timeoutMs: 1500 })).toBe(0);
  });

  it("a 400 is a reject carrying the server's own message", async () => {
    const out = loki({ tenant: "not-a-tenant", labels: { run: runId() } });
    const r = await out.send(makeAlerts(2), signal());
    expect(r.kind).toBe("reject");
    if (r.kind !== "reject") return;
    expect(r.status).toBe(400);
    expect(r.reason).toMatch(/^Loki refused the batch: HTTP 400: .*not-a-tenant/);
  });

  it("pushes over TLS with basic auth; a wrong password fails the healthcheck clearly", async () => {
    const run = runId();
    const tls = { ca_file: LOGS.certs.caCert };
    const good = loki({ url: LOGS.authLokiUrl, tls, basic_auth: { username: LOGS.username, password: LOGS.password }, labels: { run } });
    await good.healthcheck!(signal());
    expect(await good.send(makeAlerts(3), signal())).toEqual({ kind: "ok" });
    expect(await waitForLogCount(`{run="${run}"}`, 3, { auth: true })).toBe(3);

    const bad = loki({ url: LOGS.authLokiUrl, tls, basic_auth: { username: LOGS.username, password: "wrong" } });
    await expect(bad.healthcheck!(signal())).rejects.toThrow(/Loki answered HTTP 401 .*check basic_auth \/ bearer_token \/ tenant/);
    // Wrong credentials are the destination's problem, not the alerts': they wait.
    const r = await bad.send(makeAlerts(1), signal());
    expect(r).toMatchObject({ kind: "retry", status: 401, reason: expect.stringMatching(/^Loki refused the credentials, tenant or URL: HTTP 401/) });

    // Without the CA the server's certificate is refused: a network-level failure, retried.
    const untrusted = loki({ url: LOGS.authLokiUrl, basic_auth: { username: LOGS.username, password: LOGS.password } });
    const u = await untrusted.send(makeAlerts(1), signal());
    expect(u.kind).toBe("retry");
    if (u.kind === "retry") expect(u.reason).toMatch(/certificate/i);
  });

  it("nothing listening is a retry, and the healthcheck names the URL", async () => {
    const out = loki({ url: "http://127.0.0.1:1/insert" });
    const r = await out.send(makeAlerts(1), signal());
    expect(r.kind).toBe("retry");
    if (r.kind === "retry") expect(r.reason).toMatch(/ECONNREFUSED/);
    await expect(out.healthcheck!(signal())).rejects.toThrow(/cannot reach Loki at http:\/\/127\.0\.0\.1:1\/insert\/loki\/api\/v1\/push/);
  });
});

describe("Loki output behind a gateway", () => {
  const gw = new Gateway(LOGS.url);
  beforeAll(async () => {
    await gw.start();
    gw.maxBody = 20_000;
  });
  afterAll(() => gw.stop());

  it("413 splits the batch until the halves fit; every alert arrives once", async () => {
    const run = runId();
    const out = loki({ url: `${gw.url}/insert`, encoding: "json", labels: { run } });
    gw.requests.length = 0;
    // Distinct lines so gzip cannot shrink the batch below the limit.
    const batch = makeAlerts(2000, (i) => ({ output: `alert ${i} ${runId()}${runId()}${runId()}` }));
    expect(await out.send(batch, signal())).toEqual({ kind: "ok" });
    expect(gw.requests[0]).toMatchObject({ status: 413 });
    expect(gw.requests[0]!.bytes).toBeGreaterThan(20_000);
    expect(gw.requests.filter((r) => r.status === 204).length).toBeGreaterThan(1);
    expect(await waitForLogCount(`{run="${run}"}`, 2000)).toBe(2000);
    expect(await waitForLogCount(`{run="${run}"}`, 2001, { timeoutMs: 1000 })).toBe(2000);
  });

  it("a single alert larger than the limit is rejected, the rest of its batch delivered", async () => {
    const run = runId();
    const out = loki({ url: `${gw.url}/insert`, encoding: "json", labels: { run } });
    const batch = makeAlerts(4);
    batch[2]!.output = Array.from({ length: 3000 }, () => runId()).join(" ");
    const r = await out.send(batch, signal());
    expect(r.kind).toBe("partial");
    if (r.kind !== "partial") return;
    expect(r.failed.map((f) => f.index)).toEqual([2]);
    expect(r.failed[0]!.result).toMatchObject({ kind: "reject", status: 413 });
    expect(await waitForLogCount(`{run="${run}"}`, 3)).toBe(3);
  });

  // The output's own headers win over `headers`, whatever their case: never two tenants or encodings.
  it.each([
    ["sends the bearer token, tenant and extra headers on every push", { "X-Team": "secops" }],
    [
      "extra headers never double the ones the output sets, whatever their case",
      { "Content-Type": "text/plain", "X-Scope-OrgID": "9", Authorization: "Basic eDp5", "X-Team": "secops" },
    ],
  ])("%s", async (_name, headers) => {
    const run = runId();
    const out = loki({ url: `${gw.url}/insert`, bearer_token: "t0ken", tenant: "7", headers, labels: { run } });
    gw.requests.length = 0;
    expect(await out.send(makeAlerts(2), signal())).toEqual({ kind: "ok" });
    expect(gw.requests[0]!.headers).toMatchObject({
      authorization: "Bearer t0ken",
      "x-scope-orgid": "7",
      "x-team": "secops",
      "content-type": "application/x-protobuf",
    });
    expect(await waitForLogCount(`{run="${run}"}`, 2, { tenant: "7" })).toBe(2);
  });

  it("429 and 503 are retries that carry Retry-After", async () => {
    const out = loki({ url: gw.url });
    gw.fault = { status: 429, headers: { "retry-after": "3" }, body: "rate limited" };
    expect(await out.send(makeAlerts(1), signal())).toMatchObject({ kind: "retry", status: 429, retryAfterMs: 3000 });
    gw.fault = { status: 503, body: "ingester not ready" };
    expect(await out.send(makeAlerts(1), signal())).toMatchObject({ kind: "retry", status: 503, reason: "HTTP 503: ingester not ready" });
    gw.fault = undefined;
  });
});

describe("Loki output config check", () => {
  it("warns about high-cardinality label fields and refuses duplicate labels", () => {
    const pc = new ParseContext();
    const cfg = lokiOutput.schema.parse(
      { url: LOGS.lokiUrl, labels: { "k8s-ns-name": "x" }, label_fields: ["proc.pid", "k8s.ns.name"] },
      pc,
      "outputs[0]",
    );
    lokiOutput.validate!(cfg, pc, "outputs[0]");
    expect(pc.issues).toEqual([
      expect.objectContaining({ path: "outputs[0].label_fields[0]", severity: "warning", message: expect.stringMatching(/proc\.pid.*structured_metadata/) }),
      expect.objectContaining({ path: "outputs[0].label_fields[1]", severity: "error", message: expect.stringMatching(/k8s_ns_name.*already set by outputs\[0\]\.labels\.k8s-ns-name/) }),
    ]);
  });

  it("basic_auth and bearer_token exclude each other", () => {
    const pc = new ParseContext();
    const cfg = lokiOutput.schema.parse({ url: LOGS.lokiUrl, basic_auth: { username: "u", password: "p" }, bearer_token: "t" }, pc, "o");
    lokiOutput.validate!(cfg, pc, "o");
    expect(pc.issues).toEqual([expect.objectContaining({ path: "o.bearer_token", severity: "error" })]);
  });
});
