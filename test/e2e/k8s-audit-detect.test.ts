/**
 * `peregrine detect` with detector.k8s_audit.enabled on a host where the eBPF sensor cannot
 * run (an unprivileged user without capabilities): the audit endpoint is served on its own and
 * its alerts reach a real router's webhook output; a batch the API server retries (same
 * auditIDs, so the same uuids) is answered 200 again but journaled once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, Receiver } from "../harness/receiver.js";
import { startRouter, type RouterProcess } from "../harness/router-process.js";
import { waitFor } from "../unit/sensor/helpers.js";

const REPO = resolve(import.meta.dirname, "../..");
const K8S_RULES = resolve(REPO, "../shared/corpus/falco-plugins/k8s_audit_rules.yaml");
const FIXTURES = join(REPO, "test/fixtures/k8s-audit");
const isRoot = process.getuid?.() === 0;
const CONFIGMAP_RULE = "Create/Modify Configmap With Private Credentials";
const POD_RULE = "Create Privileged Pod";

function post(url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request(url, { method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.setEncoding("utf8").on("data", (d: string) => (text += d));
      res.on("end", () => done({ status: res.statusCode ?? 0, body: text }));
    });
    req.setTimeout(60_000, () => req.destroy(new Error("no answer within 60 s")));
    req.on("error", fail);
    req.end(body);
  });
}

describe.skipIf(!isRoot)("peregrine detect serving k8s_audit without the syscall sensor (root, run as nobody)", () => {
  const receiver = new Receiver();
  let router: RouterProcess | undefined;
  let detect: ChildProcess | undefined;
  const lines: string[] = [];
  let auditUrl = "";

  beforeAll(async () => {
    await receiver.start();
    // The router keeps no dedup of its own here, so a duplicate the node journals would reach the output.
    router = await startRouter({ config: { ingest: { dedup_window: 0 }, outputs: [{ type: "webhook", name: "hook", url: receiver.url, batch: { max_events: 100 } }] }, waitReady: true });
    const dir = mkdtempSync(join(tmpdir(), "pg-k8s-detect-"));
    chmodSync(dir, 0o777);
    const auditPort = await freePort();
    auditUrl = `http://127.0.0.1:${auditPort}/k8s-audit`;
    const cfg = join(dir, "detect.yaml");
    writeFileSync(
      cfg,
      stringify({
        storage: { path: join(dir, "data"), fsync: false },
        ingest: { dedup_window: 600_000 },
        detector: { rules_files: [K8S_RULES], rule_matching: "all", k8s_audit: { enabled: true, address: "127.0.0.1", port: auditPort } },
      }),
    );
    // Without privileges (nobody, no capabilities) the sensor cannot load.
    detect = spawn(
      "setpriv",
      ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", process.execPath, "--import", "tsx", "src/cli.ts", "detect", "--router", router.url, "-c", cfg],
      { cwd: REPO, env: { ...process.env, PEREGRINE_LOG_LEVEL: "info" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    for (const s of [detect.stdout!, detect.stderr!]) s.setEncoding("utf8").on("data", (d: string) => lines.push(...d.split("\n")));
    let exited: number | null | undefined;
    detect.once("exit", (code) => (exited = code));
    await waitFor(
      "the audit endpoint",
      () => {
        if (exited !== undefined) throw new Error(`peregrine detect exited (${exited}):\n${lines.join("\n")}`);
        return lines.some((l) => l.includes("sending alerts to the router")) ? true : undefined;
      },
      180_000,
      () => lines.slice(-20).join("\n"),
    );
  }, 240_000);

  afterAll(async () => {
    if (detect && detect.exitCode === null) {
      const closed = new Promise((r) => detect!.once("close", r));
      detect.kill("SIGTERM");
      await closed;
    }
    await router?.stop();
    await receiver.stop();
  }, 120_000);

  const at = (rule: string) => receiver.alerts().filter((a) => a.rule === rule);

  it("says why the syscall detector is not running, and serves audit events anyway", () => {
    expect(lines.join("\n")).toMatch(/syscall detector is not running .*CAP_BPF/);
  });

  it("an audit batch's alert reaches the router's output; the retried batch is answered 200 and delivered once", async () => {
    const body = readFileSync(join(FIXTURES, "configmap-aws-key.json"), "utf8");
    const first = await post(auditUrl, body);
    expect(first.status, first.body).toBe(200);
    const hits = await waitFor("the configmap alert at the output", () => (at(CONFIGMAP_RULE).length > 0 ? at(CONFIGMAP_RULE) : undefined), 120_000);
    expect(hits[0]!.source).toBe("k8s_audit");
    expect((hits[0]!.output_fields as Record<string, unknown>)["ka.req.configmap.name"]).toBe("aws-creds");

    // The API server's retry of the same batch (its answer lost): 200 again, not journaled again.
    const retry = await post(auditUrl, body);
    expect(retry.status, retry.body).toBe(200);
    // A later batch goes through the same single lane in journal order: once its alert is at
    // the output, a duplicate of the first would have been delivered before it.
    const pod = await post(auditUrl, readFileSync(join(FIXTURES, "pod-privileged.json"), "utf8"));
    expect(pod.status, pod.body).toBe(200);
    await waitFor("the privileged pod alert at the output", () => (at(POD_RULE).length > 0 ? true : undefined), 120_000);
    expect(at(CONFIGMAP_RULE)).toHaveLength(1);
    expect(new Set(receiver.alerts().map((a) => a.uuid)).size).toBe(receiver.alerts().length);
  }, 300_000);
});

describe.skipIf(!isRoot)("peregrine detect with detector.enabled: false and k8s_audit enabled (root)", () => {
  it("skips the sensor on a host that could run it, and serves audit events", async () => {
    const receiver = await new Receiver().start();
    const router = await startRouter({ config: { outputs: [{ type: "webhook", name: "hook", url: receiver.url }] }, waitReady: true });
    const dir = mkdtempSync(join(tmpdir(), "pg-k8s-detect-"));
    const auditPort = await freePort();
    const cfg = join(dir, "detect.yaml");
    writeFileSync(
      cfg,
      stringify({
        storage: { path: join(dir, "data"), fsync: false },
        detector: { enabled: false, rules_files: [K8S_RULES], k8s_audit: { enabled: true, address: "127.0.0.1", port: auditPort } },
      }),
    );
    const proc = spawn(process.execPath, ["--import", "tsx", "src/cli.ts", "detect", "--router", router.url, "-c", cfg], {
      cwd: REPO,
      env: { ...process.env, PEREGRINE_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: string[] = [];
    for (const s of [proc.stdout!, proc.stderr!]) s.setEncoding("utf8").on("data", (d: string) => out.push(...d.split("\n")));
    let exited: number | null | undefined;
    proc.once("exit", (code) => (exited = code));
    try {
      await waitFor(
        "the audit endpoint",
        () => {
          if (exited !== undefined) throw new Error(`peregrine detect exited (${exited}):\n${out.join("\n")}`);
          return out.some((l) => l.includes("sending alerts to the router")) ? true : undefined;
        },
        180_000,
        () => out.slice(-20).join("\n"),
      );
      expect(out.join("\n")).toMatch(/syscall detector is not running \(detector.enabled is false\)/);
      const a = await post(`http://127.0.0.1:${auditPort}/k8s-audit`, readFileSync(join(FIXTURES, "pod-privileged.json"), "utf8"));
      expect(a.status, a.body).toBe(200);
      await waitFor("the privileged pod alert at the output", () => (receiver.alerts().some((x) => x.rule === POD_RULE) ? true : undefined), 120_000);
    } finally {
      if (proc.exitCode === null) {
        const closed = new Promise((r) => proc.once("close", r));
        proc.kill("SIGTERM");
        await closed;
      }
      await router.stop();
      await receiver.stop();
    }
  }, 300_000);
});
