/**
 * `peregrine run` as a real process serves the audit endpoint when detector.k8s_audit.enabled
 * is true, even with the syscall detector off, and journals its alerts like any other;
 * `config check` names a bad detector.k8s_audit key.
 */
import { request } from "node:http";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../harness/receiver.js";
import { startRouter, type RouterProcess } from "../harness/router-process.js";
import { runCommand } from "../harness/run-command.js";

const REPO = resolve(import.meta.dirname, "../..");
const K8S_RULES = resolve(REPO, "../shared/corpus/falco-plugins/k8s_audit_rules.yaml");
const body = readFileSync(join(REPO, "test/fixtures/k8s-audit/pod-privileged.json"), "utf8");

function post(url: string, text: string): Promise<{ status: number; body: string }> {
  return new Promise((done, fail) => {
    const req = request(url, { method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      let t = "";
      res.setEncoding("utf8").on("data", (d: string) => (t += d));
      res.on("end", () => done({ status: res.statusCode ?? 0, body: t }));
    });
    req.on("error", fail);
    req.end(text);
  });
}

describe("peregrine run with detector.k8s_audit", () => {
  let router: RouterProcess;
  let auditUrl: string;
  beforeAll(async () => {
    const port = await freePort();
    auditUrl = `http://127.0.0.1:${port}/k8s-audit`;
    router = await startRouter({
      command: "run",
      config: { outputs: [], detector: { enabled: false, rules_files: [K8S_RULES], k8s_audit: { enabled: true, port } } },
    });
  }, 120_000);
  afterAll(async () => {
    await router?.kill();
  });

  it("answers the API server once the alert is journaled, and the alert is the router's", async () => {
    // the endpoint starts just after the router listens
    const deadline = Date.now() + 60_000;
    let answer: { status: number; body: string } | undefined;
    while (!answer && Date.now() < deadline) {
      answer = await post(auditUrl, body).catch(() => undefined);
      if (!answer) await new Promise((r) => setTimeout(r, 200));
    }
    expect(answer?.status, `${router.stderr.join("\n")}\n${router.stdout.join("\n")}`).toBe(200);
    expect(JSON.parse(answer!.body)).toEqual({ events: 1, alerts: 1 });
    const recent = await router.get("/api/alerts");
    expect(JSON.stringify(recent.json)).toContain("Create Privileged Pod");
    expect(JSON.stringify(recent.json)).toContain('"source":"k8s_audit"');
    expect([...router.stdout, ...router.stderr].join("\n")).toContain(`k8s_audit: listening for audit events on ${auditUrl}`);
    const metrics = await router.get("/metrics");
    expect(metrics.status).toBe(200);
    const text = String(metrics.json);
    expect(text).toContain('peregrine_k8s_audit_requests_total{status="200"} 1');
    expect(text).toContain("peregrine_k8s_audit_events_total 1");
    expect(text).toContain("peregrine_k8s_audit_alerts_total 1");
    expect(await router.stop("SIGTERM")).toBe(0);
  }, 120_000);

  it("config check names a bad detector.k8s_audit key", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-k8s-audit-cfg-"));
    const file = join(dir, "peregrine.yaml");
    const check = async (yaml: string) => {
      writeFileSync(file, `detector:\n  k8s_audit:\n    enabled: true\n${yaml}`);
      const r = await runCommand(process.execPath, ["--import", "tsx", "src/cli.ts", "config", "check", "-c", file], { cwd: REPO });
      expect(r.status).toBe(1);
      return r.stdout + r.stderr;
    };
    expect(await check("    port: 70000\n")).toContain("detector.k8s_audit.port: must be at most 65535, got 70000");
    expect(await check("    path: k8s-audit\n")).toContain("detector.k8s_audit.path: must start with '/'");
  }, 120_000);
});
