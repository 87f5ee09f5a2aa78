/**
 * The Helm chart (deploy/helm/peregrine): `helm lint`, and `helm template` applied with
 * `kubectl apply --dry-run=server` to the kubernetes service's real API server, which
 * validates every object against its schemas and admission (nothing is persisted).
 * helm is built by the harness from its Go module (cached by version).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "../harness/paths.js";
import { runCommand, type CommandRun } from "../harness/run-command.js";
import { services } from "../harness/services.js";
import { ensureHelm } from "../harness/services/helm.js";
import { KUBECONFIG, KUBECTL } from "../harness/services/kubernetes.js";

const CHART = join(REPO_ROOT, "deploy", "helm", "peregrine");
const isRoot = process.getuid?.() === 0;
const tmp = mkdtempSync(join(tmpdir(), "peregrine-helm-"));
let helm = "";

async function helmRun(args: string[]): Promise<CommandRun> {
  return runCommand(helm, args, { env: { ...process.env, KUBECONFIG, HELM_CACHE_HOME: join(tmp, "cache"), HELM_CONFIG_HOME: join(tmp, "config"), HELM_DATA_HOME: join(tmp, "data") }, timeoutMs: 120_000 });
}

async function render(extra: string[] = []): Promise<string> {
  const r = await helmRun(["template", "peregrine", CHART, "--namespace", "default", ...extra]);
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout;
}

interface K8sObject {
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  data?: Record<string, string>;
}

const objects = (text: string) =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(!isRoot)("the Helm chart against the real API server (root: the kubernetes service runs a kubelet)", () => {
  beforeAll(async () => {
    // first runs build helm and Kubernetes from their Go modules
    helm = await ensureHelm();
    await services.start("kubernetes");
  }, 60 * 60_000);

  it("passes helm lint, with the defaults and with the ServiceMonitor and a given token", async () => {
    const plain = await helmRun(["lint", "--strict", CHART]);
    expect(plain.stdout + plain.stderr).toContain("1 chart(s) linted, 0 chart(s) failed");
    expect(plain.status).toBe(0);
    const all = await helmRun(["lint", "--strict", CHART, "--set", "serviceMonitor.enabled=true", "--set", "auth.token=s3cret"]);
    expect(all.stdout + all.stderr).toContain("0 chart(s) failed");
    expect(all.status).toBe(0);
  });

  it("renders a detector DaemonSet, a router StatefulSet with a PVC, Services, ConfigMaps and the token Secret", async () => {
    const objs = objects(await render(["--set", "auth.token=s3cret"]));
    const kinds = objs.map((o) => `${o.kind}/${o.metadata.name}`).sort();
    expect(kinds).toEqual([
      "ConfigMap/peregrine-detector",
      "ConfigMap/peregrine-router",
      "DaemonSet/peregrine-detector",
      "Secret/peregrine-auth",
      "Service/peregrine-router",
      "Service/peregrine-router-headless",
      "StatefulSet/peregrine-router",
    ]);
    const text = JSON.stringify(objs);
    // the detector sends to the router's Service, with the Secret's token
    const ds = objs.find((o) => o.kind === "DaemonSet")!;
    const dsPod = (ds.spec as { template: { spec: Record<string, unknown> } }).template.spec;
    const detector = (dsPod.containers as { args: string[]; securityContext: Record<string, unknown> }[])[0]!;
    expect(detector.args.slice(0, 3)).toEqual(["detect", "--router", "http://peregrine-router.default.svc:2801"]);
    expect(detector.args).toContain("$(INGEST_TOKEN)");
    expect(dsPod.hostPID).toBe(true);
    // capabilities, not privileged
    expect(detector.securityContext).toMatchObject({ privileged: false, capabilities: { drop: ["ALL"], add: ["BPF", "PERFMON", "SYS_RESOURCE", "SYS_PTRACE"] } });
    expect(JSON.stringify(dsPod.volumes)).toContain('"type":"DirectoryOrCreate"');
    const sts = objs.find((o) => o.kind === "StatefulSet")!;
    expect(JSON.stringify(sts.spec)).toContain('"volumeClaimTemplates"');
    expect(JSON.stringify(sts.spec)).toContain('"path":"/healthz"');
    expect(JSON.stringify(sts.spec)).toContain('"runAsNonRoot":true');
    const secret = objs.find((o) => o.kind === "Secret")!;
    expect(Buffer.from(secret.data!.token!, "base64").toString()).toBe("s3cret");
    const cfg = objs.find((o) => o.metadata.name === "peregrine-router" && o.kind === "ConfigMap")!;
    expect(cfg.data!["peregrine.yaml"]).toContain("${INGEST_TOKEN}");
    expect(text).not.toContain("s3cret\""); // the token only in the Secret, base64
    // the router's and the detector's rendered peregrine.yaml pass Peregrine's own config check
    for (const name of ["peregrine-router", "peregrine-detector"]) {
      const file = join(tmp, `${name}.yaml`);
      writeFileSync(file, objs.find((o) => o.kind === "ConfigMap" && o.metadata.name === name)!.data!["peregrine.yaml"]!);
      const check = await runCommand(process.execPath, ["--import", "tsx", join(REPO_ROOT, "src", "cli.ts"), "config", "check", "-c", file], {
        cwd: REPO_ROOT,
        env: { ...process.env, INGEST_TOKEN: "s3cret" },
      });
      expect(check.stderr, name).toBe("");
      expect(check.stdout, name).toContain(": valid;");
      expect(check.status, name).toBe(0);
    }
  });

  it("is accepted by the API server (kubectl apply --dry-run=server)", async () => {
    for (const [label, extra] of [
      ["defaults", []],
      ["privileged detector, no persistence, generated token", ["--set", "detector.privileged=true", "--set", "router.persistence.enabled=false"]],
    ] as const) {
      const file = join(tmp, `rendered-${label.length}.yaml`);
      writeFileSync(file, await render([...extra]));
      const r = await runCommand(KUBECTL, [`--kubeconfig=${KUBECONFIG}`, "apply", "--dry-run=server", "-n", "default", "-f", file], { timeoutMs: 120_000 });
      expect(r.stderr, label).toBe("");
      expect(r.status, label).toBe(0);
      for (const o of ["daemonset.apps/peregrine-detector", "statefulset.apps/peregrine-router", "service/peregrine-router", "configmap/peregrine-router", "secret/peregrine-auth"])
        expect(r.stdout, label).toMatch(new RegExp(`^${o} created \\(server dry run\\)$`, "m"));
    }
  });

  it("is refused by the API server when a value breaks the schema (the dry run validates, it does not rubber-stamp)", async () => {
    const file = join(tmp, "bad.yaml");
    writeFileSync(file, await render(["--set", "router.replicas=-1"]));
    const r = await runCommand(KUBECTL, [`--kubeconfig=${KUBECONFIG}`, "apply", "--dry-run=server", "-n", "default", "-f", file], { timeoutMs: 120_000 });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/StatefulSet.*peregrine-router.*replicas/s);
  });
});
