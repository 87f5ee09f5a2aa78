/**
 * The kubernetes:* actionners against the harness's real single-node cluster (API server,
 * controller-manager, a kubelet on containerd), called directly the way the engine calls
 * them: resolve (the pod's uid looked up and recorded), then run on the recorded target.
 * What each did is read back with kubectl, not with the client under test. Pods are bound to
 * the node by spec.nodeName (no scheduler runs), host network, the local test image.
 *
 * cordon and drain act on a Node object made for the test (no kubelet behind it), never on
 * the harness's node that other tests' pods run on.
 */
import { randomBytes } from "node:crypto";
import { GetObjectCommand, ListObjectsV2Command, CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import type { ActionArtifact, ActionParameters, ActionResult, ActionTarget, Actionner } from "../../src/response/actionner.js";
import { kubernetesActionners, useKubernetesClient } from "../../src/response/actionners/kubernetes/index.js";
import { KubeActionClient } from "../../src/response/kubernetes/client.js";
import { configureArtifactTargets, storeArtifact } from "../../src/response/targets.js";
import { makeAlert } from "../harness/alerts.js";
import { S3 } from "../harness/endpoints.js";
import { TESTBASE } from "../harness/images/images.js";
import { services } from "../harness/services.js";
import { KUBECONFIG, kubectlOrThrow, NODE_NAME } from "../harness/services/kubernetes.js";
import { isRoot } from "../unit/sensor/helpers.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const SETUP_MS = 45 * 60_000; // a first run builds Kubernetes from source
const suffix = randomBytes(3).toString("hex");
const ns = `pg-resp-${suffix}`;
const fakeNode = `pg-fake-node-${suffix}`;
const bucket = `pg-resp-logs-${suffix}`;

const actionner = (name: string): Actionner => kubernetesActionners.find((a) => a.name === name)!;

function podAlert(pod: string, extra: Record<string, string> = {}): Alert {
  return makeAlert(1, { rule: "Unexpected outbound connection", output_fields: { "k8s.ns.name": ns, "k8s.pod.name": pod, "proc.name": "nc", ...extra } });
}

async function resolve(name: string, alert: Alert, parameters: ActionParameters = {}): Promise<ActionTarget> {
  const a = actionner(name);
  expect(a.checkParameters(parameters)).toEqual([]);
  const r = await a.resolve(alert, parameters);
  if (!r.ok) throw new Error(`${name} did not resolve: ${r.code}: ${r.message}`);
  return r.target;
}

function run(name: string, alert: Alert, target: ActionTarget, parameters: ActionParameters = {}): Promise<ActionResult> {
  return actionner(name).run({ alert, parameters, target, signal: AbortSignal.timeout(60_000) });
}

async function act(name: string, alert: Alert, parameters: ActionParameters = {}): Promise<{ target: ActionTarget; result: ActionResult }> {
  const target = await resolve(name, alert, parameters);
  return { target, result: await run(name, alert, target, parameters) };
}

/** The artifacts of a done result (none otherwise). */
function artifactsOf(r: ActionResult): readonly ActionArtifact[] {
  return r.status === "done" ? (r.artifacts ?? []) : [];
}

async function waitFor<T>(what: string, get: () => T | undefined | Promise<T | undefined>, ms = 120_000): Promise<T> {
  const until = Date.now() + ms;
  let last = "";
  for (;;) {
    try {
      const v = await get();
      if (v !== undefined) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${last ? `: ${last}` : ""}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

const kjson = (args: string[]): Json => JSON.parse(kubectlOrThrow([...args, "-o", "json"])) as Json;

function getPod(name: string): Json | undefined {
  try {
    return kjson(["-n", ns, "get", "pod", name]);
  } catch (err) {
    if (/NotFound/.test((err as Error).message)) return undefined;
    throw err;
  }
}

function podSpec(command: string, extra: Json = {}): Json {
  return {
    nodeName: NODE_NAME,
    hostNetwork: true,
    automountServiceAccountToken: false,
    terminationGracePeriodSeconds: 0,
    containers: [{ name: "main", image: TESTBASE.ref, imagePullPolicy: "Never", command: ["sh", "-c", command] }],
    ...extra,
  };
}

function apply(obj: Json): void {
  kubectlOrThrow(["apply", "-f", "-"], JSON.stringify(obj));
}

/** A standalone pod, running. */
async function standalonePod(name: string, command = "sleep 3600", labels: Record<string, string> = { app: name }): Promise<Json> {
  apply({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns, labels }, spec: podSpec(command) });
  return waitFor(`pod ${name} to run`, () => {
    const p = getPod(name);
    return p?.status?.phase === "Running" ? p : undefined;
  });
}

/** A Deployment's pod, running. */
async function deploymentPod(name: string, command = "sleep 3600"): Promise<Json> {
  apply({
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, namespace: ns },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name, tier: "web" } }, spec: podSpec(command) } },
  });
  return waitFor(`a running pod of deployment ${name}`, () => {
    const list = kjson(["-n", ns, "get", "pods", "-l", `app=${name}`]);
    return (list.items as Json[]).find((p) => p.status?.phase === "Running" && !p.metadata.deletionTimestamp);
  });
}

const s3 = new S3Client({ endpoint: S3.endpoint, region: S3.region, forcePathStyle: true, credentials: { accessKeyId: S3.accessKeyId, secretAccessKey: S3.secretAccessKey } });

describe.skipIf(!isRoot)("kubernetes actionners on the harness's cluster (root, kubernetes service)", () => {
  let client: KubeActionClient | undefined;

  beforeAll(async () => {
    await services.start("kubernetes");
    await services.start("s3");
    apply({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    client = KubeActionClient.fromKubeconfig(KUBECONFIG);
    useKubernetesClient(client);
    configureArtifactTargets({ aws: { endpoint: S3.endpoint, region: S3.region, force_path_style: true, access_key_id: S3.accessKeyId, secret_access_key: S3.secretAccessKey } });
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }, SETUP_MS);

  afterAll(async () => {
    useKubernetesClient(undefined);
    await client?.close();
    s3.destroy();
    for (const args of [
      ["delete", "namespace", ns, "--wait=false"],
      ["delete", "pods", "--all-namespaces", "--field-selector", `spec.nodeName=${fakeNode}`, "--grace-period=0", "--force"],
      ["delete", "node", fakeNode, "--wait=false"],
    ]) {
      try {
        kubectlOrThrow(args);
      } catch {
        /* not made when setup failed */
      }
    }
  });

  it("terminate deletes the Deployment's pod it resolved (the pod really stops), and a second run finds it gone", async () => {
    const pod = await deploymentPod("web");
    const alert = podAlert(pod.metadata.name);
    const { target, result } = await act("kubernetes:terminate", alert, { grace_period_seconds: 0 });
    expect(target.identity).toMatchObject({ namespace: ns, name: pod.metadata.name, uid: pod.metadata.uid, node: NODE_NAME });
    expect(result).toMatchObject({ status: "done", message: `the pod ${ns}/${pod.metadata.name} has been terminated` });
    await waitFor("the terminated pod to be gone from the API server", () => (getPod(pod.metadata.name) === undefined ? true : undefined), 60_000);
    // the ReplicaSet made a new pod, under another name; the recorded one is gone
    const replacement = await deploymentPod("web");
    expect(replacement.metadata.uid).not.toBe(pod.metadata.uid);
    expect((await run("kubernetes:terminate", alert, target, { grace_period_seconds: 0 })).status).toBe("gone");
    expect(getPod(replacement.metadata.name)?.metadata.uid).toBe(replacement.metadata.uid);
  }, 240_000);

  it("terminate leaves a standalone pod alone by Talon's default, and never hits a pod that replaced the recorded one under its name", async () => {
    const first = await standalonePod("solo");
    const alert = podAlert("solo");
    const ignored = await act("kubernetes:terminate", alert);
    expect(ignored.result.status).toBe("done");
    expect(ignored.result.message).toMatch(/^ignored: .*standalone pod/);
    expect(getPod("solo")?.metadata.uid).toBe(first.metadata.uid);

    const target = await resolve("kubernetes:terminate", alert, { ignore_standalone_pods: false });
    kubectlOrThrow(["-n", ns, "delete", "pod", "solo", "--grace-period=0", "--force"]);
    await waitFor("solo to be deleted", () => (getPod("solo") === undefined ? true : undefined), 60_000);
    const second = await standalonePod("solo");
    const result = await run("kubernetes:terminate", alert, target, { ignore_standalone_pods: false, grace_period_seconds: 0 });
    expect(result).toMatchObject({ status: "gone" });
    expect(result.message).toMatch(/was replaced/);
    expect(getPod("solo")?.metadata.uid).toBe(second.metadata.uid);
    expect(getPod("solo")?.metadata.deletionTimestamp).toBeUndefined();
  }, 240_000);

  it("label and annotation set and remove values on the pod (an empty value removes), and not on a replaced pod", async () => {
    await standalonePod("marked");
    const alert = podAlert("marked");
    const labelled = await act("kubernetes:label", alert, { labels: { suspicious: "true", "peregrine.dev/rule": "outbound" } });
    expect(labelled.result).toMatchObject({ status: "done", message: `the pod 'marked' in the namespace '${ns}' has been labeled` });
    expect(getPod("marked")?.metadata.labels).toEqual({ app: "marked", suspicious: "true", "peregrine.dev/rule": "outbound" });
    expect((await act("kubernetes:label", alert, { labels: { suspicious: "" } })).result.status).toBe("done");
    expect(getPod("marked")?.metadata.labels).toEqual({ app: "marked", "peregrine.dev/rule": "outbound" });

    const annotated = await act("kubernetes:annotation", alert, { annotations: { "peregrine.dev/alert": alert.uuid } });
    expect(annotated.result.status).toBe("done");
    expect(getPod("marked")?.metadata.annotations?.["peregrine.dev/alert"]).toBe(alert.uuid);

    const target = await resolve("kubernetes:label", alert, { labels: { late: "yes" } });
    kubectlOrThrow(["-n", ns, "delete", "pod", "marked", "--grace-period=0", "--force"]);
    await waitFor("marked to be deleted", () => (getPod("marked") === undefined ? true : undefined), 60_000);
    await standalonePod("marked");
    expect((await run("kubernetes:label", alert, target, { labels: { late: "yes" } })).status).toBe("gone");
    expect(getPod("marked")?.metadata.labels?.late).toBeUndefined();
  }, 240_000);

  it("networkpolicy creates Talon's deny-egress policy selecting the owner's labels, then updates it", async () => {
    const pod = await deploymentPod("api");
    const rs = (pod.metadata.ownerReferences as Json[]).find((o) => o.kind === "ReplicaSet")!.name as string;
    const alert = podAlert(pod.metadata.name);
    const params = { allow_cidr: ["192.168.1.0/24", "172.17.0.0/16"], allow_namespaces: ["green-ns"] };
    const first = await act("kubernetes:networkpolicy", alert, params);
    expect(first.result).toMatchObject({ status: "done", message: `the networkpolicy '${rs}' in the namespace '${ns}' has been created`, objects: { networkpolicy: `${ns}/${rs}` } });
    const np = kjson(["-n", ns, "get", "networkpolicy", rs]);
    expect(np.metadata.labels).toEqual({ app: "api", "app.k8s.io/managed-by": "falco-talon" });
    expect(np.spec).toEqual({
      podSelector: { matchLabels: { app: "api" } },
      policyTypes: ["Egress"],
      egress: [{ to: [{ ipBlock: { cidr: "192.168.1.0/24" } }, { ipBlock: { cidr: "172.17.0.0/16" } }, { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "green-ns" } } }] }],
    });
    // the policy selects the pod as the API server sees it
    const selected = kjson(["-n", ns, "get", "pods", "-l", "app=api"]);
    expect((selected.items as Json[]).map((p) => p.metadata.uid)).toContain(pod.metadata.uid);

    const second = await act("kubernetes:networkpolicy", alert, {});
    expect(second.result.message).toMatch(/has been updated$/);
    expect(kjson(["-n", ns, "get", "networkpolicy", rs]).spec).toEqual({ podSelector: { matchLabels: { app: "api" } }, policyTypes: ["Egress"] });
    expect(actionner("kubernetes:networkpolicy").checkParameters({ allow_cidr: ["10.0.0.0/33"] })).toEqual(["allow_cidr: wrong CIDR '10.0.0.0/33'"]);
  }, 240_000);

  it("log reads the container's last lines through the kubelet, and the artifact lands in the S3 bucket", async () => {
    await standalonePod("chatty", "for i in $(seq 1 50); do echo \"log line $i\"; done; sleep 3600");
    const alert = podAlert("chatty");
    await waitFor("the 50th log line", () => (kubectlOrThrow(["-n", ns, "logs", "chatty"]).includes("log line 50") ? true : undefined), 60_000);
    const { result } = await act("kubernetes:log", alert, { tail_lines: 5 });
    expect(result.status).toBe("done");
    const artifact = artifactsOf(result)[0];
    expect(artifact?.name).toBe(`${ns}_chatty_log`);
    const expected = ["46", "47", "48", "49", "50"].map((i) => `log line ${i}\n`).join("");
    expect(Buffer.from(artifact!.data).toString()).toBe(expected);
    const written = await storeArtifact("aws:s3", { bucket, prefix: "/logs/" }, artifact!);
    expect(written.ok).toBe(true);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "logs/" }));
    const key = listed.Contents?.find((o) => o.Key!.endsWith(`_${ns}_chatty_log`))?.Key;
    expect(key).toMatch(new RegExp(`^logs/\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\dZ_${ns}_chatty_log$`));
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key! }));
    expect(await got.Body!.transformToString()).toBe(expected);
    // Talon's default is 20 lines
    const dflt = await act("kubernetes:log", alert);
    expect(Buffer.from(artifactsOf(dflt.result)[0]!.data).toString().split("\n").filter(Boolean)).toHaveLength(20);
  }, 240_000);

  it("exec, script and download run in the container over the WebSocket exec protocol", async () => {
    await standalonePod("shell", "echo evidence-$(hostname) > /tmp/evidence; sleep 3600");
    const alert = podAlert("shell", { "fd.name": "/tmp/evidence" });
    await waitFor("the evidence file", async () => {
      const r = await act("kubernetes:exec", alert, { command: "test -s /tmp/evidence && echo ok" });
      return r.result.status === "done" ? true : undefined;
    }, 60_000);
    const exec = await act("kubernetes:exec", alert, { command: "echo pod=${K8S_POD_NAME} rule=$RULE; id -u; echo to-stderr >&2", shell: "/bin/sh" });
    expect(exec.result).toMatchObject({ status: "done", message: "pod=shell rule=Unexpected outbound connection\n0\n" });

    const failing = await act("kubernetes:exec", alert, { command: "echo nope >&2; exit 3" });
    expect(failing.result).toMatchObject({ status: "failed", code: "RESPONSE_ACTION_FAILED", retryable: false });
    expect((failing.result as { message: string }).message).toMatch(/exit 3.*nope/s);

    const script = await act("kubernetes:script", alert, { script: "set -e\necho \"read: $(cat ${FD_NAME})\"\nls /tmp\n" });
    expect(script.result.status).toBe("done");
    expect((script.result as { message: string }).message).toMatch(/^read: evidence-\S+\n(.*\n)*evidence\n/);

    const download = await act("kubernetes:download", alert, { file: "${FD_NAME}" });
    expect(download.result).toMatchObject({ status: "done", objects: { pod: `${ns}/shell`, file: "/tmp/evidence" } });
    const artifact = artifactsOf(download.result)[0]!;
    expect(artifact.name).toBe(`${ns}_shell__tmp_evidence`);
    expect(Buffer.from(artifact.data).toString()).toMatch(/^evidence-\S+\n$/);
    const missing = await act("kubernetes:download", alert, { file: "/no/such/file" });
    expect(missing.result).toMatchObject({ status: "failed", code: "RESPONSE_ACTION_FAILED" });
  }, 240_000);

  it("delete removes the resource a k8s_audit alert names, bound to its uid", async () => {
    apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "leaked", namespace: ns }, data: { a: "1" } });
    const alert = makeAlert(3, { source: "k8s_audit", output_fields: { "ka.target.resource": "configmaps", "ka.target.name": "leaked", "ka.target.namespace": ns } });
    const cm = kjson(["-n", ns, "get", "configmap", "leaked"]);
    const target = await resolve("kubernetes:delete", alert);
    expect(target.identity).toEqual({ resource: "configmaps", name: "leaked", namespace: ns, uid: cm.metadata.uid });
    // replaced under the same name before the action ran: left alone
    kubectlOrThrow(["-n", ns, "delete", "configmap", "leaked"]);
    apply({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "leaked", namespace: ns }, data: { a: "2" } });
    expect((await run("kubernetes:delete", alert, target)).status).toBe("gone");
    expect(kjson(["-n", ns, "get", "configmap", "leaked"]).data).toEqual({ a: "2" });
    const { result } = await act("kubernetes:delete", alert);
    expect(result).toMatchObject({ status: "done", message: `the configmap 'leaked' in the namespace '${ns}' has been deleted` });
    expect(() => kubectlOrThrow(["-n", ns, "get", "configmap", "leaked"])).toThrow(/NotFound/);
    const unresolved = await actionner("kubernetes:delete").resolve(makeAlert(4, { output_fields: { "ka.target.resource": "configmaps" } }), {});
    expect(unresolved).toMatchObject({ ok: false, code: "RESPONSE_TARGET_UNRESOLVED" });
  }, 120_000);

  it("cordon and drain act on the node of the pod (a Node made for the test): unschedulable, its pods evicted", async () => {
    apply({ apiVersion: "v1", kind: "Node", metadata: { name: fakeNode, labels: { "peregrine.dev/test": "response" } } });
    // bound to the fake node: never started (no kubelet), but a pod on it all the same
    for (const name of ["on-fake-1", "on-fake-2"]) apply({ apiVersion: "v1", kind: "Pod", metadata: { name, namespace: ns, labels: { app: "fake" } }, spec: { ...podSpec("sleep 3600"), nodeName: fakeNode } });
    const alert = podAlert("on-fake-1");
    const cordoned = await act("kubernetes:cordon", alert);
    expect(cordoned.target.identity).toMatchObject({ name: fakeNode, pod: `${ns}/on-fake-1` });
    expect(cordoned.result).toMatchObject({ status: "done", message: `the node '${fakeNode}' has been cordoned` });
    expect(kjson(["get", "node", fakeNode]).spec.unschedulable).toBe(true);
    expect(kjson(["get", "node", NODE_NAME]).spec.unschedulable).toBeUndefined();

    const drained = await act("kubernetes:drain", alert, { ignore_daemonsets: true });
    expect(drained.result.status).toBe("done");
    expect((drained.result as { message: string }).message).toMatch(/2 pods, 0 ignored, 0 eviction errors/);
    for (const name of ["on-fake-1", "on-fake-2"]) {
      const p = getPod(name);
      // evicted: deleted, or terminating while the (absent) kubelet would confirm
      expect(p === undefined || p.metadata.deletionTimestamp !== undefined).toBe(true);
    }
    // a node deleted and registered again under the name is another node
    kubectlOrThrow(["delete", "node", fakeNode]);
    apply({ apiVersion: "v1", kind: "Node", metadata: { name: fakeNode } });
    expect((await run("kubernetes:cordon", alert, cordoned.target)).status).toBe("gone");
    expect(kjson(["get", "node", fakeNode]).spec.unschedulable).toBeUndefined();
  }, 120_000);

  it("an alert without the pod's fields, or naming no such pod, resolves to no target", async () => {
    const terminate = actionner("kubernetes:terminate");
    expect(await terminate.resolve(makeAlert(5, { output_fields: { "k8s.ns.name": ns } }), {})).toMatchObject({ ok: false, code: "RESPONSE_TARGET_UNRESOLVED", message: expect.stringMatching(/k8s\.pod\.name/) });
    expect(await terminate.resolve(podAlert("no-such-pod"), {})).toMatchObject({ ok: false, code: "RESPONSE_TARGET_GONE" });
  });
});
