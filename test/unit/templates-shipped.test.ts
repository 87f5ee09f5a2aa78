// Every template shipped in templates/ compiles and renders valid JSON for awkward alerts.
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { compileTemplateFile, type TemplateEscape } from "../../src/templates/index.js";
import { slackTemplateEscape } from "../../outputs/slack/message.js";

const dir = new URL("../../templates/", import.meta.url).pathname;
const files = readdirSync(dir).filter((f) => f.endsWith(".hbs"));

const awkward: Alert = {
  uuid: "5a1b6c1e-2f3a-4b5c-8d9e-0f1a2b3c4d5e",
  time: "2024-03-05T07:08:09.123456789Z",
  priority: "Critical",
  rule: 'Rule with "quotes" & <angle> \\ backslash',
  output: "line one\nline two\ttab \u2028 \"q\" </script> {{not a template}} 😀",
  output_fields: { "proc.cmdline": 'sh -c "echo }}}"', "k8s.ns.name": null, "fd.num": 3, nested: { a: [1, "b"] } },
  source: "syscall",
  tags: ["a\"b", "T1059"],
  hostname: "",
};

function escapeFor(file: string): TemplateEscape {
  return file.startsWith("slack") ? slackTemplateEscape : "json";
}

describe("shipped templates", () => {
  it("there are some", () => {
    expect(files).toEqual(expect.arrayContaining(["slack.hbs", "slack-digest.hbs", "webhook-generic.hbs"]));
  });

  for (const file of files) {
    it(`${file} compiles and renders valid JSON`, () => {
      const t = compileTemplateFile(dir + file, { escape: escapeFor(file) });
      const context =
        file === "slack-digest.hbs"
          ? { count: 3, more: 2, span: "in the last minute", highest: "Critical", rules: [{ rule: awkward.rule, count: 2 }], other_rules: 0, other_alerts: 0, priorities: [{ priority: "Critical", count: 3 }] }
          : { ...awkward, format: "all", fields: Object.entries(awkward.output_fields).map(([name, value]) => ({ name, value: String(value) })) };
      const parsed = JSON.parse(t.render(context));
      expect(parsed).toBeTypeOf("object");
      if (!file.startsWith("slack")) expect(JSON.stringify(parsed)).toContain(awkward.rule.replace(/\\/g, "\\\\").replace(/"/g, '\\"'));
    });
  }

  it("webhook-generic.hbs renders a batch as a JSON array", () => {
    const t = compileTemplateFile(dir + "webhook-generic.hbs", { escape: "json" });
    const parsed = JSON.parse(t.render({ alerts: [awkward, { ...awkward, uuid: "other" }] }));
    expect(parsed.map((a: { id: string }) => a.id)).toEqual([awkward.uuid, "other"]);
    expect(parsed[0]).toMatchObject({ severity: "critical", rule: awkward.rule, message: awkward.output, tags: awkward.tags, fields: awkward.output_fields });
  });

  it("discord.hbs gives Discord a numeric colour", () => {
    const t = compileTemplateFile(dir + "discord.hbs", { escape: "json" });
    expect(JSON.parse(t.render(awkward)).embeds[0].color).toBe(0xe0182d);
  });
});
