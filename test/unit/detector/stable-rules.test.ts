import { clockTime, readTime } from "../../../src/detector/output/time.js";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadRules } from "../../../src/detector/load.js";
import { parseReplay, replaySource } from "../../../src/detector/sources/replay.js";
import type { EventSource } from "../../../src/detector/event.js";
import { FIXTURES, STABLE_RULES, fixture } from "./helpers.js";

// Every stable Falco rule fires on an event written from the rule's meaning and stays silent
// on a benign twin; both events live in test/fixtures/events/stable/<rule>.jsonl (fire, then silent).
const source = replaySource();
const { ruleset, results } = loadRules({
  files: [STABLE_RULES],
  sources: [source as unknown as EventSource<never>],
  ruleMatching: "all",
  hostname: "test-host",
});
const index = JSON.parse(fixture("events/stable/index.json")) as Record<string, { rule: string; silentBecause: string }>;

describe("Falco stable rules on replayed events", () => {
  it("loads without errors and covers every stable rule", () => {
    expect(results.errors).toEqual([]);
    const names = ruleset.rules.map((r) => r.name).sort();
    expect(Object.values(index).map((x) => x.rule).sort()).toEqual(names);
    expect(names).toHaveLength(25);
  });

  const files = readdirSync(join(FIXTURES, "events/stable")).filter((f) => f.endsWith(".jsonl"));
  for (const file of files) {
    const slug = file.replace(/\.jsonl$/, "");
    const { rule, silentBecause } = index[slug]!;
    const [fire, silent] = parseReplay(fixture("events/stable", file));

    it(`${rule}: fires`, () => {
      const alerts = ruleset.evaluate(source, fire!);
      const alert = alerts.find((a) => a.rule === rule);
      expect(alert, `no alert for ${rule}; got ${alerts.map((a) => a.rule).join(", ")}`).toBeDefined();
      expect(alert!.source).toBe("syscall");
      expect(alert!.hostname).toBe("test-host");
      expect(alert!.time).toBe(fire!.time);
      // Falco's default prefix: the local clock time (test/unit/detector/falco-semantics.test.ts)
      expect(alert!.output.startsWith(`${clockTime(readTime(fire!.time)!)}: ${alert!.priority} `)).toBe(true);
      expect(alert!.tags).toContain("maturity_stable");
      expect(alert!.output_fields["evt.type"]).toBe(fire!.fields["evt.type"]);
    });

    it(`${rule}: stays silent when ${silentBecause}`, () => {
      const alerts = ruleset.evaluate(source, silent!);
      expect(alerts.map((a) => a.rule)).not.toContain(rule);
    });
  }
});
