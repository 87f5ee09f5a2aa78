import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { EventSource } from "../../../src/detector/event.js";
import { loadRules } from "../../../src/detector/load.js";
import { parseReplay, replaySource } from "../../../src/detector/sources/replay.js";
import { REPO, fixture } from "./helpers.js";

const source = replaySource();
const { ruleset, results } = loadRules({ files: [join(REPO, "rules/peregrine_rules.yaml")], sources: [source as unknown as EventSource<never>], ruleMatching: "all" });
const events = parseReplay(fixture("events/default-rules.jsonl"));
const expected = [
  "Credential file read by unexpected program",
  null,
  "Interactive shell in container",
  null,
  "Program run from a memory or temporary filesystem",
  null,
  "Log file truncated",
  null,
  "Kernel module loaded",
  null,
];

describe("Peregrine's own rules (rules/peregrine_rules.yaml, opt-in)", () => {
  it("load without errors or warnings", () => {
    expect(results.errors).toEqual([]);
    expect(results.warnings).toEqual([]);
    expect(ruleset.rules.map((r) => r.name).sort()).toEqual(expected.filter((x): x is string => x !== null).sort());
  });
  expected.forEach((rule, i) => {
    const previous = expected[i - 1];
    it(rule ? `${rule}: fires` : `${previous}: stays silent on the benign twin`, () => {
      const fired = ruleset.evaluate(source, events[i]!).map((a) => a.rule);
      expect(fired).toEqual(rule ? [rule] : []);
    });
  });
});
