/**
 * The Kubernetes actionners' parameter checks (Talon's names and rules), the alert-field
 * expansion in commands, and the NetworkPolicy built for a pod that has no owner. What they do
 * against a real API server is in test/e2e/response-kubernetes.test.ts.
 */
import { describe, expect, it } from "vitest";
import { kubernetesActionners } from "../../src/response/actionners/kubernetes/index.js";
import { parseMinHealthy } from "../../src/response/actionners/kubernetes/common.js";
import { expandAlertVars, networkPolicyFor } from "../../src/response/actionners/kubernetes/pod.js";
import { makeAlert } from "../harness/alerts.js";

const check = (name: string, p: Record<string, unknown>) => kubernetesActionners.find((a) => a.name === name)!.checkParameters(p);

describe("kubernetes actionners: parameters", () => {
  it("has Talon's eleven names", () => {
    expect(kubernetesActionners.map((a) => a.name).sort()).toEqual(
      ["annotation", "cordon", "delete", "download", "drain", "exec", "label", "log", "networkpolicy", "script", "terminate"].map((n) => `kubernetes:${n}`),
    );
  });

  it("terminate", () => {
    expect(check("kubernetes:terminate", { grace_period_seconds: 5, ignore_daemonsets: true, ignore_statefulsets: true, ignore_standalone_pods: true, min_healthy_replicas: "33%" })).toEqual([]);
    expect(check("kubernetes:terminate", { min_healthy_replicas: 2 })).toEqual([]);
    expect(check("kubernetes:terminate", { grace_period_seconds: -1, ignore_daemonsets: "yes", min_healthy_replicas: "150%" })).toEqual([
      "grace_period_seconds: must be a whole number >= 0, got -1",
      'ignore_daemonsets: must be true or false, got "yes"',
      'min_healthy_replicas: must be a whole number or a percentage (0-100%), got "150%"',
    ]);
    expect(parseMinHealthy("33%")).toEqual({ value: 33, percent: true });
    expect(parseMinHealthy("3")).toEqual({ value: 3, percent: false });
    expect(parseMinHealthy(undefined)).toBeUndefined();
    expect(parseMinHealthy("x")).toBeNull();
  });

  it("label, annotation, networkpolicy, log", () => {
    expect(check("kubernetes:label", { labels: { suspicious: "true" }, level: "node" })).toEqual([]);
    expect(check("kubernetes:label", {})).toEqual(["labels: required, a map of names to values"]);
    expect(check("kubernetes:label", { labels: {} })).toEqual(["labels: should have at least one entry"]);
    expect(check("kubernetes:annotation", { annotations: { a: "b" }, level: "cluster" })).toEqual(['level: must be pod or node, got "cluster"']);
    expect(check("kubernetes:networkpolicy", { allow_cidr: ["192.168.1.0/24", "fd00::/8"], allow_namespaces: ["green-ns"] })).toEqual([]);
    expect(check("kubernetes:networkpolicy", { allow_cidr: ["192.168.1.0/24", "300.1.1.1/8", "10.0.0.0"] })).toEqual(["allow_cidr: wrong CIDR '300.1.1.1/8'", "allow_cidr: wrong CIDR '10.0.0.0'"]);
    // Talon's own rules.yaml still carries an older name: ignored, as Talon ignores it
    expect(check("kubernetes:networkpolicy", { allow: ["192.168.1.0/24"] })).toEqual([]);
    expect(check("kubernetes:log", { tail_lines: "x" })).toEqual(['tail_lines: must be a whole number >= 0, got "x"']);
  });

  it("exec, script, download, drain", () => {
    expect(check("kubernetes:exec", {})).toEqual(["command: required"]);
    expect(check("kubernetes:script", {})).toEqual(["script: missing parameter 'script' or 'file'"]);
    expect(check("kubernetes:script", { script: "ps", file: "/x" })).toEqual(["script: 'script' and 'file' parameters can't be set at the same time"]);
    expect(check("kubernetes:download", {})).toEqual(["file: required"]);
    expect(check("kubernetes:drain", { max_wait_period: 30, wait_period_excluded_namespaces: ["a"], ignore_errors: true })).toEqual([]);
    expect(check("kubernetes:drain", { wait_period_excluded_namespaces: "a" })).toEqual(["wait_period_excluded_namespaces: must be a list of strings"]);
  });
});

describe("kubernetes actionners: alert fields in commands", () => {
  it("expands Talon's names for the alert's fields, and its fixed ones", () => {
    const alert = makeAlert(1, { rule: "Read shadow", priority: "Critical", hostname: "node-7", tags: ["a", "b"], output_fields: { "fd.name": "/etc/shadow", "k8s.pod.label[app]": "web", "proc.pid": 42 } });
    expect(expandAlertVars("cat ${FD_NAME} $K8S_POD_LABEL_APP ${PROC_PID} $RULE/${PRIORITY}@$HOSTNAME [$TAGS] ${SOURCE} <${NOT_A_FIELD_PG}>", alert)).toBe(
      "cat /etc/shadow web 42 Read shadow/Critical@node-7 [a,b] syscall <>",
    );
    expect(expandAlertVars("echo $(date) ok", alert)).toBe("echo $(date) ok");
  });
});

describe("kubernetes:networkpolicy: the policy of a pod without an owner", () => {
  it("is named after the pod and selects its labels", async () => {
    const pod = { metadata: { name: "web-1", namespace: "shop", uid: "u", labels: { app: "web", "pod-template-hash": "abc", "app.k8s.io/managed-by": "x" } }, spec: { containers: [{ name: "c" }] } };
    expect(await networkPolicyFor(pod, { allow_namespaces: ["dns"] })).toEqual({
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: "web-1", namespace: "shop", labels: { app: "web", "app.k8s.io/managed-by": "falco-talon" } },
      spec: { policyTypes: ["Egress"], podSelector: { matchLabels: { app: "web" } }, egress: [{ to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "dns" } } }] }] },
    });
    await expect(networkPolicyFor({ ...pod, metadata: { ...pod.metadata, labels: {} } }, {})).rejects.toThrow(/can't find the labels/);
  });
});
