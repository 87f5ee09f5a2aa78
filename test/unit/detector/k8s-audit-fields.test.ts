/**
 * The k8s_audit source's fields over audit.k8s.io/v1 events, with the k8saudit and json
 * plugins' semantics: text values (JSON for non-strings), list fields and their [N] forms,
 * fan-out over containers, missing values, json pointers.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { k8sAuditSource, loadRules, parseAuditBody, type K8sAuditEvent } from "../../../src/detector/index.js";
import { REPO } from "./helpers.js";

const fixture = (name: string): K8sAuditEvent[] => parseAuditBody(readFileSync(join(REPO, "test/fixtures/k8s-audit", name), "utf8"));

function get(ev: K8sAuditEvent, field: string, arg?: string): unknown {
  const x = k8sAuditSource.extractor(field, arg);
  if (!x) throw new Error(`no extractor for ${field}`);
  return x(ev);
}

/** An event built around a pod spec. */
function podEvent(spec: Record<string, unknown>, extra: Record<string, unknown> = {}): K8sAuditEvent {
  const body = {
    kind: "Event",
    auditID: "a1",
    stage: "ResponseComplete",
    verb: "create",
    requestURI: "/api/v1/namespaces/default/pods",
    objectRef: { resource: "pods", namespace: "default", name: "p" },
    requestObject: { kind: "Pod", spec },
    stageTimestamp: "2026-12-07T21:14:11.5Z",
    ...extra,
  };
  return parseAuditBody(JSON.stringify(body))[0]!;
}

describe("k8s_audit fields", () => {
  it("reads the event's scalars as the plugin's text", () => {
    const [ev] = fixture("configmap-aws-key.json");
    expect(get(ev!, "ka.user.name")).toBe("kubernetes-admin");
    expect(get(ev!, "ka.user.groups")).toEqual(["kubeadm:cluster-admins", "system:authenticated"]);
    expect(get(ev!, "ka.response.code")).toBe("201");
    expect(get(ev!, "ka.auth.decision")).toBe("allow");
    expect(get(ev!, "ka.req.configmap.obj")).toBe(JSON.stringify({ aws_access_key_id: "AKIAIOSFODNN7EXAMPLE", aws_secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" }));
    // the plugin's code reads requestObject.rules[].sourceIPs (extract.go: extractRulesField), not sourceIPs
    expect(ev!.doc.sourceIPs).toEqual(["127.0.0.1"]);
    expect(get(ev!, "ka.sourceips")).toBeUndefined();
    expect(get(ev!, "ka.sourceips", "0")).toBeUndefined();
    expect(get(ev!, "ka.uri.param", "fieldManager")).toBe("kubectl-create");
    expect(get(ev!, "ka.target.subresource")).toBeUndefined();
    expect(get(ev!, "ka.impuser.name")).toBeUndefined();
  });

  it("json.rawtime is the stageTimestamp in nanoseconds, and the alert's time keeps them", () => {
    const ev = podEvent({ containers: [] });
    expect(get(ev, "jevt.rawtime")).toBe("1796678051500000000");
    expect(get(ev, "json.rawtime")).toBe("1796678051500000000");
    expect(k8sAuditSource.eventTime(ev)).toBe("2026-12-07T21:14:11.500000000Z");
  });

  it("json.value and jevt.value follow RFC 6901 pointers, with or without the leading slash", () => {
    const ev = podEvent({ containers: [{ name: "a", image: "x" }] }, { annotations: { cluster_name: "prod-eu", "a/b": "slash" } });
    expect(get(ev, "jevt.value", "/annotations/cluster_name")).toBe("prod-eu");
    expect(get(ev, "json.value", "annotations/cluster_name")).toBe("prod-eu");
    expect(get(ev, "json.value", "/annotations/a~1b")).toBe("slash");
    expect(get(ev, "jevt.value", "/requestObject/spec/containers/0/name")).toBe("a");
    expect(get(ev, "jevt.value", "/requestObject/spec/containers")).toBe('[{"name":"a","image":"x"}]');
    expect(get(ev, "jevt.value", "/nope")).toBeUndefined();
    expect(get(ev, "ka.cluster.name")).toBe("prod-eu");
    expect(JSON.parse(get(ev, "jevt.obj") as string)).toMatchObject({ auditID: "a1" });
  });

  it("per-container fields fan out over containers, with [N] for one", () => {
    const ev = podEvent({
      securityContext: { runAsUser: 1000 },
      containers: [
        { name: "web", image: "registry.example.com/team/web:1.2@sha256:abc", securityContext: { privileged: true, capabilities: { add: ["NET_ADMIN"] } }, ports: [{ containerPort: 80 }, { containerPort: 81, hostPort: 8081 }] },
        { name: "side", image: "busybox", command: ["sh", "-c"], args: ["sleep", "1"], securityContext: { runAsUser: 0 } },
      ],
      initContainers: [{ name: "init", image: "alpine:3", securityContext: { privileged: false } }],
    });
    expect(get(ev, "ka.req.pod.containers.image")).toEqual(["registry.example.com/team/web:1.2@sha256:abc", "busybox"]);
    expect(get(ev, "ka.req.pod.containers.image", "1")).toBe("busybox");
    expect(get(ev, "ka.req.pod.containers.image", "2")).toBeUndefined();
    // as the plugin: up to the first ':' or '@'
    expect(get(ev, "ka.req.pod.containers.image.repository")).toEqual(["registry.example.com/team/web", "busybox"]);
    expect(get(ev, "ka.req.pod.containers.name")).toEqual(["web", "side"]);
    expect(get(ev, "ka.req.pod.containers.privileged")).toEqual(["true"]);
    expect(get(ev, "ka.req.pod.containers.privileged", "1")).toBeUndefined();
    expect(get(ev, "ka.req.container.privileged")).toBe("true");
    expect(get(ev, "ka.req.container.image")).toBe("registry.example.com/team/web:1.2@sha256:abc");
    expect(get(ev, "ka.req.pod.containers.command")).toEqual(["sh -c"]);
    expect(get(ev, "ka.req.pod.containers.args")).toEqual(["sleep 1"]);
    expect(get(ev, "ka.req.pod.containers.host_port")).toEqual(["80", "8081"]);
    expect(get(ev, "ka.req.pod.containers.add_capabilities")).toEqual(['["NET_ADMIN"]']);
    expect(get(ev, "ka.req.pod.containers.run_as_user")).toEqual(["0"]);
    // the plugin's code (extract.go: readFromContainerEffectively) reads runAsUser right under the
    // container and the pod spec, never in a securityContext: a real pod's effective uid is 0
    expect(get(ev, "ka.req.pod.containers.eff_run_as_user")).toEqual(["0", "0"]);
    expect(get(ev, "ka.req.pod.containers.eff_run_as_group")).toEqual(["0", "0"]);
    const direct = podEvent({ runAsUser: 7, runAsGroup: 8, containers: [{ name: "a", image: "x", runAsUser: 1000 }, { name: "b", image: "y" }] });
    expect(get(direct, "ka.req.pod.containers.eff_run_as_user")).toEqual(["1000", "7"]);
    expect(get(direct, "ka.req.pod.containers.eff_run_as_user", "0")).toBe("1000");
    // with an index the walk ends at that container, and one without the key is not available
    expect(get(direct, "ka.req.pod.containers.eff_run_as_user", "1")).toBeUndefined();
    expect(get(direct, "ka.req.pod.containers.eff_run_as_group")).toEqual(["8", "8"]);
    expect(get(ev, "ka.req.pod.run_as_user")).toBe("1000");
    expect(get(ev, "ka.req.pod.initContainers.image")).toEqual(["alpine:3"]);
    expect(get(ev, "ka.req.pod.initContainers.privileged")).toEqual(["false"]);
    expect(get(ev, "ka.req.pod.ephemeralContainers.image")).toBeUndefined();
  });

  it("a container without an image makes the image fields unreadable, as in the plugin", () => {
    const ev = podEvent({ containers: [{ name: "a", image: "x" }, { name: "b" }] });
    expect(get(ev, "ka.req.pod.containers.image")).toBeUndefined();
    expect(get(ev, "ka.req.pod.containers.image", "0")).toBe("x");
  });

  it("volumes, roles, bindings and services", () => {
    const pod = podEvent({ containers: [], volumes: [{ name: "a", hostPath: { path: "/etc" } }, { name: "b", emptyDir: {} }, { name: "c", flexVolume: { driver: "x/y" } }] });
    expect(get(pod, "ka.req.pod.volumes.hostpath")).toEqual(["/etc"]);
    expect(get(pod, "ka.req.pod.volumes.volume_type")).toEqual(["hostPath", "emptyDir", "flexVolume"]);
    expect(get(pod, "ka.req.pod.volumes.flexvolume_driver")).toEqual(["x/y"]);
    expect(get(pod, "ka.req.volume.hostpath", "/et*")).toBe("true");
    expect(get(pod, "ka.req.volume.hostpath", "/root")).toBe("false");

    const [binding] = fixture("clusterrolebinding-cluster-admin.json");
    expect(get(binding!, "ka.req.binding.role")).toBe("cluster-admin");
    expect(get(binding!, "ka.req.binding.subjects")).toEqual(['{"kind":"ServiceAccount","name":"builder","namespace":"ci"}']);
    expect(get(binding!, "ka.req.binding.subjects.serviceaccount_names")).toEqual(["builder"]);
    expect(get(binding!, "ka.req.binding.subjects.serviceaccount_ns_names")).toEqual(["ci:builder"]);
    expect(get(binding!, "ka.req.binding.subjects.user_names")).toBeUndefined();

    const events = fixture("replay-cluster.json");
    const role = events.find((e) => (e.doc.objectRef as { resource: string }).resource === "clusterroles")!;
    expect(get(role, "ka.req.role.rules.verbs")).toEqual(["*"]);
    expect(get(role, "ka.req.role.rules.resources", "0")).toBe("*");
    const svc = events.find((e) => (e.doc.objectRef as { resource: string }).resource === "services")!;
    expect(get(svc, "ka.req.service.type")).toBe("NodePort");
    expect(get(svc, "ka.req.service.ports")).toEqual(['[{"name":"http","protocol":"TCP","port":80,"targetPort":8080,"nodePort":30080}]']);
    // the plugin's walk (extract.go: getValuesRecursive) meets no array before "ports": one JSON
    // value for the whole list, and an index changes nothing
    const two = parseAuditBody(JSON.stringify({ ...svc.doc, requestObject: { kind: "Service", spec: { ports: [{ port: 80 }, { port: 443 }] } } }))[0]!;
    expect(get(two, "ka.req.service.ports")).toEqual(['[{"port":80},{"port":443}]']);
    expect(get(two, "ka.req.service.ports", "1")).toBe('[{"port":80},{"port":443}]');
    // and ka.sourceips reads a role's rules' sourceIPs
    const withIps = parseAuditBody(JSON.stringify({ ...role.doc, requestObject: { kind: "Role", rules: [{ verbs: ["get"], sourceIPs: ["10.0.0.1", "10.0.0.2"] }, { verbs: ["list"] }, { sourceIPs: ["10.0.0.3"] }] } }))[0]!;
    expect(get(withIps, "ka.sourceips")).toEqual(["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    expect(get(withIps, "ka.sourceips", "0")).toBe("10.0.0.1,10.0.0.2");
    expect(get(withIps, "ka.sourceips", "1")).toBeUndefined();
  });

  it("ka.target.pod.name is the created pod's name, only for pods without a subresource", () => {
    const [created] = fixture("pod-privileged.json");
    expect(get(created!, "ka.target.pod.name")).toBe("priv-web");
    const [exec] = fixture("pod-exec.json");
    expect(get(exec!, "ka.target.pod.name")).toBeUndefined();
  });

  it("rules compile every field, with the argument forms Falco's rules write", () => {
    const text = [
      "- rule: every form",
      "  desc: d",
      "  condition: ka.req.pod.containers.image[0] startswith docker.io and jevt.value[/annotations/cluster_name] exists and ka.uri.param[command] = sh and ka.req.pod.containers.privileged intersects (true)",
      "  output: x %ka.req.pod.containers.image %ka.req.role.rules.verbs[0] %json.rawtime",
      "  priority: WARNING",
      "  source: k8s_audit",
    ].join("\n");
    const { results } = loadRules({ documents: [{ name: "t.yaml", text }] });
    expect(results.errors).toEqual([]);
    expect(results.warnings).toEqual([]);
    const bad = loadRules({ documents: [{ name: "t.yaml", text: text.replace("image[0]", "image[x]") }] });
    expect(bad.results.errors[0]!.message).toContain("takes a numeric index");
  });

  it("append_output matches k8s_audit rules by source, and rule selection reaches them by tag", () => {
    const rules = join(REPO, "../shared/corpus/falco-plugins/k8s_audit_rules.yaml");
    const { ruleset, results } = loadRules({
      files: [rules],
      appendOutput: [
        { match: { source: "k8s_audit" }, extra_output: "cluster=%jevt.value[/annotations/cluster_name]", extra_fields: ["ka.useragent", { audit_id: "%ka.auditid" }] },
        { match: { source: "syscall" }, extra_output: "never here" },
      ],
      selection: [{ disable: { tag: "k8s" } }, { enable: { rule: "Create Privileged Pod" } }],
    });
    expect(results.errors).toEqual([]);
    const enabled = ruleset.rules.filter((r) => r.enabled && r.source === "k8s_audit").map((r) => r.name);
    expect(enabled).toEqual(["Create Privileged Pod"]);
    const ev = fixture("pod-privileged.json")[0]!;
    (ev.doc as Record<string, unknown>).annotations = { ...(ev.doc.annotations as object), cluster_name: "prod-eu" };
    const [alert, ...more] = ruleset.evaluate(k8sAuditSource, ev);
    expect(more).toEqual([]);
    expect(alert!.rule).toBe("Create Privileged Pod");
    expect(alert!.source).toBe("k8s_audit");
    expect(alert!.output.endsWith(" cluster=prod-eu")).toBe(true);
    expect(alert!.output).not.toContain("never here");
    expect(alert!.output_fields).toMatchObject({ "ka.useragent": "kubectl/v1.31.4 (linux/amd64) kubernetes/a78aa47", audit_id: ev.doc.auditID });
  });
});
