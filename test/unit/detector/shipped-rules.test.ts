import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { EventSource } from "../../../src/detector/event.js";
import { loadRules } from "../../../src/detector/load.js";
import { parseReplay, replaySource } from "../../../src/detector/sources/replay.js";
import { readDetectorConfig } from "../../../src/detector/sources/syscall/config.js";
import { REPO } from "./helpers.js";

// What a new user gets without a detector section: Falco's stable ruleset, as Falco loads it.
const source = replaySource();
const sources = [source as unknown as EventSource<never>];
const parsed = readDetectorConfig(undefined);
if (!parsed.ok) throw new Error(parsed.problems.join("; "));
const defaults = parsed.config.rulesFiles;
const { ruleset, results } = loadRules({ files: defaults, sources, ruleMatching: "first" });

const ev = (fields: Record<string, unknown>) =>
  parseReplay(JSON.stringify({ source: "syscall", time: "2026-03-01T12:00:00.000000001Z", fields }))[0]!;
const findKeys = ev({ "evt.type": "execve", "evt.res": "SUCCESS", "user.name": "root", "user.uid": 0, "proc.name": "find", "proc.cmdline": "find / -name id_rsa", "proc.args": "/ -name id_rsa" });
const findLogs = ev({ "evt.type": "execve", "evt.res": "SUCCESS", "user.name": "root", "user.uid": 0, "proc.name": "find", "proc.cmdline": "find / -name *.log", "proc.args": "/ -name *.log" });
const fromTmp = ev({ "evt.type": "execve", "evt.res": "SUCCESS", "proc.name": "a.out", "proc.exepath": "/tmp/build/a.out", "proc.cmdline": "a.out", "proc.is_exe_from_memfd": false });

describe("the rules the detector loads by default", () => {
  it("are Falco's stable ruleset in rules/falco/, compiled without an error", () => {
    expect(defaults).toEqual([join(REPO, "rules/falco")]);
    expect(results.errors).toEqual([]);
    expect(ruleset.rules).toHaveLength(25);
    for (const r of ruleset.rules) expect(r.tags, r.name).toContain("maturity_stable");
  });

  it("raise Falco's alert for `find / -name id_rsa`, and none for a search for logs", () => {
    const alerts = ruleset.evaluate(source, findKeys);
    expect(alerts.map((a) => a.rule)).toEqual(["Search Private Keys or Passwords"]);
    expect(alerts[0]!.output).toContain("find / -name id_rsa");
    expect(ruleset.evaluate(source, findLogs)).toEqual([]);
  });

  it("do not include Peregrine's own rules: a program run from /tmp raises nothing unless they are listed", () => {
    expect(ruleset.rules.some((r) => r.tags.includes("peregrine"))).toBe(false);
    expect(ruleset.evaluate(source, fromTmp)).toEqual([]);
    const optIn = loadRules({ files: [...defaults, join(REPO, "rules/peregrine_rules.yaml")], sources, ruleMatching: "first" });
    expect(optIn.results.errors).toEqual([]);
    expect(optIn.ruleset.evaluate(source, fromTmp).map((a) => a.rule)).toEqual(["Program run from a memory or temporary filesystem"]);
    // Falco's rules keep their place in front: the same search is still Falco's alert.
    expect(optIn.ruleset.evaluate(source, findKeys).map((a) => a.rule)).toEqual(["Search Private Keys or Passwords"]);
  });

  it("ship with their licence and a VERSION whose checksum is the file's", () => {
    const dir = join(REPO, "rules/falco");
    const yaml = readFileSync(join(dir, "falco_rules.yaml"));
    expect(readFileSync(join(dir, "LICENSE"), "utf8")).toContain("Apache License\n                           Version 2.0");
    const version = readFileSync(join(dir, "VERSION"), "utf8");
    expect(version).toMatch(/^version: \d+\.\d+\.\d+$/m);
    expect(version).toContain(`sha256: ${createHash("sha256").update(yaml).digest("hex")}`);
  });
});
