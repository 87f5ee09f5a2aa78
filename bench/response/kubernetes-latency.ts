/**
 * Latency of kubernetes:terminate, kubernetes:label and kubernetes:networkpolicy against the
 * harness's real API server: from the start of an action (resolve: the pod looked up by
 * namespace/name, its uid recorded) to its end (run: the uid-checked write acknowledged by the
 * API server). p50 and p99 over BENCH_N actions each, one at a time.
 *
 * terminate deletes pods bound to a Node object made for the run (no kubelet: the API server's
 * work is the same, and the harness's node is not loaded with hundreds of pods); label and
 * networkpolicy act again and again on one running pod of a Deployment. A last figure is the
 * time until a real container has stopped after terminate (the kubelet's part), over a few pods.
 *
 * Usage (root, kubernetes service up): node --import tsx bench/response/kubernetes-latency.ts
 */
import { randomBytes } from "node:crypto";
import { cpus, loadavg } from "node:os";
import type { Alert } from "../../src/alert.js";
import type { ActionParameters, Actionner } from "../../src/response/actionner.js";
import { kubernetesActionners, useKubernetesClient } from "../../src/response/actionners/kubernetes/index.js";
import { KubeActionClient } from "../../src/response/kubernetes/client.js";
import { makeAlert } from "../../test/harness/alerts.js";
import { TESTBASE } from "../../test/harness/images/images.js";
import { KUBECONFIG, KUBERNETES_VERSION, kubectlOrThrow, NODE_NAME } from "../../test/harness/services/kubernetes.js";

const N = Number(process.env.BENCH_N ?? 200);
const REAL = Number(process.env.BENCH_REAL ?? 5);
const suffix = randomBytes(3).toString("hex");
const ns = `pg-bench-${suffix}`;
const fakeNode = `pg-bench-node-${suffix}`;
const client = KubeActionClient.fromKubeconfig(KUBECONFIG);
useKubernetesClient(client);

const actionner = (name: string): Actionner => kubernetesActionners.find((a) => a.name === name)!;
const alertFor = (pod: string): Alert => makeAlert(1, { output_fields: { "k8s.ns.name": ns, "k8s.pod.name": pod } });

async function timed(name: string, alert: Alert, parameters: ActionParameters): Promise<number> {
  const a = actionner(name);
  const t0 = process.hrtime.bigint();
  const r = await a.resolve(alert, parameters);
  if (!r.ok) throw new Error(`${name}: ${r.message}`);
  const result = await a.run({ alert, parameters, target: r.target, signal: AbortSignal.timeout(60_000) });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (result.status !== "done") throw new Error(`${name}: ${result.status}: ${result.message}`);
  return ms;
}

function pct(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

const fmt = (v: number[]) => `p50 ${pct(v, 50).toFixed(1)} ms, p99 ${pct(v, 99).toFixed(1)} ms, max ${Math.max(...v).toFixed(1)} ms (n=${v.length})`;

const spec = (node: string, command = "sleep 3600") => ({
  nodeName: node,
  hostNetwork: true,
  automountServiceAccountToken: false,
  terminationGracePeriodSeconds: 0,
  containers: [{ name: "main", image: TESTBASE.ref, imagePullPolicy: "Never", command: ["sh", "-c", command] }],
});

async function waitFor<T>(what: string, get: () => T | undefined, ms = 180_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function main(): Promise<void> {
  kubectlOrThrow(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: [{ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }, { apiVersion: "v1", kind: "Node", metadata: { name: fakeNode } }] }));
  try {
    // terminate: N pods on the fake node, made in one request
    const pods = Array.from({ length: N }, (_, i) => ({ apiVersion: "v1", kind: "Pod", metadata: { name: `t-${i}`, namespace: ns, labels: { app: "t" } }, spec: spec(fakeNode) }));
    kubectlOrThrow(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items: pods }), 300_000);
    const terminate: number[] = [];
    for (let i = 0; i < N; i++) terminate.push(await timed("kubernetes:terminate", alertFor(`t-${i}`), { grace_period_seconds: 0, ignore_standalone_pods: false }));

    // label and networkpolicy: one running pod of a Deployment
    kubectlOrThrow(["apply", "-f", "-"], JSON.stringify({ apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "web", namespace: ns }, spec: { replicas: 1, selector: { matchLabels: { app: "web" } }, template: { metadata: { labels: { app: "web" } }, spec: spec(NODE_NAME) } } }));
    const web = await waitFor("the Deployment's pod", () => {
      const list = JSON.parse(kubectlOrThrow(["-n", ns, "get", "pods", "-l", "app=web", "-o", "json"])) as { items: { metadata: { name: string }; status?: { phase?: string } }[] };
      return list.items.find((p) => p.status?.phase === "Running")?.metadata.name;
    });
    const label: number[] = [];
    for (let i = 0; i < N; i++) label.push(await timed("kubernetes:label", alertFor(web), { labels: { suspicious: "true", seq: String(i) } }));
    const np: number[] = [];
    for (let i = 0; i < N; i++) np.push(await timed("kubernetes:networkpolicy", alertFor(web), { allow_cidr: [`10.${i % 250}.0.0/16`] }));

    // terminate until the container has really stopped (the kubelet's part), a few real pods
    const stopped: number[] = [];
    for (let i = 0; i < REAL; i++) {
      const name = `real-${i}`;
      kubectlOrThrow(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns }, spec: spec(NODE_NAME) }));
      await waitFor(`${name} to run`, () => (JSON.parse(kubectlOrThrow(["-n", ns, "get", "pod", name, "-o", "json"])) as { status?: { phase?: string } }).status?.phase === "Running" || undefined);
      const t0 = performance.now();
      await timed("kubernetes:terminate", alertFor(name), { grace_period_seconds: 0, ignore_standalone_pods: false });
      await waitFor(`${name} to be gone`, () => {
        try {
          kubectlOrThrow(["-n", ns, "get", "pod", name, "-o", "name"], undefined, 10_000);
          return undefined;
        } catch {
          return true;
        }
      }, 120_000);
      stopped.push(performance.now() - t0);
    }

    console.log(`Kubernetes ${KUBERNETES_VERSION} (harness, single node), ${cpus().length} CPUs, load average ${loadavg().map((l) => l.toFixed(1)).join(" ")}, ${new Date().toISOString()}`);
    console.log(`kubernetes:terminate      ${fmt(terminate)}`);
    console.log(`kubernetes:label          ${fmt(label)}`);
    console.log(`kubernetes:networkpolicy  ${fmt(np)}`);
    console.log(`terminate → pod gone from the API server (real container stopped by the kubelet): ${fmt(stopped)}`);
  } finally {
    for (const args of [
      ["delete", "namespace", ns, "--wait=false"],
      ["delete", "pods", "-n", ns, "--all", "--grace-period=0", "--force"],
      ["delete", "node", fakeNode, "--wait=false"],
    ])
      try {
        kubectlOrThrow(args, undefined, 120_000);
      } catch {
        /* best effort */
      }
    await client.close();
  }
}

await main();
