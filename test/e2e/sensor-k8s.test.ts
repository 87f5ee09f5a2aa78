/**
 * End to end, as root, on the harness's single-node Kubernetes (etcd, kube-apiserver,
 * kube-controller-manager, a kubelet on containerd): a Deployment (its pod template bound to
 * the node by spec.nodeName, host network, the local test image) makes a ReplicaSet and a
 * pod, whose container reads /etc/shadow in a loop. With detector.kubernetes pointed at the
 * API server, an alert raised a second or more after the container started carries the pod's
 * namespace, name, labels, replica set, deployment and service exactly as the API server
 * (kubectl get -o json) shows them, under both the k8s.* and the k8smeta.* names. The
 * metadata client also rides out an outage of the real API server (a relay in front of it is
 * cut and reopened): one warning, one recovery line, a full resync.
 */
import { randomBytes } from "node:crypto";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector, type SyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { runsTheSensor } from "../harness/sensor-lock.js";
import { services } from "../harness/services.js";
import { KUBECONFIG, kubectlOrThrow, NODE_NAME } from "../harness/services/kubernetes.js";
import { TESTBASE } from "../harness/images/images.js";
import { buildSensor, isRoot, waitFor } from "../unit/sensor/helpers.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { Writable } from "node:stream";
import { K8sMeta } from "../../src/detector/metadata/k8s.js";
import { kubeconfigCredentials } from "../../src/detector/metadata/k8s-client.js";
import { tmpdir } from "node:os";
import { join } from "node:path";

runsTheSensor();

const FIELDS = [
  "container.id",
  "k8s.ns.name",
  "k8s.pod.name",
  "k8s.pod.uid",
  "k8s.pod.labels",
  "k8s.pod.label[app]",
  "k8s.rs.name",
  "k8s.deployment.name",
  "k8s.deployment.uid",
  "k8s.svc.name",
  "k8s.ns.labels",
  "k8smeta.ns.name",
  "k8smeta.pod.name",
  "k8smeta.pod.uid",
  "k8smeta.pod.labels",
  "k8smeta.deployment.name",
  "k8smeta.rs.name",
  "k8smeta.svc.name",
];

const RULES = `
- rule: pg test shadow read in a pod
  desc: cat reads /etc/shadow in a container
  condition: evt.type in (open, openat) and fd.name=/etc/shadow and proc.name=cat and container.id != host
  output: "shadow read (${FIELDS.map((f) => `${f}=%${f}`).join(" ")})"
  priority: WARNING
`;

const SETUP_MS = 45 * 60_000; // a first run builds Kubernetes from source

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe.skipIf(!isRoot)("pod metadata from the API server on alerts (root, kubernetes service)", () => {
  let detector: SyscallDetector | undefined;
  const alerts: DetectorAlert[] = [];
  const suffix = randomBytes(3).toString("hex");
  const ns = `pg-k8s-${suffix}`;
  const deployment = "shadow-reader";

  beforeAll(async () => {
    await services.start("kubernetes");
    buildSensor();
    const dir = mkdtempSync(join(tmpdir(), "pg-k8s-"));
    const rules = join(dir, "rules.yaml");
    writeFileSync(rules, RULES);
    detector = await startSyscallDetector({
      rulesFiles: [rules],
      logger: pino({ level: "warn" }),
      onAlert: (a) => alerts.push(a),
      kubernetes: { enabled: true, kubeconfig: KUBECONFIG, nodeName: NODE_NAME },
    });
    await detector.ready;
  }, SETUP_MS);

  afterAll(async () => {
    await detector?.stop();
    try {
      kubectlOrThrow(["delete", "namespace", ns, "--wait=false"]);
    } catch {
      /* the namespace may not exist when setup failed */
    }
  });

  it("an alert from cat /etc/shadow in a Deployment's pod carries the pod's metadata as kubectl shows it", async () => {
    kubectlOrThrow(["apply", "-f", "-"], manifests(ns, deployment));
    // the pod, once its container runs (the kubelet reports its id)
    const pod = await waitForAsync("the Deployment's pod to run", () => {
      const list = JSON.parse(kubectlOrThrow(["-n", ns, "get", "pods", "-l", "app=shadow", "-o", "json"])) as Json;
      const p = (list.items as Json[]).find((i) => i.status?.phase === "Running" && i.status?.containerStatuses?.[0]?.containerID);
      return p;
    }, 180_000);
    const runningSince = Date.now();
    const containerId = String(pod.status.containerStatuses[0].containerID).replace(/^.*:\/\//, "").slice(0, 12);
    const rsName = (pod.metadata.ownerReferences as Json[]).find((o) => o.kind === "ReplicaSet")!.name as string;
    const rs = JSON.parse(kubectlOrThrow(["-n", ns, "get", "replicaset", rsName, "-o", "json"])) as Json;
    const deploy = JSON.parse(kubectlOrThrow(["-n", ns, "get", "deployment", deployment, "-o", "json"])) as Json;
    const namespace = JSON.parse(kubectlOrThrow(["get", "namespace", ns, "-o", "json"])) as Json;
    expect((rs.metadata.ownerReferences as Json[]).find((o) => o.kind === "Deployment")?.uid).toBe(deploy.metadata.uid);

    // the loop reads /etc/shadow every second; take an alert raised a second or more after the start
    const alert = await waitFor(
      "an alert from the pod's container, a second after it started",
      () =>
        alerts.find(
          (a) => a.output_fields["container.id"] === containerId && Date.parse(a.time) >= runningSince + 1000,
        ),
      120_000,
      () => alerts.slice(-3).map((a) => a.output).join("\n"),
    );
    const f = alert.output_fields;
    const labels = Object.entries(pod.metadata.labels as Record<string, string>).map(([k, v]) => `${k}:${v}`);
    expect(f["k8s.ns.name"]).toBe(pod.metadata.namespace);
    expect(f["k8s.pod.name"]).toBe(pod.metadata.name);
    expect(f["k8s.pod.uid"]).toBe(pod.metadata.uid);
    expect(f["k8s.pod.labels"]).toEqual(labels);
    expect(f["k8s.pod.label[app]"]).toBe("shadow");
    expect(f["k8s.rs.name"]).toBe(rs.metadata.name);
    expect(f["k8s.deployment.name"]).toBe(deploy.metadata.name);
    expect(f["k8s.deployment.uid"]).toBe(deploy.metadata.uid);
    expect(f["k8s.svc.name"]).toEqual(["shadow-svc"]);
    expect(f["k8s.ns.labels"]).toEqual(Object.entries(namespace.metadata.labels as Record<string, string>).map(([k, v]) => `${k}:${v}`));
    expect(f["k8smeta.ns.name"]).toBe(pod.metadata.namespace);
    expect(f["k8smeta.pod.name"]).toBe(pod.metadata.name);
    expect(f["k8smeta.pod.uid"]).toBe(pod.metadata.uid);
    expect(f["k8smeta.pod.labels"]).toEqual(labels);
    expect(f["k8smeta.rs.name"]).toBe(rs.metadata.name);
    expect(f["k8smeta.deployment.name"]).toBe(deploy.metadata.name);
    expect(f["k8smeta.svc.name"]).toEqual(["shadow-svc"]);
    expect(detector!.stats().kubernetes?.synced).toBe(true);
  }, 300_000);
});

describe.skipIf(!isRoot)("the metadata client across an API server outage (root, kubernetes service)", () => {
  beforeAll(async () => {
    await services.start("kubernetes");
  }, SETUP_MS);

  it("keeps what it had, logs one warning for the outage and one line when the server answers again, and resyncs", async () => {
    // a TCP relay in front of the real API server, closed and reopened to cut it off
    const api = new URL(kubeconfigCredentials(KUBECONFIG).server);
    const sockets = new Set<Socket>();
    let relay: Server | undefined;
    const open = (port: number) =>
      new Promise<number>((res) => {
        relay = createServer((c) => {
          const up = connect(Number(api.port), api.hostname);
          for (const s of [c, up]) {
            sockets.add(s);
            s.on("close", () => sockets.delete(s));
            s.on("error", () => s.destroy());
          }
          c.pipe(up).pipe(c);
        }).listen(port, "127.0.0.1", () => res((relay!.address() as { port: number }).port));
      });
    const close = () =>
      new Promise<void>((res) => {
        relay!.close(() => res());
        for (const s of sockets) s.destroy();
      });
    const port = await open(0);
    const lines: string[] = [];
    const logger = pino({ level: "info" }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    const meta = new K8sMeta({ credentials: { ...kubeconfigCredentials(KUBECONFIG), server: `https://127.0.0.1:${port}` }, nodeName: NODE_NAME, logger });
    meta.start();
    try {
      await waitFor("the first sync", () => (meta.stats().synced ? true : undefined), 60_000);
      const namespaces = meta.stats().namespaces;
      expect(namespaces).toBeGreaterThanOrEqual(4); // default, kube-system, kube-public, kube-node-lease
      await close();
      await waitFor("several failed requests", () => (meta.stats().apiErrors >= 12 ? true : undefined), 60_000);
      expect(meta.stats().synced).toBe(false);
      expect(meta.stats().namespaces).toBe(namespaces);
      expect(lines.filter((l) => l.includes("kubernetes API server unreachable"))).toHaveLength(1);
      await open(port);
      await waitFor("the resync", () => (meta.stats().synced ? true : undefined), 90_000, () => lines.join(""));
      expect(lines.filter((l) => l.includes("kubernetes API server answers again"))).toHaveLength(1);
      expect(lines.filter((l) => l.includes("kubernetes API server unreachable"))).toHaveLength(1);
    } finally {
      await meta.stop();
      await close();
    }
  }, 300_000);
});

async function waitForAsync<T>(what: string, get: () => T | undefined, ms: number): Promise<T> {
  const until = Date.now() + ms;
  let last = "";
  for (;;) {
    try {
      const v = get();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function manifests(ns: string, deployment: string): string {
  return JSON.stringify({
    apiVersion: "v1",
    kind: "List",
    items: [
      { apiVersion: "v1", kind: "Namespace", metadata: { name: ns, labels: { team: "peregrine-test" } } },
      {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "shadow-svc", namespace: ns, labels: { tier: "test" } },
        spec: { selector: { app: "shadow" }, ports: [{ port: 8080 }], clusterIP: "None" },
      },
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: deployment, namespace: ns, labels: { app: "shadow" } },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "shadow" } },
          template: {
            metadata: { labels: { app: "shadow", role: "reader" } },
            spec: {
              // no scheduler runs: the template binds the pod to this node
              nodeName: NODE_NAME,
              hostNetwork: true,
              automountServiceAccountToken: false,
              terminationGracePeriodSeconds: 0,
              containers: [
                {
                  name: "reader",
                  image: TESTBASE.ref,
                  imagePullPolicy: "Never",
                  command: ["sh", "-c", "while :; do cat /etc/shadow > /dev/null; sleep 1; done"],
                },
              ],
            },
          },
        },
      },
    ],
  });
}
