import { describe, expect, it } from "vitest";
import { jsonSource, parsePointer } from "../../../src/detector/sources/json.js";
import { normalizeReplayEvent, parseReplay, ReplayFormatError, replaySource } from "../../../src/detector/sources/replay.js";
import { parseCondition } from "../../../src/detector/condition/parser.js";
import { compileCondition } from "../../../src/detector/compiler/compile.js";
import { loadRules } from "../../../src/detector/load.js";
import type { EventSource } from "../../../src/detector/event.js";
import { compiled } from "./helpers.js";

describe("replay source", () => {
  const src = replaySource();
  const e = normalizeReplayEvent(
    {
      source: "syscall",
      time: "2026-01-01T00:00:00.123456789Z",
      fields: { "evt.type": "openat", "proc.name": "cat", "proc.aname": ["bash", "sshd", "systemd"], "proc.apid": [10, 9, 1], "evt.arg[flags]": "O_RDONLY", "fd.num": "3" },
    },
    1,
  );
  const get = (field: string, arg?: string) => src.extractor(field, arg)!(e);

  it("answers indexed ancestor fields from the parent-first array, and the parent shortcuts", () => {
    expect(get("proc.aname")).toEqual(["bash", "sshd", "systemd"]);
    expect(get("proc.aname", "0")).toBe("cat");
    expect(get("proc.aname", "1")).toBe("bash");
    expect(get("proc.aname", "3")).toBe("systemd");
    expect(get("proc.aname", "4")).toBeUndefined();
    expect(get("proc.pname")).toBe("bash");
    expect(get("proc.apid", "2")).toBe(9);
    expect(get("proc.ppid")).toBe(10);
  });
  it("accepts both argument spellings and converts types", () => {
    expect(get("evt.arg", "flags")).toBe("O_RDONLY");
    expect(get("fd.num")).toBe(3);
    expect(src.eventType(e)).toBe("openat");
    expect(get("evt.time")).toBe("2026-01-01T00:00:00.123456789Z");
  });
  it("names the line and field of bad input", () => {
    const bad = (text: string) => {
      try {
        parseReplay(text);
      } catch (err) {
        return err instanceof ReplayFormatError ? `${err.line}: ${err.message}` : String(err);
      }
      return "no error";
    };
    expect(bad('{"fields": {}}\nnot json')).toMatch(/^2: not valid JSON/);
    expect(bad('{"fields": {"proc.nmae": "x"}}')).toBe("1: unknown field 'proc.nmae'");
    expect(bad('{"fields": {"evt.is_open_read": "yes"}}')).toBe("1: field 'evt.is_open_read' must be true or false");
    expect(bad('{"fields": {"proc.name": ["a"]}}')).toBe("1: field 'proc.name' takes a single value, not an array");
    expect(bad('{"time": "yesterday", "fields": {}}')).toBe("1: 'time' must be an RFC 3339 timestamp");
    expect(bad('{"fields": []}')).toMatch(/'fields' must be an object/);
  });
});

describe("json source", () => {
  it("reads RFC 6901 pointers", () => {
    expect(parsePointer("/a~1b/c~0d")).toEqual(["a/b", "c~d"]);
    const doc = { user: { name: "alice", groups: ["adm", "dev"], id: 7 }, "a/b": true };
    const m = (cond: string) => compiled(cond, jsonSource)(doc);
    expect(m("json.value[/user/name] = alice")).toBe(true);
    expect(m("json.value[/user/groups/1] = dev")).toBe(true);
    expect(m("json.value[/user/id] = 7")).toBe(true);
    expect(m("json.value[/a~1b] = true")).toBe(true);
    expect(m("json.value[/user/missing] exists")).toBe(false);
    expect(m('json.value[/user/groups] = \'["adm","dev"]\'')).toBe(true);
  });
  it("a malformed pointer is a compile error naming it", () => {
    const r = parseCondition("json.value[user] = x");
    if (!r.ok) throw new Error(r.error.message);
    expect(() => compileCondition(r.ast, jsonSource)).toThrow("invalid argument 'user' for field 'json.value'");
  });
  it("rules with source: json load and evaluate", () => {
    const { ruleset, results } = loadRules({
      documents: [{ name: "j.yaml", text: "- rule: admin login\n  desc: d\n  condition: json.value[/user/name] = root\n  output: login by %json.value[/user/name]\n  priority: NOTICE\n  source: json\n" }],
      sources: [jsonSource as EventSource<never>],
      hostname: "h",
    });
    expect(results.errors).toEqual([]);
    const [a] = ruleset.evaluate(jsonSource, { user: { name: "root" } }, "2026-01-01T00:00:00Z");
    expect(a).toMatchObject({ rule: "admin login", source: "json", output_fields: { "json.value[/user/name]": "root" } });
    expect(a!.output.replace(/^\S+: /, "")).toBe("Notice login by root");
  });
});
