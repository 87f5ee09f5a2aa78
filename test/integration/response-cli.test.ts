/**
 * `peregrine response validate` and `peregrine response list` as a user runs them.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ActionStore } from "../../src/response/store.js";
import { runCli } from "../harness/run-command.js";

const dir = mkdtempSync(join(tmpdir(), "peregrine-response-cli-"));

describe("peregrine response", () => {
  it("validate: exit 0 and a summary for a good file; exit 1 and file:line:column errors for a bad one", async () => {
    const good = join(dir, "good.yaml");
    writeFileSync(good, "- action: Kill\n  actionner: process:kill\n- rule: R\n  match: {rules: [Reverse shell]}\n  actions:\n    - action: Kill\n");
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "- rule: R\n  match:\n    priority: Severe\n  actions:\n    - action: k\n      actionner: process:kil\n");
    const [ok, ko, json] = await Promise.all([runCli(["response", "validate", "-r", good]), runCli(["response", "validate", "-r", bad]), runCli(["response", "validate", "-r", good, "--json"])]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe(`${good}: ok: 1 rule(s), 1 action(s)\n`);
    expect(ko.code).toBe(1);
    expect(ko.stderr).toContain(`${bad}:3:15: error: incorrect priority 'Severe'`);
    expect(ko.stderr).toContain(`${bad}:6:18: error: unknown actionner 'process:kil' (did you mean "process:kill"?)`);
    const parsed = JSON.parse(json.stdout) as { successful: boolean; rules: { name: string; actions: { actionner: string }[] }[] };
    expect(parsed.successful).toBe(true);
    expect(parsed.rules[0]!.actions[0]!.actionner).toBe("process:kill");
  }, 120_000);

  it("the router refuses to start on a rules file with errors: exit 1, every error at its line", async () => {
    const bad = join(dir, "bad-router.yaml");
    writeFileSync(bad, "- rule: R\n  actions:\n    - action: k\n      actionner: process:kil\n");
    const cfg = join(dir, "router.yaml");
    writeFileSync(cfg, `storage: {path: ${join(dir, "data")}}\nlisten: {port: 0}\noutputs: []\nresponse: {enabled: true, rules_files: [${bad}]}\n`);
    const r = await runCli(["router", "-c", cfg], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain(`${bad}:4:18: error: unknown actionner 'process:kil'`);
    expect(r.stdout + r.stderr).toContain("RESPONSE_RULES_INVALID");
  }, 120_000);

  it("list: reads the action journal from --storage, newest first, filtered", async () => {
    const store = new ActionStore(dir);
    const base = { alert_rule: "Reverse shell", alert_priority: "Critical", alert_time: new Date().toISOString(), rule: "R", action: "Kill", actionner: "process:kill", parameters: {}, attempts: 1, created_at: Date.now() };
    store.put({ ...base, alert_uuid: "a1", action_index: 0, status: "done", message: "SIGKILL sent to pid 42 (nc)", target: { kind: "process", description: "pid 42 (nc)", identity: { pid: "42" } }, finished_at: Date.now() });
    store.put({ ...base, alert_uuid: "a2", action_index: 0, status: "refused", code: "RESPONSE_REFUSED", message: "refused: pid 1 (init): pid 1 (the init process) is never touched", finished_at: Date.now() });
    store.close();
    const [all, refused] = await Promise.all([runCli(["response", "list", "--storage", dir]), runCli(["response", "list", "--storage", dir, "--status", "refused", "--json"])]);
    expect(all.code, all.stderr).toBe(0);
    const lines = all.stdout.trim().split("\n");
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain("refused");
    expect(lines[0]).toContain("[RESPONSE_REFUSED]");
    expect(lines[1]).toContain('done         process:kill pid 42 (nc) · rule "R" · action "Kill" · alert a1 (Reverse shell)');
    const j = JSON.parse(refused.stdout) as { actions: { alert_uuid: string }[]; counts: Record<string, number> };
    expect(j.actions.map((a) => a.alert_uuid)).toEqual(["a2"]);
    expect(j.counts).toEqual({ done: 1, refused: 1 });
  }, 120_000);
});
