/**
 * The seed talk's three-action example, live: a real router with a Talon rules file (adapted
 * only in names) receives an "Unexpected outbound connection destination" alert naming a
 * Deployment's pod on the harness's cluster, and
 *   - creates the NetworkPolicy that cuts the pod's egress (Talon's, selecting the owner's labels),
 *   - stores the pod's last log lines in the harness's S3 bucket (aws:s3 output of kubernetes:log),
 *   - terminates the pod (it really goes; the ReplicaSet makes another).
 * terminate runs last: Talon stops a rule's actions after it unless told to continue.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ActionRecord } from "../../src/response/store.js";
import { S3 } from "../harness/endpoints.js";
import { TESTBASE } from "../harness/images/images.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { services } from "../harness/services.js";
import { KUBECONFIG, kubectlOrThrow, NODE_NAME } from "../harness/services/kubernetes.js";
import { isRoot } from "../unit/sensor/helpers.js";

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const suffix = randomBytes(3).toString("hex");
const ns = `pg-seed-${suffix}`;
const bucket = `pg-seed-logs-${suffix}`;

const RULES = `
- action: Disable outbound connections
  actionner: kubernetes:networkpolicy
  parameters:
    allow_cidr:
      - "192.168.1.0/24"

- action: Get last logs
  actionner: kubernetes:log
  parameters:
    tail_lines: 10
  output:
    target: aws:s3
    parameters:
      bucket: ${bucket}
      prefix: /logs/

- action: Terminate Pod
  actionner: kubernetes:terminate
  parameters:
    grace_period_seconds: 0

- rule: Suspicious outbound connection
  match:
    rules:
      - Unexpected outbound connection destination
    output_fields:
      - k8s.ns.name!=kube-system
  actions:
    - action: Disable outbound connections
    - action: Get last logs
    - action: Terminate Pod
`;

const kjson = (args: string[]): Json => JSON.parse(kubectlOrThrow([...args, "-o", "json"])) as Json;

async function waitFor<T>(what: string, get: () => T | undefined, ms = 120_000): Promise<T> {
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
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe.skipIf(!isRoot)("response: the seed's three-action example on the harness's cluster (root, kubernetes and s3 services)", () => {
  let router: RouterProcess | undefined;
  const s3 = new S3Client({ endpoint: S3.endpoint, region: S3.region, forcePathStyle: true, credentials: { accessKeyId: S3.accessKeyId, secretAccessKey: S3.secretAccessKey } });

  beforeAll(async () => {
    await services.start("kubernetes");
    await services.start("s3");
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const dir = mkdtempSync(join(tmpdir(), "peregrine-response-seed-"));
    const rules = join(dir, "rules.yaml");
    writeFileSync(rules, RULES);
    router = await startRouter({
      config: { outputs: [], response: { enabled: true, rules_files: [rules] } },
      // the actionners' credentials: the kubeconfig's current context; aws:s3 the AWS chain
      env: { KUBECONFIG, AWS_ENDPOINT_URL: S3.endpoint, AWS_ACCESS_KEY_ID: S3.accessKeyId, AWS_SECRET_ACCESS_KEY: S3.secretAccessKey, AWS_REGION: S3.region },
    });
  }, 45 * 60_000);

  afterAll(async () => {
    await router?.stop();
    s3.destroy();
    try {
      kubectlOrThrow(["delete", "namespace", ns, "--wait=false"]);
    } catch {
      /* not made when setup failed */
    }
  });

  it("an outbound-connection alert cuts the pod's egress, stores its last log lines in S3 and terminates it", async () => {
    kubectlOrThrow(["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }));
    kubectlOrThrow(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name: "client", namespace: ns },
        spec: {
          replicas: 1,
          selector: { matchLabels: { app: "client" } },
          template: {
            metadata: { labels: { app: "client" } },
            spec: {
              nodeName: NODE_NAME,
              hostNetwork: true,
              automountServiceAccountToken: false,
              terminationGracePeriodSeconds: 0,
              containers: [{ name: "main", image: TESTBASE.ref, imagePullPolicy: "Never", command: ["sh", "-c", "for i in $(seq 1 30); do echo \"request $i\"; done; sleep 3600"] }],
            },
          },
        },
      }),
    );
    const pod = await waitFor("the Deployment's pod to run and log", () => {
      const p = (kjson(["-n", ns, "get", "pods", "-l", "app=client"]).items as Json[]).find((i) => i.status?.phase === "Running");
      return p && kubectlOrThrow(["-n", ns, "logs", p.metadata.name]).includes("request 30") ? p : undefined;
    }, 180_000);
    const rs = (pod.metadata.ownerReferences as Json[]).find((o) => o.kind === "ReplicaSet")!.name as string;

    const res = await router!.post({
      rule: "Unexpected outbound connection destination",
      priority: "Notice",
      output: "Disallowed outbound connection destination (connection=10.0.0.1:4444)",
      time: new Date().toISOString(),
      source: "syscall",
      output_fields: { "k8s.ns.name": ns, "k8s.pod.name": pod.metadata.name, "fd.name": "10.0.0.1:4444", "proc.name": "nc" },
    });
    expect(res.status).toBe(200);
    const uuid = (res.json as { uuid: string }).uuid;
    let records: ActionRecord[] = [];
    await waitUntil(
      async () => {
        records = ((await router!.get(`/api/response?alert=${uuid}`)).json as { actions: ActionRecord[] }).actions;
        return records.length === 3 && records.every((r) => r.status !== "started");
      },
      120_000,
      "the three actions to be recorded",
    );
    const byAction = new Map(records.map((r) => [r.action, r]));
    for (const r of records) expect(r.status, `${r.action}: ${r.message}`).toBe("done");
    for (const r of records) expect(r.target?.identity).toMatchObject({ namespace: ns, name: pod.metadata.name, uid: pod.metadata.uid });

    // the NetworkPolicy exists, with the owner's selector
    const np = kjson(["-n", ns, "get", "networkpolicy", rs]);
    expect(np.spec).toEqual({ podSelector: { matchLabels: { app: "client" } }, policyTypes: ["Egress"], egress: [{ to: [{ ipBlock: { cidr: "192.168.1.0/24" } }] }] });
    expect(byAction.get("Disable outbound connections")?.objects?.networkpolicy).toBe(`${ns}/${rs}`);

    // the last 10 log lines are in the bucket
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "logs/" }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(new RegExp(`^logs/\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-\\d\\dZ_${ns}_${pod.metadata.name}_log$`));
    const body = await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keys[0]! }))).Body!.transformToString();
    expect(body).toBe(Array.from({ length: 10 }, (_, i) => `request ${21 + i}\n`).join(""));

    // the pod is gone; the ReplicaSet runs another under another name
    await waitFor("the terminated pod to be gone", () => {
      try {
        kubectlOrThrow(["-n", ns, "get", "pod", pod.metadata.name, "-o", "name"]);
        return undefined;
      } catch (err) {
        return /NotFound/.test((err as Error).message) ? true : undefined;
      }
    }, 60_000);
  }, 300_000);
});
