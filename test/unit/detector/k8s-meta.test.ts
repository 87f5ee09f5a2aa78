/**
 * The Kubernetes metadata's configuration (kubeconfig files, detector.kubernetes) and how its
 * fields read a pod's metadata. The watchers themselves are tested against a real API server
 * in test/e2e/sensor-k8s.test.ts.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ParseContext } from "../../../src/config/schema.js";
import { K8sConfigError, kubeconfigCredentials } from "../../../src/detector/metadata/k8s-client.js";
import { kubernetesConfig, kubernetesSchema } from "../../../src/detector/metadata/k8s-config.js";
import { K8S_FIELD_LIST, k8sExtractor } from "../../../src/detector/metadata/k8s-fields.js";
import { K8sMeta, type PodMetadata } from "../../../src/detector/metadata/k8s.js";
import { createServer } from "node:net";
import pino from "pino";
import { Writable } from "node:stream";
import { readDetectorConfig } from "../../../src/detector/sources/syscall/config.js";
import { SYSCALL_FIELDS } from "../../../src/detector/fields/syscall.js";

const dir = mkdtempSync(join(tmpdir(), "pg-k8s-unit-"));

function kubeconfig(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe("kubeconfig credentials", () => {
  it("takes the current context's cluster and user; relative paths are relative to the file", () => {
    writeFileSync(join(dir, "ca.crt"), "CA");
    writeFileSync(join(dir, "token"), "tok-from-file\n");
    const file = kubeconfig(
      "a.kubeconfig",
      `apiVersion: v1
kind: Config
current-context: two
clusters:
- name: c1
  cluster: {server: "https://one:6443", certificate-authority: ca.crt}
- name: c2
  cluster: {server: "https://two:6443/", certificate-authority-data: ${Buffer.from("INLINE").toString("base64")}}
users:
- name: u1
  user: {token: abc}
- name: u2
  user: {tokenFile: token}
contexts:
- name: one
  context: {cluster: c1, user: u1}
- name: two
  context: {cluster: c2, user: u2}
`,
    );
    const c = kubeconfigCredentials(file);
    expect(c.server).toBe("https://two:6443");
    expect(c.ca?.toString()).toBe("INLINE");
    expect(c.token?.()).toBe("tok-from-file");
  });

  it("names the file and what is missing", () => {
    const file = kubeconfig("b.kubeconfig", "apiVersion: v1\ncurrent-context: nope\ncontexts: []\n");
    expect(() => kubeconfigCredentials(file)).toThrow(K8sConfigError);
    expect(() => kubeconfigCredentials(file)).toThrow(/detector\.kubernetes\.kubeconfig: .*b\.kubeconfig has no context named "nope"/);
    expect(() => kubeconfigCredentials(join(dir, "absent"))).toThrow(/detector\.kubernetes\.kubeconfig: cannot read .*absent/);
  });
});

describe("detector.kubernetes", () => {
  it("is off by default; the node name defaults to $NODE_NAME, else the host name", () => {
    const r = readDetectorConfig({});
    expect(r.ok ? r.config.kubernetes : "invalid").toBeUndefined();
    const prev = process.env.NODE_NAME;
    process.env.NODE_NAME = "node-7";
    try {
      expect(kubernetesConfig(undefined).nodeName).toBe("node-7");
    } finally {
      if (prev === undefined) delete process.env.NODE_NAME;
      else process.env.NODE_NAME = prev;
    }
    const on = readDetectorConfig({ kubernetes: { enabled: true, kubeconfig: "/k", node_name: "n1" } });
    expect(on.ok ? on.config.kubernetes : undefined).toEqual({ enabled: true, kubeconfig: "/k", nodeName: "n1" });
  });

  it("names a bad key or value", () => {
    const problems = (v: unknown) => {
      const ctx = new ParseContext();
      kubernetesSchema.parse(v, ctx, "detector.kubernetes");
      return ctx.issues.map((i) => `${i.path}: ${i.message}`).join("\n");
    };
    expect(problems({ enabled: true, kubeconfg: "/x" })).toMatch(/detector\.kubernetes\.kubeconfg: unknown key/);
    expect(problems({ enabled: true, node_name: "Bad Name" })).toMatch(/detector\.kubernetes\.node_name: must be a node name/);
    expect(problems({ enabled: "yes" })).toMatch(/detector\.kubernetes\.enabled/);
  });
});

describe("k8s fields", () => {
  const meta: PodMetadata = {
    pod: { uid: "p-uid", name: "web-abc", namespace: "shop", labels: { app: "web", tier: "front" }, owners: [], ip: "10.0.0.5", containerIds: [] },
    namespace: { uid: "ns-uid", name: "shop", namespace: "", labels: { "kubernetes.io/metadata.name": "shop" }, owners: [] },
    replicaSet: { uid: "rs-uid", name: "web-7d9", namespace: "shop", labels: {}, owners: [] },
    deployment: { uid: "d-uid", name: "web", namespace: "shop", labels: { app: "web" }, owners: [] },
    services: [
      { uid: "s1", name: "web", namespace: "shop", labels: { team: "a" }, owners: [], selector: { app: "web" } },
      { uid: "s2", name: "web-internal", namespace: "shop", labels: {}, owners: [], selector: { tier: "front" } },
    ],
  };
  const get = (field: string, arg?: string) => k8sExtractor<PodMetadata | undefined>(field, arg, (e) => e)!;

  it("serves k8smeta.* and the legacy k8s.* names from the same metadata", () => {
    for (const prefix of ["k8s", "k8smeta"]) {
      expect(get(`${prefix}.pod.name`)(meta)).toBe("web-abc");
      expect(get(`${prefix}.pod.uid`)(meta)).toBe("p-uid");
      expect(get(`${prefix}.pod.labels`)(meta)).toEqual(["app:web", "tier:front"]);
      expect(get(`${prefix}.pod.label`, "tier")(meta)).toBe("front");
      expect(get(`${prefix}.pod.label`, "none")(meta)).toBeUndefined();
      expect(get(`${prefix}.pod.ip`)(meta)).toBe("10.0.0.5");
      expect(get(`${prefix}.ns.name`)(meta)).toBe("shop");
      expect(get(`${prefix}.deployment.name`)(meta)).toBe("web");
      expect(get(`${prefix}.rs.uid`)(meta)).toBe("rs-uid");
      expect(get(`${prefix}.rc.name`)(meta)).toBeUndefined();
      expect(get(`${prefix}.svc.name`)(meta)).toEqual(["web", "web-internal"]);
      expect(get(`${prefix}.svc.label`, "team")(meta)).toEqual(["a"]);
    }
    expect(get("k8s.deployment.id")(meta)).toBe("d-uid");
    expect(get("k8s.pod.name")(undefined)).toBeUndefined();
    expect(k8sExtractor("k8s.nope", undefined, () => meta)).toBeUndefined();
  });

  it("every field is in the syscall registry, label fields take an argument, list fields say so", () => {
    for (const f of K8S_FIELD_LIST) expect(SYSCALL_FIELDS.has(f.name), f.name).toBe(true);
    expect(SYSCALL_FIELDS.get("k8smeta.pod.label")?.arg).toBe("required");
    expect(SYSCALL_FIELDS.get("k8smeta.svc.name")?.isList).toBe(true);
    expect(SYSCALL_FIELDS.get("k8s.ns.labels")?.isList).toBe(true);
  });
});

describe("an API server that cannot be reached", () => {
  it("leaves pods unknown, counts the failed requests and logs one warning for the outage, not one per retry", async () => {
    // a port nothing listens on: bound, then closed
    const port = await new Promise<number>((res) => {
      const srv = createServer().listen(0, "127.0.0.1", () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => res(p));
      });
    });
    const lines: string[] = [];
    const logger = pino({ level: "info" }, new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }));
    const meta = new K8sMeta({ credentials: { server: `https://127.0.0.1:${port}` }, nodeName: "n1", logger });
    meta.start();
    try {
      const until = Date.now() + 60_000;
      // six collections, each retried with backoff: several rounds of failures
      while (meta.stats().apiErrors < 18 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(meta.stats().apiErrors).toBeGreaterThanOrEqual(18);
      expect(meta.stats().synced).toBe(false);
      expect(meta.podOfContainer("0123456789ab")).toBeUndefined();
      const warnings = lines.filter((l) => l.includes("kubernetes API server unreachable"));
      expect(warnings).toHaveLength(1);
      expect(JSON.parse(warnings[0]!).server).toBe(`https://127.0.0.1:${port}`);
    } finally {
      await meta.stop();
    }
  }, 90_000);
});
