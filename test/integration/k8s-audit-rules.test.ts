/**
 * Falco's own k8s_audit_rules.yaml (falcosecurity/plugins, unchanged) loads with the syscall
 * rules through the real CLI: 0 errors, 0 warnings, its required_plugin_versions (k8saudit,
 * json) satisfied by the built-in k8s_audit source.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runCommand } from "../harness/run-command.js";

const REPO = resolve(import.meta.dirname, "../..");
const K8S_RULES = resolve(REPO, "../shared/corpus/falco-plugins/k8s_audit_rules.yaml");
const SYSCALL_RULES = resolve(REPO, "../shared/corpus/falco-rules/falco_rules.yaml");

const cli = (args: string[]) =>
  runCommand(process.execPath, ["--import", "tsx", "src/cli.ts", ...args], { cwd: REPO, env: { PATH: process.env.PATH, HOME: process.env.HOME } });

describe("peregrine rules validate with Falco's k8s_audit rules", () => {
  it("loads them with the syscall rules: 0 errors, 0 warnings", async () => {
    const r = await cli(["rules", "validate", "-r", SYSCALL_RULES, "-r", K8S_RULES, "--json"]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const out = JSON.parse(r.stdout) as { falco_load_results: { name: string; successful: boolean; errors: unknown[]; warnings: unknown[] }[] };
    expect(out.falco_load_results.map((f) => f.name)).toEqual([SYSCALL_RULES, K8S_RULES]);
    for (const f of out.falco_load_results) expect(f).toMatchObject({ successful: true, errors: [], warnings: [] });
    const text = await cli(["rules", "validate", "-r", SYSCALL_RULES, "-r", K8S_RULES]);
    expect(text.status).toBe(0);
    expect(text.stdout.trim().split("\n").at(-1)).toMatch(/^OK: \d+ rules \(\d+ enabled\), 0 warnings$/);
  }, 120_000);

  it("a rules file requiring a newer k8saudit than the built-in source is refused, naming both versions", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-k8s-rules-"));
    const newer = join(dir, "newer.yaml");
    writeFileSync(newer, readFileSync(K8S_RULES, "utf8").replace(/name: k8saudit\n(\s+)version: [0-9.]+/, "name: k8saudit\n$1version: 0.99.0"));
    const r = await cli(["rules", "validate", "-r", newer]);
    expect(r.status).not.toBe(0);
    expect(r.stdout + r.stderr).toContain("Plugin 'k8saudit' version 0.99.0 is required but not available (built in: container 0.4.0, k8saudit 0.18.0, json 0.7.4)");
  }, 120_000);
});
