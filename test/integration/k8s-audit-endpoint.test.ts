/**
 * The k8s_audit source through its real HTTP endpoint and a real router (journal on disk):
 * audit.k8s.io/v1 EventList bodies shaped as an API server's webhook sends them, and one
 * recorded from the harness's API server (test/fixtures/k8s-audit/), evaluated against Falco's
 * own k8s_audit_rules.yaml, unchanged.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { startK8sAuditSource } from "../../src/cli/k8s-audit-extension.js";
import { loadConfig } from "../../src/config/index.js";
import type { K8sAuditRunning } from "../../src/detector/index.js";
import { Router } from "../../src/router.js";

const REPO = resolve(import.meta.dirname, "../..");
const K8S_RULES = resolve(REPO, "../shared/corpus/falco-plugins/k8s_audit_rules.yaml");
const SYSCALL_RULES = resolve(REPO, "../shared/corpus/falco-rules/falco_rules.yaml");
const FIXTURES = join(REPO, "test/fixtures/k8s-audit");
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), "utf8");

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function post(url: string, body: string | Buffer, contentType = "application/json"): Promise<Answer> {
  return new Promise((done, fail) => {
    const req = request(url, { method: "POST", headers: { "content-type": contentType, "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => done({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.setTimeout(60_000, () => req.destroy(new Error("no answer within 60 s")));
    req.on("error", fail);
    req.end(body);
  });
}

async function setup(extra: string, detectorExtra = ""): Promise<{ router: Router; audit: K8sAuditRunning; journaled: Alert[] }> {
  const dir = mkdtempSync(join(tmpdir(), "peregrine-k8s-audit-"));
  const file = join(dir, "peregrine.yaml");
  writeFileSync(
    file,
    [
      `storage: { path: ${dir}/data, fsync: false }`,
      "outputs: []",
      "detector:",
      `  rules_files: [${JSON.stringify(SYSCALL_RULES)}, ${JSON.stringify(K8S_RULES)}]`,
      // every matching rule, so one rule's alert is never hidden by an earlier rule's
      "  rule_matching: all",
      ...(detectorExtra ? [`  ${detectorExtra}`] : []),
      "  k8s_audit:",
      "    enabled: true",
      "    port: 0",
      ...extra.split("\n").filter((l) => l !== "").map((l) => `    ${l}`),
      "",
    ].join("\n"),
  );
  const { config, issues } = loadConfig(file, {});
  if (!config) throw new Error(JSON.stringify(issues));
  const logger = pino({ level: "silent" });
  const router = new Router(config, logger);
  router.start();
  const journaled: Alert[] = [];
  router.on("alert", (a: Alert) => journaled.push(a));
  const audit = await startK8sAuditSource(config, router, logger);
  if (!audit) throw new Error("k8s_audit did not start");
  return { router, audit, journaled };
}

describe("k8s_audit endpoint with Falco's k8s_audit rules", () => {
  let router: Router;
  let audit: K8sAuditRunning;
  let journaled: Alert[];
  beforeAll(async () => {
    ({ router, audit, journaled } = await setup("max_body_bytes: 64KiB"));
  }, 120_000);
  afterAll(async () => {
    await audit?.close();
    await router?.stop(0);
  });

  /** Posts a fixture; the alerts it journaled are those journaled before the 200 came back. */
  async function replay(name: string): Promise<Alert[]> {
    const before = journaled.length;
    const a = await post(audit.url, fixture(name));
    expect(a.status, a.body).toBe(200);
    return journaled.slice(before);
  }
  const named = (alerts: Alert[], rule: string): Alert[] => alerts.filter((a) => a.rule === rule);

  it("loads every k8s_audit rule of the file", () => {
    expect(audit.rulesLoaded).toBeGreaterThanOrEqual(40);
    expect(audit.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/k8s-audit$/);
  });

  it("a ConfigMap holding an AWS access key fires its rule once, journaled before the 200; an ordinary one does not", async () => {
    const alerts = await replay("configmap-aws-key.json");
    const hits = named(alerts, "Create/Modify Configmap With Private Credentials");
    expect(hits).toHaveLength(1);
    const a = hits[0]!;
    expect(a.source).toBe("k8s_audit");
    expect(a.priority).toBe("Warning");
    expect(a.output_fields).toMatchObject({ "ka.user.name": "kubernetes-admin", "ka.verb": "create", "ka.target.resource": "configmaps", "ka.req.configmap.name": "aws-creds" });
    expect(a.output).toContain("K8s configmap with private credential (user=kubernetes-admin verb=create resource=configmaps configmap=aws-creds)");
    // Falco's default output prefix: the local clock time (%evt.time), nanoseconds in output_fields
    expect(a.output).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{9}: Warning K8s configmap/);
    const ns = a.output_fields["evt.time"] as number;
    expect(ns - Date.parse(a.time) * 1e6).toBeGreaterThanOrEqual(0);
    expect(ns - Date.parse(a.time) * 1e6).toBeLessThan(1e6);
    // Falco's time is the event's stageTimestamp
    expect(a.time).toBe(JSON.parse(fixture("configmap-aws-key.json")).items[0].stageTimestamp.replace(/(\.\d+)Z$/, (_: string, f: string) => `${f.padEnd(10, "0")}Z`));

    const benign = await replay("configmap-benign.json");
    expect(named(benign, "Create/Modify Configmap With Private Credentials")).toHaveLength(0);
    expect(named(benign, "K8s ConfigMap Created")).toHaveLength(1);
  });

  it("a privileged pod fires Create Privileged Pod once with its image; the unprivileged twin does not", async () => {
    const hits = named(await replay("pod-privileged.json"), "Create Privileged Pod");
    expect(hits).toHaveLength(1);
    expect(hits[0]!.output_fields).toMatchObject({ "ka.resp.name": "priv-web", "ka.target.namespace": "default", "ka.req.pod.containers.image": ["docker.io/library/nginx:1.27"] });
    expect(hits[0]!.output).toContain("images=(docker.io/library/nginx:1.27) init_images=<NA>");
    expect(named(await replay("pod-unprivileged.json"), "Create Privileged Pod")).toHaveLength(0);
  });

  it("an exec into a pod fires Attach/Exec Pod once (its ResponseStarted event), with the command", async () => {
    const hits = named(await replay("pod-exec.json"), "Attach/Exec Pod");
    expect(hits).toHaveLength(1);
    expect(hits[0]!.output_fields).toMatchObject({ "ka.target.name": "plain-web", "ka.target.subresource": "exec", "ka.uri.param[command]": "cat" });
  });

  it("binding a service account to cluster-admin fires its rule once; a binding to view does not", async () => {
    const hits = named(await replay("clusterrolebinding-cluster-admin.json"), "Attach to cluster-admin Role");
    expect(hits).toHaveLength(1);
    expect(hits[0]!.output).toContain('subject=({"kind":"ServiceAccount","name":"builder","namespace":"ci"})');
    expect(named(await replay("clusterrolebinding-view.json"), "Attach to cluster-admin Role")).toHaveLength(0);
  });

  it("replayed events one node cannot produce fire their rules once each", async () => {
    const alerts = await replay("replay-cluster.json");
    for (const rule of [
      "Anonymous Request Allowed",
      "Create NodePort Service",
      "ClusterRole With Wildcard Created",
      "EphemeralContainers Created",
      "Ingress Object without TLS Certificate Created",
      "Create HostNetwork Pod",
    ]) {
      expect(named(alerts, rule), rule).toHaveLength(1);
    }
    const eph = named(alerts, "EphemeralContainers Created")[0]!;
    expect(eph.output_fields).toMatchObject({
      "jevt.value[/requestObject/ephemeralContainers/0/name]": "debugger-x2k9",
      "jevt.value[/requestObject/ephemeralContainers/0/image]": "docker.io/library/busybox:1.36",
    });
    // allow_all_k8s_nodes is always true in Falco's file: the untrusted-node rules stay off
    expect(named(alerts, "Untrusted Node Successfully Joined the Cluster")).toHaveLength(0);
  });

  it("events recorded from the test harness's API server (kubectl v1.34) fire the same rules, their twins silent", async () => {
    const alerts = await replay("recorded-kubectl.json");
    const by = (rule: string, field: string, name: string) => alerts.filter((a) => a.rule === rule && a.output_fields[field] === name);
    expect(by("Create/Modify Configmap With Private Credentials", "ka.req.configmap.name", "pg-rec-aws")).toHaveLength(1);
    expect(by("Create/Modify Configmap With Private Credentials", "ka.req.configmap.name", "pg-rec-plain")).toHaveLength(0);
    expect(by("Create Privileged Pod", "ka.resp.name", "pg-rec-priv")).toHaveLength(1);
    expect(by("Create Privileged Pod", "ka.resp.name", "pg-rec-plain")).toHaveLength(0);
    const admin = named(alerts, "Attach to cluster-admin Role");
    expect(admin).toHaveLength(1);
    expect(admin[0]!.output).toContain('subject=({"kind":"ServiceAccount","name":"builder","namespace":"pg-rec"})');
    expect(by("Create Disallowed Namespace", "ka.target.name", "pg-rec")).toHaveLength(1);
  });

  /** A fixture as another batch: new auditIDs, so alerts the file raised before are not retries. */
  const fresh = (name: string, tag: string): { items: Record<string, unknown>[] } => {
    const list = JSON.parse(fixture(name)) as { items: Record<string, unknown>[] };
    for (const item of list.items) item.auditID = `${String(item.auditID)}-${tag}`;
    return list;
  };

  it("a retried batch (same auditIDs, same uuids) is answered 200 again and journaled once", async () => {
    const body = JSON.stringify(fresh("pod-privileged.json", "retry"));
    const before = journaled.length;
    const a = await post(audit.url, body);
    expect(a.status, a.body).toBe(200);
    const first = named(journaled.slice(before), "Create Privileged Pod");
    expect(first).toHaveLength(1);
    const again = await post(audit.url, body);
    expect(again.status, again.body).toBe(200);
    expect(named(journaled.slice(before), "Create Privileged Pod").map((x) => x.uuid)).toEqual(first.map((x) => x.uuid));
  });

  it("a single Event body is accepted as well as an EventList", async () => {
    const event = fresh("pod-privileged.json", "single").items[0];
    const before = journaled.length;
    const a = await post(audit.url, JSON.stringify(event));
    expect(a.status).toBe(200);
    expect(JSON.parse(a.body)).toEqual({ events: 1, alerts: journaled.length - before });
    expect(named(journaled.slice(before), "Create Privileged Pod")).toHaveLength(1);
  });

  it("malformed bodies get 400 with the reason and journal nothing", async () => {
    const before = journaled.length;
    const notJson = await post(audit.url, "{not json");
    expect(notJson.status).toBe(400);
    expect(JSON.parse(notJson.body)).toMatchObject({ error: { code: "K8S_AUDIT_INVALID_BODY" } });
    expect(JSON.parse(notJson.body).error.message).toMatch(/^body: not valid JSON/);

    const wrongKind = await post(audit.url, JSON.stringify({ kind: "PodList", items: [] }));
    expect(wrongKind.status).toBe(400);
    expect(JSON.parse(wrongKind.body).error.message).toBe('body.kind: expected EventList or Event, got "PodList"');

    const list = JSON.parse(fixture("pod-privileged.json"));
    const bad = structuredClone(list.items[0]);
    delete bad.stageTimestamp;
    list.items.push(bad);
    const noTime = await post(audit.url, JSON.stringify(list));
    expect(noTime.status).toBe(400);
    expect(JSON.parse(noTime.body).error.message).toMatch(/^body\.items\[1\]\.stageTimestamp: missing/);
    expect(journaled.length).toBe(before);

    const text = await post(audit.url, fixture("pod-privileged.json"), "text/plain");
    expect(text.status).toBe(415);
  });

  it("a body over max_body_bytes gets 413", async () => {
    const list = JSON.parse(fixture("configmap-benign.json"));
    list.items[0].requestObject.data.blob = "x".repeat(70 * 1024);
    const a = await post(audit.url, JSON.stringify(list));
    expect(a.status).toBe(413);
    expect(JSON.parse(a.body)).toMatchObject({ error: { code: "K8S_AUDIT_BODY_TOO_LARGE" } });
  });

  it("other methods get 405 and other paths 404", async () => {
    const get = await new Promise<number>((done, fail) => request(audit.url, { method: "GET" }, (r) => (r.resume(), done(r.statusCode ?? 0))).on("error", fail).end());
    expect(get).toBe(405);
    const other = await post(audit.url.replace(/\/k8s-audit$/, "/other"), fixture("pod-privileged.json"));
    expect(other.status).toBe(404);
  });
});

describe("k8s_audit endpoint under a flood", () => {
  let router: Router;
  let audit: K8sAuditRunning;
  let journaled: Alert[];
  beforeAll(async () => {
    ({ router, audit, journaled } = await setup("max_in_flight: 1\nretry_after: 2s"));
  }, 120_000);
  afterAll(async () => {
    await audit?.close();
    await router?.stop(0);
  });

  it("past max_in_flight a batch gets 429 with Retry-After, and the held batch still gets its 200", async () => {
    const body = Buffer.from(fixture("pod-privileged.json"));
    // one batch in flight: its body is half sent, so the endpoint holds it
    const held = request(audit.url, { method: "POST", headers: { "content-type": "application/json", "content-length": body.length } });
    const firstAnswer = new Promise<Answer>((done, fail) => {
      held.on("response", (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d));
        res.on("end", () => done({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      });
      held.on("error", fail);
    });
    held.write(body.subarray(0, 100));
    held.flushHeaders();
    // the endpoint counts the held batch once its headers arrived: poll until a second one is refused
    const deadline = Date.now() + 60_000;
    let second: Answer;
    for (;;) {
      second = await post(audit.url, body);
      if (second.status === 429 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(second.status).toBe(429);
    expect(second.headers["retry-after"]).toBe("2");
    expect(JSON.parse(second.body)).toMatchObject({ error: { code: "K8S_AUDIT_BUSY" } });

    const before = journaled.length;
    held.end(body.subarray(100));
    const first = await firstAnswer;
    expect(first.status).toBe(200);
    expect(journaled.length).toBeGreaterThan(before);
    // the slot is free again
    expect((await post(audit.url, body)).status).toBe(200);
  }, 120_000);

  it("a sender that goes away mid-body frees its slot", async () => {
    const body = Buffer.from(fixture("pod-privileged.json"));
    const gone = request(audit.url, { method: "POST", headers: { "content-type": "application/json", "content-length": body.length } });
    gone.on("error", () => {});
    gone.write(body.subarray(0, 100));
    gone.flushHeaders();
    // held: a second batch is refused while it is
    const deadline = Date.now() + 60_000;
    let busy: Answer;
    for (;;) {
      busy = await post(audit.url, body);
      if (busy.status === 429 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(busy.status).toBe(429);
    gone.destroy();
    // then the slot frees: a batch is taken again (polled: the close reaches the server a moment later)
    let after: Answer;
    for (;;) {
      after = await post(audit.url, body);
      if (after.status === 200 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(after.status).toBe(200);
  }, 120_000);
});

describe("k8s_audit endpoint when the journal refuses", () => {
  it("answers 503 with Retry-After, so the API server sends the batch again", async () => {
    const { router, audit, journaled } = await setup("retry_after: 3s");
    try {
      // a stopped router's journal is closed: it accepts nothing
      await router.stop(0);
      const a = await post(audit.url, fixture("pod-privileged.json"));
      expect(a.status).toBe(503);
      expect(a.headers["retry-after"]).toBe("3");
      expect(JSON.parse(a.body)).toMatchObject({ error: { code: "K8S_AUDIT_NOT_JOURNALED" } });
      expect(journaled).toHaveLength(0);
    } finally {
      await audit.close();
    }
  }, 120_000);
});

describe("k8s_audit with detector.time_format_iso_8601", () => {
  it("prefixes the output with the UTC ISO 8601 time, as Falco does", async () => {
    const { router, audit, journaled } = await setup("", "time_format_iso_8601: true");
    try {
      const a = await post(audit.url, fixture("configmap-aws-key.json"));
      expect(a.status, a.body).toBe(200);
      const hit = journaled.find((x) => x.rule === "Create/Modify Configmap With Private Credentials")!;
      expect(hit.output).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{9}\+0000: Warning K8s configmap/);
      expect(typeof hit.output_fields["evt.time.iso8601"]).toBe("number");
    } finally {
      await audit.close();
      await router.stop(0);
    }
  });
});
