import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { EventSource } from "../../../src/detector/event.js";
import { checkRulesOptions, loadRules, RulesOptionsError, type LoadRulesOptions } from "../../../src/detector/load.js";
import type { LoadMessage } from "../../../src/detector/loader/results.js";
import { normalizeReplayEvent, replaySource, type ReplayEvent } from "../../../src/detector/sources/replay.js";
import { INCUBATING_RULES, STABLE_RULES } from "./helpers.js";

const source = replaySource();
const sources = [source as unknown as EventSource<never>];

function load(text: string, extra: Partial<LoadRulesOptions> = {}) {
  return loadRules({ documents: [{ name: "rules.yaml", text }], sources, hostname: "h", ...extra });
}

function ev(fields: Record<string, unknown>): ReplayEvent {
  return normalizeReplayEvent({ time: "2026-01-01T00:00:00Z", fields }, 1);
}

function codes(ms: readonly LoadMessage[]): string[] {
  return ms.map((m) => m.code);
}

const RULE = (name: string, condition: string, extra = "") =>
  `- rule: ${name}\n  desc: d\n  condition: ${condition}\n  output: "out %proc.name"\n  priority: WARNING\n${extra}`;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("Falco's rules corpus", () => {
  it("stable + incubating load with no errors and no warnings (every macro and list is used)", () => {
    const { ruleset, results } = loadRules({ files: [STABLE_RULES, INCUBATING_RULES], sources });
    expect(results.errors).toEqual([]);
    expect(results.warnings).toEqual([]);
    expect(ruleset.rules).toHaveLength(56);
  });
  it("the stable ruleset's interest set is the syscalls its rules name", () => {
    const { ruleset } = loadRules({ files: [STABLE_RULES], sources });
    const interest = ruleset.eventTypes("syscall");
    expect(interest.all).toBe(false);
    for (const t of ["openat", "execve", "connect", "ptrace", "dup2", "linkat", "finit_module"]) expect(interest.types.has(t)).toBe(true);
    expect(interest.types.has("read")).toBe(false);
  });
});

describe("load errors carry Falco's codes and positions", () => {
  it("LOAD_ERR_FILE_READ for a missing file", () => {
    const { results } = loadRules({ files: ["/nonexistent/rules.yaml"], sources });
    expect(codes(results.errors)).toEqual(["LOAD_ERR_FILE_READ"]);
    expect(results.errors[0]!.message).toMatch(/ENOENT/);
  });
  it("LOAD_ERR_YAML_PARSE with the line and column", () => {
    const { results } = load("- rule: x\n  desc: [unclosed\n");
    expect(codes(results.errors)).toEqual(["LOAD_ERR_YAML_PARSE"]);
    expect(results.errors[0]!.position.file).toBe("rules.yaml");
    expect(results.errors[0]!.position.line).toBeGreaterThanOrEqual(2);
  });
  it("LOAD_ERR_YAML_VALIDATE for a document that is not a list, and for a missing key", () => {
    expect(codes(load("rule: x\n").results.errors)).toEqual(["LOAD_ERR_YAML_VALIDATE"]);
    const r = load("- rule: x\n  desc: d\n  output: o\n  priority: INFO\n");
    expect(codes(r.results.errors)).toEqual(["LOAD_ERR_YAML_VALIDATE"]);
    expect(r.results.errors[0]!.message).toBe("Item has no mapping for key 'condition'");
    expect(r.results.errors[0]!.item).toEqual({ type: "rule", name: "x" });
  });
  it("LOAD_ERR_COMPILE_CONDITION points at the file line/column and shows a caret", () => {
    const { results } = load(RULE("bad", ">\n    evt.type = open and\n    proc.name bash"));
    expect(codes(results.errors)).toEqual(["LOAD_ERR_COMPILE_CONDITION"]);
    const e = results.errors[0]!;
    expect(e.position).toMatchObject({ file: "rules.yaml", line: 5, column: 15 });
    expect(e.position.offset).toBe(RULE("bad", ">\n    evt.type = open and\n    proc.name bash").indexOf("proc.name bash") + 10);
    expect(e.snippet).toBe("evt.type = open and proc.name bash\n                              ^");
    expect(e.message).toMatch(/expected a valid check operator/);
  });
  it("maps condition positions back through plain multi-line and quoted scalars", () => {
    const plain = load("- macro: m\n  condition: (proc.name = a or\n              proc.name ~ b)\n" + RULE("r", "evt.type = open and m"));
    expect(plain.results.errors).toHaveLength(1); // the rule using the broken macro adds no noise
    expect(plain.results.errors[0]).toMatchObject({ code: "LOAD_ERR_COMPILE_CONDITION", position: { line: 3, column: 25 } });
    const quoted = load('- macro: m\n  condition: "proc.name = \\"x\\" and proc.name ~ b"\n' + RULE("r", "evt.type = open and m"));
    expect(quoted.results.errors[0]).toMatchObject({ code: "LOAD_ERR_COMPILE_CONDITION", position: { line: 2, column: 47 } });
  });
  it("LOAD_ERR_COMPILE_CONDITION for an unknown field, naming the macro it came from", () => {
    const { results } = load(`- macro: m\n  condition: proc.nope = 1\n${RULE("r", "evt.type = open and m")}`);
    expect(codes(results.errors)).toEqual(["LOAD_ERR_COMPILE_CONDITION"]);
    expect(results.errors[0]!.message).toMatch(/nonexistent field 'proc.nope'.*in macro 'm' used by rule 'r'/);
    expect(results.errors[0]!.position).toMatchObject({ line: 2, column: 14 });
  });
  it("LOAD_ERR_COMPILE_OUTPUT for an unknown output field", () => {
    const { results } = load("- rule: r\n  desc: d\n  condition: evt.type = open\n  output: x=%proc.nope\n  priority: INFO\n");
    expect(codes(results.errors)).toEqual(["LOAD_ERR_COMPILE_OUTPUT"]);
    expect(results.errors[0]!.position).toMatchObject({ line: 4, column: 13 });
  });
  it("LOAD_ERR_VALIDATE for an undefined macro, a macro defined later, a loop, and appends without a base", () => {
    expect(load(RULE("r", "evt.type = open and nosuch")).results.errors[0]).toMatchObject({
      code: "LOAD_ERR_VALIDATE",
      message: "Undefined macro 'nosuch' used in filter.",
    });
    const later = load(`- macro: a\n  condition: b\n- macro: b\n  condition: evt.type = open\n${RULE("r", "a")}`);
    expect(later.results.errors[0]).toMatchObject({ code: "LOAD_ERR_VALIDATE", message: "Undefined macro 'b' used in filter.", item: { type: "macro", name: "a" } });
    const loop = load(
      `- macro: a\n  condition: evt.type = open\n- macro: b\n  condition: a\n- macro: a\n  condition: b\n${RULE("r", "a")}`,
    );
    expect(loop.results.errors.some((e) => e.code === "LOAD_ERR_VALIDATE" && /Reference loop in macro/.test(e.message))).toBe(true);
    expect(load("- list: l\n  items: [a]\n  append: true\n").results.errors[0]).toMatchObject({ code: "LOAD_ERR_VALIDATE" });
    expect(load("- macro: m\n  condition: x\n  append: true\n").results.errors[0]).toMatchObject({ code: "LOAD_ERR_VALIDATE" });
    expect(load("- rule: r\n  condition: x\n  append: true\n").results.errors[0]).toMatchObject({ code: "LOAD_ERR_VALIDATE" });
    expect(load("- rule: r\n  enabled: false\n").results.errors[0]).toMatchObject({ code: "LOAD_ERR_VALIDATE" });
    expect(load(RULE("r", "evt.type = open") + "- rule: r\n  tags: [x]\n").results.errors[0]).toMatchObject({
      code: "LOAD_ERR_YAML_VALIDATE",
      message: "Item has no mapping for key 'enabled'",
    });
  });
  it("LOAD_ERR_VALIDATE for engine and plugin version requirements we cannot meet", () => {
    expect(load("- required_engine_version: 99.0.0\n").results.errors[0]).toMatchObject({ code: "LOAD_ERR_VALIDATE", message: /engine version/ });
    expect(load("- required_engine_version: 0.26.0\n").results.errors).toEqual([]);
    expect(load("- required_engine_version: 13\n").results.errors).toEqual([]); // old numbering: 0.13.0
    expect(load("- required_engine_version: 58\n").results.errors[0]).toMatchObject({ code: "LOAD_ERR_VALIDATE" });
    expect(load("- required_engine_version: soon\n").results.errors[0]).toMatchObject({ code: "LOAD_ERR_YAML_VALIDATE" });
    expect(load("- required_plugin_versions:\n  - name: k8saudit\n    version: 0.19.0\n").results.errors[0]).toMatchObject({ code: "LOAD_ERR_VALIDATE" });
    expect(load("- required_plugin_versions:\n  - name: cloudtrail\n    version: 0.1.0\n").results.errors[0]).toMatchObject({ code: "LOAD_ERR_VALIDATE" });
    // the k8s_audit source's fields are k8saudit 0.18.0's and json 0.7.4's
    expect(load("- required_plugin_versions:\n  - name: k8saudit\n    version: 0.18.0\n  - name: json\n    version: 0.7.4\n").results.errors).toEqual([]);
    expect(load("- required_plugin_versions:\n  - name: container\n    version: 0.4.0\n").results.errors).toEqual([]);
  });
  it("LOAD_ERR_YAML_VALIDATE for a bad priority, LOAD_ERR_VALIDATE for inconsistent exceptions", () => {
    expect(load("- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: LOUD\n").results.errors[0]).toMatchObject({
      code: "LOAD_ERR_YAML_VALIDATE",
      message: "Invalid priority 'LOUD'",
    });
    const ex = load(RULE("r", "evt.type = open", "  exceptions:\n    - name: e\n      fields: [proc.name, fd.name]\n      comps: [=]\n"));
    expect(ex.results.errors[0]).toMatchObject({ code: "LOAD_ERR_VALIDATE", message: /equal length/ });
    const badOp = load(RULE("r", "evt.type = open", "  exceptions:\n    - name: e\n      fields: proc.name\n      comps: like\n"));
    expect(badOp.results.errors[0]).toMatchObject({ code: "LOAD_ERR_VALIDATE", message: /'like' is not a supported comparison operator/ });
    const unknownField = load(RULE("r", "evt.type = open", "  exceptions:\n    - name: e\n      fields: [proc.nope]\n      values: [[a]]\n"));
    expect(unknownField.results.errors[0]).toMatchObject({ code: "LOAD_ERR_VALIDATE", message: "Exception 'e': 'proc.nope' is not a supported filter field" });
    const scalarEq = load(RULE("r", "evt.type = open", "  exceptions:\n    - name: e\n      fields: proc.name\n      comps: =\n      values: [a]\n"));
    expect(scalarEq.results.errors[0]).toMatchObject({ code: "LOAD_ERR_VALIDATE", message: /comps must be one of \(in, pmatch, intersects\)/ });
  });
});

describe("load warnings carry Falco's codes", () => {
  const warn = (text: string) => codes(load(text).results.warnings);
  it("LOAD_UNKNOWN_SOURCE skips the rule", () => {
    const r = load(RULE("r", "ka.verb = create", "  source: k8s_audit\n"));
    expect(codes(r.results.warnings)).toEqual(["LOAD_UNKNOWN_SOURCE"]);
    expect(r.results.errors).toEqual([]);
    expect(r.ruleset.rules).toHaveLength(0);
  });
  it("LOAD_NO_EVTTYPE for a rule without an event-type restriction, unless warn_evttypes is false", () => {
    expect(warn(RULE("r", "proc.name = bash"))).toEqual(["LOAD_NO_EVTTYPE"]);
    expect(warn(RULE("r", "proc.name = bash", "  warn_evttypes: false\n"))).toEqual([]);
  });
  it("LOAD_UNKNOWN_FILTER when skip-if-unknown-filter downgrades an unknown field", () => {
    const r = load(RULE("r", "evt.type = open and proc.future_field = 1", "  skip-if-unknown-filter: true\n"));
    expect(codes(r.results.warnings)).toEqual(["LOAD_UNKNOWN_FILTER"]);
    expect(r.results.errors).toEqual([]);
    expect(r.ruleset.rules).toHaveLength(0);
  });
  it("LOAD_UNUSED_MACRO and LOAD_UNUSED_LIST", () => {
    expect(warn("- macro: m\n  condition: evt.type = open\n- list: l\n  items: [a]\n")).toEqual(["LOAD_UNUSED_MACRO", "LOAD_UNUSED_LIST"]);
  });
  it("LOAD_UNKNOWN_ITEM and LOAD_UNKNOWN_KEY", () => {
    expect(warn("- plugin: foo\n")).toEqual(["LOAD_UNKNOWN_ITEM"]);
    expect(warn(RULE("r", "evt.type = open", "  severity: high\n"))).toEqual(["LOAD_UNKNOWN_KEY"]);
  });
  it("LOAD_DEPRECATED_ITEM for append: true and for a standalone enabled, as Falco warns", () => {
    expect(warn("- list: l\n  items: [a]\n- list: l\n  items: [b]\n  append: true\n" + RULE("r", "evt.type = open and proc.name in (l)"))).toEqual([
      "LOAD_DEPRECATED_ITEM",
    ]);
    expect(warn(RULE("r", "evt.type = open") + "- rule: r\n  enabled: false\n")).toEqual(["LOAD_DEPRECATED_ITEM"]);
    expect(warn(RULE("r", "evt.type = open") + "- rule: r\n  enabled: false\n  override:\n    enabled: replace\n")).toEqual([]);
  });
  it("LOAD_DEPRECATED_ITEM for evt.dir and %container.info (which is removed from the output)", () => {
    expect(warn(RULE("r", "evt.type = open and evt.dir = <"))).toEqual(["LOAD_DEPRECATED_ITEM"]);
    const r = load("- rule: r\n  desc: d\n  condition: evt.type = open\n  output: shell %container.info x=%proc.name\n  priority: INFO\n");
    expect(codes(r.results.warnings)).toEqual(["LOAD_DEPRECATED_ITEM"]);
    expect(r.results.errors).toEqual([]);
    expect(r.ruleset.evaluate(source, ev({ "evt.type": "open", "proc.name": "sh" }))[0]!.output.replace(/^\S+: /, "")).toBe("Informational shell  x=sh");
  });
  it("LOAD_APPEND_NO_VALUES for an append with no items", () => {
    expect(warn("- list: l\n  items: [a]\n- list: l\n  items: []\n  override:\n    items: append\n" + RULE("r", "evt.type = open and proc.name in (l)"))).toEqual([
      "LOAD_APPEND_NO_VALUES",
    ]);
  });
  it("LOAD_EXCEPTION_NAME_NOT_UNIQUE", () => {
    const ex = "  exceptions:\n    - name: e\n      fields: proc.name\n      values: [a]\n    - name: e\n      fields: proc.name\n      values: [b]\n";
    expect(warn(RULE("r", "evt.type = open", ex))).toEqual(["LOAD_EXCEPTION_NAME_NOT_UNIQUE"]);
  });
  it("LOAD_INVALID_MACRO_NAME and LOAD_INVALID_LIST_NAME", () => {
    expect(warn("- macro: my-macro\n  condition: evt.type = open\n")).toContain("LOAD_INVALID_MACRO_NAME");
    expect(warn("- list: my list\n  items: [a]\n")).toContain("LOAD_INVALID_LIST_NAME");
    expect(warn("- list: my-list\n  items: [a]\n")).not.toContain("LOAD_INVALID_LIST_NAME"); // bare strings are fine for lists
  });
});

describe("lists, macros, append and override", () => {
  const openBy = (name: string) => ev({ "evt.type": "open", "proc.name": name });
  const fires = (text: string, e: ReplayEvent) => load(text).ruleset.evaluate(source, e).map((a) => a.rule);

  it("expands lists in lists and quoted items", () => {
    const text = `- list: a\n  items: [cat, '"my tool"']\n- list: b\n  items: [a, dog]\n${RULE("r", "evt.type = open and proc.name in (b)")}`;
    expect(fires(text, openBy("cat"))).toEqual(["r"]);
    expect(fires(text, openBy("my tool"))).toEqual(["r"]);
    expect(fires(text, openBy("dog"))).toEqual(["r"]);
    expect(fires(text, openBy("cow"))).toEqual([]);
  });
  it("appends to lists, macros and rules (append: true)", () => {
    const text =
      `- list: l\n  items: [cat]\n- list: l\n  items: [dog]\n  append: true\n` +
      `- macro: m\n  condition: evt.type = open and (proc.name in (l)\n- macro: m\n  condition: or proc.name = cow)\n  append: true\n` +
      RULE("r", "m") +
      `- rule: r\n  condition: and proc.name != cow\n  append: true\n`;
    expect(fires(text, openBy("dog"))).toEqual(["r"]);
    expect(fires(text, openBy("cow"))).toEqual([]);
  });
  it("override: append and replace per key", () => {
    const text =
      RULE("r", "evt.type = open and proc.name = cat") +
      `- rule: r\n  condition: or proc.name = dog\n  priority: CRITICAL\n  override:\n    condition: append\n    priority: replace\n`;
    const r = load(text);
    expect(r.results.errors).toEqual([]);
    const alerts = r.ruleset.evaluate(source, openBy("dog"));
    expect(alerts.map((a) => [a.rule, a.priority])).toEqual([["r", "Critical"]]);
  });
  it("override refuses keys that cannot be appended, and mixing with append: true", () => {
    const a = load(RULE("r", "evt.type = open") + `- rule: r\n  priority: INFO\n  override:\n    priority: append\n`);
    expect(a.results.errors[0]).toMatchObject({ code: "LOAD_ERR_YAML_VALIDATE", message: /cannot be appended/ });
    const b = load(RULE("r", "evt.type = open") + `- rule: r\n  condition: x\n  append: true\n  override:\n    condition: append\n`);
    expect(b.results.errors[0]).toMatchObject({ code: "LOAD_ERR_YAML_VALIDATE", message: /cannot be used together/ });
    const c = load(RULE("r", "evt.type = open") + `- rule: r\n  condition: x\n  desc: more\n  override:\n    condition: append\n`);
    expect(c.results.errors[0]).toMatchObject({ code: "LOAD_ERR_YAML_VALIDATE", message: "Unexpected key 'desc': no corresponding entry under 'override' is defined." });
  });
  it("redefines a rule in place and toggles it with an enabled-only item", () => {
    const text = RULE("r", "evt.type = open and proc.name = cat") + RULE("r", "evt.type = open and proc.name = dog") + "- rule: r\n  enabled: false\n";
    const r = load(text);
    expect(r.ruleset.rules).toHaveLength(1);
    expect(r.ruleset.rules[0]!.enabled).toBe(false);
    expect(r.ruleset.evaluate(source, openBy("dog"))).toEqual([]);
    expect(load(RULE("r", "evt.type = open and proc.name = cat") + RULE("r", "evt.type = open and proc.name = dog")).ruleset.evaluate(source, openBy("dog"))).toHaveLength(1);
  });
});

describe("exceptions", () => {
  const exceptions =
    "  exceptions:\n" +
    "    - name: tuple\n      fields: [proc.name, fd.name]\n      comps: [=, startswith]\n      values:\n        - [cat, /tmp]\n        - [dog, /var]\n" +
    "    - name: scalar\n      fields: proc.name\n      values: [cow, \"my tool\"]\n" +
    "    - name: listvalue\n      fields: [proc.name]\n      comps: [in]\n      values:\n        - [[ant, bee]]\n";
  const text = RULE("r", "evt.type = open", exceptions);
  const fire = (name: string, file: string) => load(text).ruleset.evaluate(source, ev({ "evt.type": "open", "proc.name": name, "fd.name": file })).length > 0;

  it("compiles tuple exceptions with comps, scalar exceptions with the default 'in', and list values", () => {
    expect(load(text).results.errors).toEqual([]);
    expect(fire("cat", "/tmp/x")).toBe(false);
    expect(fire("cat", "/etc/x")).toBe(true);
    expect(fire("dog", "/var/log")).toBe(false);
    expect(fire("cow", "/etc/x")).toBe(false);
    expect(fire("my tool", "/etc/x")).toBe(false);
    expect(fire("bee", "/etc/x")).toBe(false);
    expect(fire("horse", "/etc/x")).toBe(true);
  });
  it("shows the exceptions in the compiled condition, the way Falco builds it", () => {
    expect(load(text).ruleset.rules[0]!.condition).toBe(
      '(evt.type = open) and not ((proc.name = cat and fd.name startswith /tmp) or (proc.name = dog and fd.name startswith /var)) and not (proc.name in (cow, "my tool")) and not ((proc.name in (ant, bee)))',
    );
  });
  it("accepts comps with modifiers, taking a list value", () => {
    const ex = "  exceptions:\n    - name: paths\n      fields: [proc.name, fd.name]\n      comps: [=, startswith anyof]\n      values:\n        - [cat, [/tmp, /var/tmp]]\n";
    const r = load(RULE("r", "evt.type = open", ex));
    expect(r.results.errors).toEqual([]);
    const fire = (file: string) => r.ruleset.evaluate(source, ev({ "evt.type": "open", "proc.name": "cat", "fd.name": file })).length > 0;
    expect(fire("/var/tmp/x")).toBe(false);
    expect(fire("/etc/x")).toBe(true);
  });
  it("appends exception values to an existing exception", () => {
    const more = text + "- rule: r\n  exceptions:\n    - name: scalar\n      values: [horse]\n  override:\n    exceptions: append\n";
    const r = load(more);
    expect(r.results.errors).toEqual([]);
    expect(r.ruleset.evaluate(source, ev({ "evt.type": "open", "proc.name": "horse" }))).toEqual([]);
  });
});

describe("selection, priorities, matching and outputs", () => {
  const text =
    RULE("Shell A", "evt.type = open and proc.name = bash", "  tags: [shell, a]\n") +
    "- rule: Shell B\n  desc: d\n  condition: evt.type = open and proc.name = bash\n  output: \"b %proc.name %fd.num %proc.aname[2]\"\n  priority: DEBUG\n  tags: [shell]\n";
  const bash = ev({ "evt.type": "open", "proc.name": "bash", "fd.num": 3 });

  it("rule_matching first stops at the first match; all reports every match in load order", () => {
    expect(load(text).ruleset.evaluate(source, bash).map((a) => a.rule)).toEqual(["Shell A"]);
    expect(load(text, { ruleMatching: "all" }).ruleset.evaluate(source, bash).map((a) => a.rule)).toEqual(["Shell A", "Shell B"]);
  });
  it("selection enables/disables by name wildcard or tag, in order", () => {
    const sel = (selection: LoadRulesOptions["selection"]) =>
      load(text, { ruleMatching: "all", selection }).ruleset.evaluate(source, bash).map((a) => a.rule);
    expect(sel([{ disable: { rule: "Shell *" } }, { enable: { tag: "a" } }])).toEqual(["Shell A"]);
    expect(sel([{ disable: { tag: "shell" } }])).toEqual([]);
    expect(sel([{ disable: { rule: "Shell A" } }])).toEqual(["Shell B"]);
  });
  it("minimum priority drops less severe rules", () => {
    expect(load(text, { ruleMatching: "all", minimumPriority: "info" }).ruleset.evaluate(source, bash).map((a) => a.rule)).toEqual(["Shell A"]);
  });
  it("outputs are typed: numbers stay numbers, missing is null and <NA>", () => {
    const r = load(text, { ruleMatching: "all", selection: [{ disable: { rule: "Shell A" } }], timeFormatIso8601: true });
    const [a] = r.ruleset.evaluate(source, bash);
    expect(a).toEqual({
      time: "2026-01-01T00:00:00Z",
      priority: "Debug",
      rule: "Shell B",
      output: "2026-01-01T00:00:00.000000000+0000: Debug b bash 3 <NA>",
      output_fields: { "proc.name": "bash", "fd.num": 3, "proc.aname[2]": null, "evt.time.iso8601": 1767225600000000000 },
      source: "syscall",
      tags: ["shell"],
      hostname: "h",
    });
  });
  it("append_output adds text and fields to matching rules", () => {
    const r = load(text, {
      appendOutput: [
        { match: { tags: ["a"] }, extra_output: "pid=%proc.pid", extra_fields: ["fd.num", { combo: "%proc.name/%fd.num" }] },
        { match: { rule: "nope" }, extra_output: "never" },
      ],
      timeFormatIso8601: true,
    });
    const [a] = r.ruleset.evaluate(source, bash);
    expect(a!.output).toBe("2026-01-01T00:00:00.000000000+0000: Warning out bash pid=<NA>");
    expect(a!.output_fields).toEqual({ "evt.time.iso8601": 1767225600000000000, "proc.name": "bash", "proc.pid": null, "fd.num": 3, combo: "bash/3" });
  });
  it("malformed selection steps and append_output entries are errors naming their path, not TypeErrors", () => {
    const bad = (opts: Record<string, unknown>) => {
      try {
        load(text, opts as Partial<LoadRulesOptions>);
      } catch (err) {
        expect(err).toBeInstanceOf(RulesOptionsError);
        return (err as RulesOptionsError).problems;
      }
      throw new Error("expected RulesOptionsError");
    };
    expect(bad({ selection: [{ enable: { rule: 5 } }, { enable: {} }, { toggle: { rule: "x" } }] })).toEqual([
      "rules[0].enable.rule: must be a non-empty string",
      "rules[1].enable: must name a rule and/or a tag (rule: NAME, tag: TAG)",
      "rules[2]: must be a map with one key, enable or disable",
    ]);
    expect(bad({ appendOutput: [{ extra_fields: "fd.num" }, { match: { tags: "a", src: "syscall" } }, { extra_output: 3, extra_fields: [7] }] })).toEqual([
      "append_output[0].extra_fields: must be a list of field names or {key: format} maps",
      "append_output[1].match.tags: must be a list of tags",
      "append_output[1].match: unknown key 'src' (expected source, tags, rule)",
      "append_output[2].extra_output: must be a string",
      "append_output[2].extra_fields[0]: must be a field name or a {key: format} map",
    ]);
    expect(checkRulesOptions({ selection: [{ disable: { rule: "*", tag: "a" } }], appendOutput: [{ match: { source: "syscall", tags: ["a"], rule: "r" }, extra_output: "x", extra_fields: ["a", { k: "%a" }] }] })).toEqual([]);
  });
  it("loads directories in name order, later files overriding earlier ones", () => {
    const dir = mkdtempSync(join(tmpdir(), "rules-"));
    dirs.push(dir);
    writeFileSync(join(dir, "20-local.yaml"), "- list: names\n  items: [dog]\n  append: true\n");
    writeFileSync(join(dir, "10-base.yml"), "- list: names\n  items: [cat]\n" + RULE("r", "evt.type = open and proc.name in (names)"));
    writeFileSync(join(dir, "notes.txt"), "ignored");
    const r = loadRules({ files: [dir], sources });
    expect(r.results.errors).toEqual([]);
    expect(r.ruleset.evaluate(source, ev({ "evt.type": "open", "proc.name": "dog" }))).toHaveLength(1);
  });
  it("a directory without rules files is an error naming it, not an empty ruleset", () => {
    const dir = mkdtempSync(join(tmpdir(), "rules-empty-"));
    dirs.push(dir);
    writeFileSync(join(dir, "README.txt"), "no rules here");
    const r = loadRules({ files: [dir], sources });
    expect(r.results.errors.map((e) => [e.code, e.message])).toEqual([
      ["LOAD_ERR_FILE_READ", `cannot load '${dir}': the directory has no .yaml or .yml files`],
    ]);
  });
  it("eventTypes reports 'all' when some rule matches every event type", () => {
    const r = load(RULE("any", "proc.name = bash", "  warn_evttypes: false\n") + RULE("o", "evt.type in (open, openat)"));
    expect(r.ruleset.eventTypes("syscall")).toEqual({ all: true, types: new Set(["open", "openat"]) });
    expect(r.ruleset.evaluate(source, ev({ "evt.type": "read", "proc.name": "bash" })).map((a) => a.rule)).toEqual(["any"]);
  });
});
