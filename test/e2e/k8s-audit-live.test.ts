/**
 * Live, against the harness's real API server (root, kubernetes service): its audit webhook
 * backend (batch mode, policy: everything at RequestResponse but reads of events and leases)
 * posts to Peregrine's k8s_audit endpoint at its defaults (127.0.0.1:9765, /k8s-audit), which
 * evaluates Falco's k8s_audit_rules.yaml unchanged and journals through a real router. Real
 * kubectl calls: a ConfigMap holding an AWS access key, a privileged pod, a ServiceAccount
 * bound to cluster-admin, an exec into a running pod fire their rules once each with the API
 * server's values; their benign twins (an ordinary ConfigMap, an unprivileged pod, a binding
 * to view) stay silent.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { startK8sAuditSource } from "../../src/cli/k8s-audit-extension.js";
import { loadConfig } from "../../src/config/index.js";
import type { K8sAuditRunning } from "../../src/detector/index.js";
import { Router } from "../../src/router.js";
import { services } from "../harness/services.js";
import { ensureImages, TESTBASE } from "../harness/images/images.js";
import { AUDIT_WEBHOOK_URL, kubectlOrThrow, NODE_NAME } from "../harness/services/kubernetes.js";
import { isRoot, waitFor } from "../unit/sensor/helpers.js";

const REPO = resolve(import.meta.dirname, "../..");
const K8S_RULES = resolve(REPO, "../shared/corpus/falco-plugins/k8s_audit_rules.yaml");
const SETUP_MS = 45 * 60_000; // a first run builds Kubernetes from source
const ARRIVAL_MS = 120_000;

/** The running API server was started with the audit webhook and privileged pods (an older harness's was not). */
function apiServerAudits(): boolean {
  const r = spawnSync("pgrep", ["-f", "kube-apiserver --etcd-servers"], { encoding: "utf8" });
  return (r.stdout ?? "")
    .split("\n")
    .filter((p) => /^\d+$/.test(p))
    .some((pid) => {
      try {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        return cmdline.includes("--audit-webhook-config-file=") && cmdline.includes("--allow-privileged=true");
      } catch {
        return false;
      }
    });
}

const pod = (ns: string, name: string, privileged: boolean): string =>
  JSON.stringify({
    apiVersion: "v1",
    kind: "Pod",
    // no nodeName and no scheduler here: the pod stays Pending, only its creation matters
    metadata: { name, namespace: ns },
    spec: { containers: [{ name: "web", image: "docker.io/library/nginx:1.27", securityContext: { privileged } }] },
  });

describe.skipIf(!isRoot)("k8s_audit live from the API server's audit webhook (root, kubernetes service)", () => {
  let router: Router | undefined;
  let audit: K8sAuditRunning | undefined;
  const journaled: { alert: Alert; at: number }[] = [];
  const suffix = randomBytes(3).toString("hex");
  const ns = `pg-audit-${suffix}`;
  const bindings = [`pg-live-admin-${suffix}`, `pg-live-view-${suffix}`];
  let releaseService: (() => void) | undefined;

  beforeAll(async () => {
    releaseService = await services.useExclusively("kubernetes");
    await services.start("kubernetes");
    if (!apiServerAudits()) await services.restart("kubernetes");
    expect(AUDIT_WEBHOOK_URL).toBe("http://127.0.0.1:9765/k8s-audit");

    const dir = mkdtempSync(join(tmpdir(), "pg-k8s-audit-live-"));
    // a witness rule: once it fired for an object, every rule has seen that object's event
    const witness = join(dir, "witness.yaml");
    writeFileSync(
      witness,
      `- rule: pg live witness
  desc: an object of this test was created
  condition: jevt.value[/stage]=ResponseComplete and (ka.verb=create or ka.target.subresource=exec) and ka.target.name startswith pg-live-
  output: created %ka.target.resource %ka.target.name %ka.target.subresource
  priority: DEBUG
  source: k8s_audit
`,
    );
    const file = join(dir, "peregrine.yaml");
    writeFileSync(
      file,
      [
        `storage: { path: ${dir}/data, fsync: false }`,
        "outputs: []",
        "detector:",
        `  rules_files: [${JSON.stringify(K8S_RULES)}, ${JSON.stringify(witness)}]`,
        "  rule_matching: all",
        "  k8s_audit: { enabled: true }",
        "",
      ].join("\n"),
    );
    const { config, issues } = loadConfig(file, {});
    if (!config) throw new Error(JSON.stringify(issues));
    const logger = pino({ level: "warn" });
    router = new Router(config, logger);
    router.start();
    router.on("alert", (a: Alert) => journaled.push({ alert: a, at: Date.now() }));
    audit = await startK8sAuditSource(config, router, logger);
    kubectlOrThrow(["create", "namespace", ns]);
  }, SETUP_MS);

  afterAll(async () => {
    try {
      for (const b of bindings) kubectlOrThrow(["delete", "clusterrolebinding", b, "--ignore-not-found"]);
      kubectlOrThrow(["delete", "namespace", ns, "--ignore-not-found", "--wait=false"]);
    } finally {
      await audit?.close();
      await router?.stop(0);
      releaseService?.();
    }
  }, 120_000);

  const created = (name: string, subresource?: string) =>
    waitFor(
      `the API server's audit event for ${name}`,
      () =>
        journaled.find(
          (j) =>
            j.alert.rule === "pg live witness" &&
            j.alert.output_fields["ka.target.name"] === name &&
            (subresource === undefined || j.alert.output_fields["ka.target.subresource"] === subresource),
        ),
      ARRIVAL_MS,
      () => `endpoint stats: ${JSON.stringify(audit?.stats())}`,
    );
  /** Alerts of a rule for one object, counted by uuid (a batch the API server retried repeats them). */
  const fired = (rule: string, field: string, name: string): Alert[] => {
    const byUuid = new Map<string, Alert>();
    for (const { alert } of journaled) if (alert.rule === rule && alert.output_fields[field] === name) byUuid.set(alert.uuid, alert);
    return [...byUuid.values()];
  };

  it("a ConfigMap holding an AWS access key fires its rule once; an ordinary ConfigMap does not", async () => {
    const t0 = Date.now();
    kubectlOrThrow(["-n", ns, "create", "configmap", "pg-live-aws", "--from-literal=aws_access_key_id=AKIAIOSFODNN7EXAMPLE", "--from-literal=region=eu-west-1"]);
    kubectlOrThrow(["-n", ns, "create", "configmap", "pg-live-plain", "--from-literal=color=blue"]);
    await created("pg-live-aws");
    await created("pg-live-plain");
    const hits = fired("Create/Modify Configmap With Private Credentials", "ka.req.configmap.name", "pg-live-aws");
    expect(hits).toHaveLength(1);
    expect(hits[0]!.source).toBe("k8s_audit");
    expect(hits[0]!.output_fields).toMatchObject({ "ka.user.name": "admin", "ka.verb": "create", "ka.target.resource": "configmaps" });
    const at = journaled.find((j) => j.alert.uuid === hits[0]!.uuid)!.at;
    console.log(`k8s_audit live: kubectl create configmap to the journaled alert: ${at - t0} ms (webhook batch max wait 2 s)`);
    expect(fired("Create/Modify Configmap With Private Credentials", "ka.req.configmap.name", "pg-live-plain")).toHaveLength(0);
  }, ARRIVAL_MS * 2);

  it("a privileged pod fires Create Privileged Pod once with its image; the unprivileged twin does not", async () => {
    kubectlOrThrow(["apply", "-f", "-"], pod(ns, "pg-live-priv", true));
    kubectlOrThrow(["apply", "-f", "-"], pod(ns, "pg-live-plain-pod", false));
    await created("pg-live-priv");
    await created("pg-live-plain-pod");
    const hits = fired("Create Privileged Pod", "ka.resp.name", "pg-live-priv");
    expect(hits).toHaveLength(1);
    expect(hits[0]!.output_fields).toMatchObject({ "ka.target.namespace": ns, "ka.req.pod.containers.image": ["docker.io/library/nginx:1.27"] });
    expect(fired("Create Privileged Pod", "ka.resp.name", "pg-live-plain-pod")).toHaveLength(0);
  }, ARRIVAL_MS * 2);

  it("binding a ServiceAccount to cluster-admin fires its rule once; a binding to view does not", async () => {
    kubectlOrThrow(["create", "clusterrolebinding", bindings[0]!, "--clusterrole=cluster-admin", `--serviceaccount=${ns}:builder`]);
    kubectlOrThrow(["create", "clusterrolebinding", bindings[1]!, "--clusterrole=view", `--serviceaccount=${ns}:builder`]);
    await created(bindings[0]!);
    await created(bindings[1]!);
    const admin = journaled.filter((j) => j.alert.rule === "Attach to cluster-admin Role" && String(j.alert.output).includes(`"namespace":"${ns}"`));
    expect(new Set(admin.map((j) => j.alert.uuid)).size).toBe(1);
    expect(admin[0]!.alert.output).toContain(`subject=({"kind":"ServiceAccount","name":"builder","namespace":"${ns}"})`);
    // the view binding's event was evaluated (its witness fired) and raised no cluster-admin alert
    expect(admin.every((j) => !String(j.alert.output).includes(bindings[1]!))).toBe(true);
    expect(journaled.filter((j) => j.alert.rule === "Attach to cluster-admin Role")).toHaveLength(admin.length);
  }, ARRIVAL_MS * 2);

  it("an exec into a running pod fires Attach/Exec Pod once, with the command", async () => {
    await ensureImages();
    kubectlOrThrow(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "pg-live-exec", namespace: ns },
        spec: {
          // no scheduler runs: bound to the node, on the host network, the local test image
          nodeName: NODE_NAME,
          hostNetwork: true,
          automountServiceAccountToken: false,
          terminationGracePeriodSeconds: 0,
          containers: [{ name: "box", image: TESTBASE.ref, imagePullPolicy: "Never", command: ["sleep", "3600"] }],
        },
      }),
    );
    await waitFor(
      "the pod to run",
      () => {
        const p = JSON.parse(kubectlOrThrow(["-n", ns, "get", "pod", "pg-live-exec", "-o", "json"])) as { status?: { phase?: string } };
        return p.status?.phase === "Running" ? true : undefined;
      },
      180_000,
    );
    kubectlOrThrow(["-n", ns, "exec", "pg-live-exec", "--", "cat", "/etc/hostname"]);
    // kubectl execs over a WebSocket (verb get); its ResponseComplete follows its ResponseStarted
    await created("pg-live-exec", "exec");
    const hits = fired("Attach/Exec Pod", "ka.target.name", "pg-live-exec");
    expect(hits).toHaveLength(1);
    expect(hits[0]!.output_fields).toMatchObject({ "ka.target.namespace": ns, "ka.target.subresource": "exec", "ka.uri.param[command]": "cat" });
  }, 300_000);
});

