import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runRulesCommand } from "../../../src/cli/rules.js";
import { CORPUS, FIXTURES, INCUBATING_RULES, REPO, STABLE_RULES } from "./helpers.js";

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runRulesCommand(argv, { stdout: (t) => void (out += t), stderr: (t) => void (err += t) });
  return { code, out, err };
}

const dir = mkdtempSync(join(tmpdir(), "rules-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const badRules = join(dir, "bad.yaml");
writeFileSync(badRules, "- rule: r\n  desc: d\n  condition: evt.type = open and\n  output: o\n  priority: INFO\n- macro: unused\n  condition: evt.type = open\n");

describe("peregrine rules validate", () => {
  it("accepts Falco's stable and incubating rules: exit 0, no errors, no warnings", async () => {
    const r = await run("validate", "-r", STABLE_RULES, "-r", INCUBATING_RULES);
    expect(r.code).toBe(0);
    expect(r.err).toBe("");
    expect(r.out).toBe("OK: 56 rules (56 enabled), 0 warnings\n");
  });
  it("loads a directory", async () => {
    expect((await run("validate", "-r", CORPUS)).code).toBe(0);
  });
  it("--json prints falco_load_results per file", async () => {
    const r = await run("validate", "-r", badRules, "--json");
    expect(r.code).toBe(1);
    const json = JSON.parse(r.out) as { falco_load_results: { name: string; successful: boolean; errors: unknown[]; warnings: unknown[] }[] };
    expect(json.falco_load_results).toHaveLength(1);
    const [entry] = json.falco_load_results;
    expect(entry).toMatchObject({ name: badRules, successful: false });
    expect(entry!.errors[0]).toMatchObject({
      code: "LOAD_ERR_COMPILE_CONDITION",
      codedesc: "Error compiling condition",
      context: { locations: [{ item_type: "rule", item_name: "r", position: { name: badRules, line: 3, column: 33, offset: 52 } }] },
    });
    expect(entry!.warnings[0]).toMatchObject({ code: "LOAD_UNUSED_MACRO", codedesc: "Unused macro" });
  });
  it("prints errors as file:line:col with a caret, exit 1", async () => {
    const r = await run("validate", "-r", badRules);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`${badRules}:3:33: error LOAD_ERR_COMPILE_CONDITION rule 'r':`);
    expect(r.err).toContain("    evt.type = open and\n                       ^");
    expect(r.out).toMatch(/^FAILED: 1 errors, 1 warnings/);
  });
  it("a missing rules file is an error naming it", async () => {
    const r = await run("validate", "-r", join(dir, "nope.yaml"));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/nope\.yaml:0:0: error LOAD_ERR_FILE_READ: cannot read .*ENOENT/);
  });
});

describe("peregrine rules test", () => {
  it("replays events and prints one Falco JSON alert per line", async () => {
    const events = join(FIXTURES, "events/stable/read-sensitive-file-untrusted.jsonl");
    const r = await run("test", "-r", STABLE_RULES, "--events", events);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines).toHaveLength(1);
    const alert = JSON.parse(lines[0]!);
    expect(alert).toMatchObject({ rule: "Read sensitive file untrusted", priority: "Warning", source: "syscall" });
    expect(alert.output_fields["fd.name"]).toBe("/etc/shadow");
  });
  it("--all reports every matching rule", async () => {
    const events = join(FIXTURES, "events/stable/read-sensitive-file-trusted-after-startup.jsonl");
    const first = await run("test", "-r", STABLE_RULES, "--events", events);
    const all = await run("test", "-r", STABLE_RULES, "--events", events, "--all");
    const rules = (out: string) => out.trim().split("\n").map((l) => (JSON.parse(l) as { rule: string }).rule);
    expect(rules(first.out)).toEqual(["Read sensitive file trusted after startup", "Read sensitive file untrusted"]);
    expect(rules(all.out)).toEqual(["Read sensitive file trusted after startup", "Read sensitive file untrusted", "Read sensitive file untrusted"]);
  });
  it("names the line and field of a bad event", async () => {
    const events = join(dir, "bad.jsonl");
    writeFileSync(events, '{"fields": {"evt.type": "openat"}}\n{"fields": {"fd.num": "three"}}\n');
    const r = await run("test", "-r", STABLE_RULES, "--events", events);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`${events}:2: field 'fd.num' must be a number\n`);
  });
  it("refuses events of a source it cannot replay instead of skipping them or blaming their fields", async () => {
    const events = join(dir, "other-source.jsonl");
    writeFileSync(events, '{"fields": {"evt.type": "openat"}}\n{"source": "json", "fields": {"json.value[/a]": 1}}\n');
    const r = await run("test", "-r", STABLE_RULES, "--events", events);
    expect(r.code).toBe(1);
    expect(r.err).toBe(`${events}:2: source 'json' cannot be replayed here: only 'syscall' events can\n`);
    writeFileSync(events, '{"source": "k8s_audit", "fields": {"evt.type": "openat"}}\n');
    expect((await run("test", "-r", STABLE_RULES, "--events", events)).err).toMatch(/:1: source 'k8s_audit' cannot be replayed here/);
  });
});

describe("usage", () => {
  it("exits 2 on usage errors with a message", async () => {
    expect((await run()).code).toBe(2);
    expect((await run("frobnicate")).err).toMatch(/unknown subcommand 'frobnicate'/);
    expect((await run("validate")).err).toMatch(/at least one -r/);
    expect((await run("test", "-r", STABLE_RULES)).err).toMatch(/needs --events/);
    expect((await run("validate", "-r", STABLE_RULES, "--bogus")).err).toMatch(/unknown flag '--bogus'/);
    expect((await run("validate", "-r")).code).toBe(2);
  });
  it("runs as a script too", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "src/cli/rules.ts", "validate", "-r", STABLE_RULES], { cwd: REPO, encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("OK: 25 rules (25 enabled), 0 warnings\n");
  });
});
