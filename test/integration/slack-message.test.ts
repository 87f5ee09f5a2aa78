// The Slack message builder and limit fitting, checked by the local Slack stand-in's own
// validator (test/harness/slack-server.ts), which carries an independent copy of Slack's limits.
import { describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { compileTemplate, compileTemplateFile } from "../../src/templates/index.js";
import { fitToSlackLimits } from "../../outputs/slack/limits.js";
import { buildSlackMessage, describeSpan, slackTemplateEscape, type SlackMessageOptions } from "../../outputs/slack/message.js";
import { checkPayload } from "../harness/slack-server.js";

const templates = {
  alertTemplate: compileTemplateFile(new URL("../../templates/slack.hbs", import.meta.url).pathname, { escape: slackTemplateEscape }),
  digestTemplate: compileTemplateFile(new URL("../../templates/slack-digest.hbs", import.meta.url).pathname, { escape: slackTemplateEscape }),
};

function options(over: Partial<SlackMessageOptions> = {}): SlackMessageOptions {
  return { ...templates, format: "all", digest: { enabled: true, min_alerts: 3, max_rules: 10 }, ...over };
}

let n = 0;
function alert(over: Partial<Alert> = {}): Alert {
  n++;
  return {
    uuid: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    time: new Date().toISOString(),
    priority: "Warning",
    rule: "Read sensitive file untrusted",
    output: "Sensitive file opened for reading by non-trusted program (file=/etc/shadow proc=cat)",
    output_fields: { "fd.name": "/etc/shadow", "proc.name": "cat", "user.name": "root" },
    source: "syscall",
    tags: ["filesystem", "mitre_credential_access"],
    hostname: "node-1",
    ...over,
  };
}

function allTexts(payload: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown) => {
    if (typeof v === "string") out.push(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === "object") Object.values(v).forEach(walk);
  };
  walk(payload);
  return out;
}

describe("one alert", () => {
  it("renders a valid Block Kit message in every format", () => {
    for (const format of ["all", "text", "fields"] as const) {
      const { payload, truncated } = buildSlackMessage([alert()], options({ format }));
      expect(checkPayload(payload)).toBeUndefined();
      expect(truncated).toBe(false);
      const texts = allTexts(payload).join("\n");
      expect(texts).toContain("Read sensitive file untrusted");
      if (format === "text") expect(texts).not.toContain("*proc.name*");
      else expect(texts).toContain("*proc.name*\ncat");
      if (format === "fields") expect(texts).not.toContain("Sensitive file opened");
      else expect(texts).toContain("Sensitive file opened");
    }
  });

  it("enrichment's custom fields show after the producer's fields", () => {
    const { payload } = buildSlackMessage([alert({ custom_fields: { team: "payments" } })], options());
    const texts = allTexts(payload);
    expect(texts.indexOf("*team*\npayments")).toBeGreaterThan(texts.indexOf("*proc.name*\ncat"));
  });

  it("an alert with nothing but a rule and a priority is still a valid message", () => {
    for (const format of ["all", "text", "fields"] as const) {
      const { payload } = buildSlackMessage([alert({ output: "", output_fields: {}, tags: [], hostname: "" })], options({ format }));
      expect(checkPayload(payload), format).toBeUndefined();
    }
  });

  it("escapes Slack markup in alert data, so an alert cannot ping @channel", () => {
    const { payload } = buildSlackMessage([alert({ output: "proc=<!channel> & <https://evil|click>", rule: 'a "quoted" rule' })], options());
    const texts = allTexts(payload).join("\n");
    expect(texts).not.toContain("<!channel>");
    expect(texts).toContain("&lt;!channel&gt; &amp; &lt;https://evil|click&gt;");
    expect(texts).toContain('a "quoted" rule');
  });

  it("a 30 KB output field is truncated visibly, not refused", () => {
    const big = "A".repeat(30 * 1024);
    const { payload, truncated } = buildSlackMessage([alert({ output: `cmdline=${big}`, output_fields: { "proc.cmdline": big } })], options());
    expect(truncated).toBe(true);
    expect(checkPayload(payload)).toBeUndefined();
    const texts = allTexts(payload);
    expect(texts.filter((t) => t.endsWith("… _(truncated)_")).length).toBeGreaterThanOrEqual(2);
  });

  it("channel, username and icon overrides", () => {
    const emoji = buildSlackMessage([alert()], options({ channel: "#sec", username: "peregrine", icon: ":eagle:" })).payload;
    expect(emoji).toMatchObject({ channel: "#sec", username: "peregrine", icon_emoji: ":eagle:" });
    const url = buildSlackMessage([alert()], options({ icon: "https://example.com/p.png" })).payload;
    expect(url.icon_url).toBe("https://example.com/p.png");
  });

  it("a template that renders invalid JSON still delivers the alert plainly", () => {
    const broken = compileTemplate('{"text": {{rule}} }', { name: "broken.hbs", escape: slackTemplateEscape });
    const { payload } = buildSlackMessage([alert({ output: "the output" })], options({ alertTemplate: broken }));
    expect(checkPayload(payload)).toBeUndefined();
    expect(allTexts(payload).join("\n")).toMatch(/the output[\s\S]*template failed/);
  });
});

describe("batches", () => {
  it("two alerts below the digest threshold are both shown in full", () => {
    const { payload, shownInFull } = buildSlackMessage([alert(), alert({ rule: "Terminal shell in container" })], options());
    expect(checkPayload(payload)).toBeUndefined();
    expect(shownInFull).toBe(2);
    expect(payload.attachments).toHaveLength(2);
    expect(payload.text).toMatch(/\(\+1 more\)$/);
  });

  it("a burst becomes the most severe alert in full plus a digest counting the rest by rule", () => {
    const batch = [
      ...Array.from({ length: 30 }, () => alert()),
      alert({ rule: "Terminal shell in container", priority: "Critical", output: "the critical one" }),
      ...Array.from({ length: 5 }, () => alert({ rule: "Terminal shell in container", priority: "Notice" })),
      ...Array.from({ length: 2 }, () => alert({ rule: "Write below etc" })),
    ];
    const { payload, shownInFull } = buildSlackMessage(batch, options());
    expect(checkPayload(payload)).toBeUndefined();
    expect(shownInFull).toBe(1);
    const texts = allTexts(payload).join("\n");
    expect(texts).toContain("the critical one");
    expect(texts).toContain(
      "*37 more alerts in the last minute:* 30 × Read sensitive file untrusted, 5 × Terminal shell in container, 2 × Write below etc",
    );
    expect(texts).toContain("By priority: Critical 1 · Warning 32 · Notice 5");
  });

  it("rules past max_rules are counted, not named", () => {
    const batch = Array.from({ length: 20 }, (_, i) => alert({ rule: `rule ${i}` }));
    const { payload } = buildSlackMessage(batch, options({ digest: { enabled: true, min_alerts: 3, max_rules: 3 } }));
    expect(allTexts(payload).join("\n")).toMatch(/and 16 more from 16 other rules/);
  });

  it("with the digest off, every alert of the batch is shown, within Slack's limits", () => {
    const batch = Array.from({ length: 150 }, () => alert());
    const { payload, truncated } = buildSlackMessage(batch, options({ digest: { enabled: false, min_alerts: 3, max_rules: 10 } }));
    expect(checkPayload(payload)).toBeUndefined();
    expect(truncated).toBe(true);
    expect(payload.attachments).toHaveLength(100);
  });

  it("describes the span of a digest from the oldest alert", () => {
    const now = Date.parse("2024-01-01T12:00:00Z");
    expect(describeSpan([alert({ time: "2024-01-01T11:59:30Z" })], now)).toBe("in the last minute");
    expect(describeSpan([alert({ time: "2024-01-01T11:55:30.123456789Z" })], now)).toBe("in the last 5 minutes");
    expect(describeSpan([alert({ time: "2024-01-01T09:30:00Z" })], now)).toBe("in the last 3 hours");
  });
});

describe("fitting to Slack's limits", () => {
  it("splits sections of more than 10 fields and cuts blocks past 50 with a note", () => {
    const fields = Array.from({ length: 25 }, (_, i) => ({ type: "mrkdwn", text: `f${i}` }));
    const blocks = [{ type: "section", fields }, ...Array.from({ length: 60 }, () => ({ type: "divider" }))];
    const { payload, truncated } = fitToSlackLimits({ text: "x", blocks });
    expect(truncated).toBe(true);
    expect(checkPayload(payload)).toBeUndefined();
    const out = payload.blocks as { type: string; fields?: unknown[] }[];
    expect(out).toHaveLength(50);
    expect(out.slice(0, 3).map((b) => b.fields?.length)).toEqual([10, 10, 5]);
    expect(JSON.stringify(out[49])).toMatch(/more blocks not shown \(truncated/);
  });

  it("cuts long texts without breaking an entity or leaving a code block open", () => {
    const text = "```" + "a&amp;".repeat(1000);
    const { payload } = fitToSlackLimits({ blocks: [{ type: "section", text: { type: "mrkdwn", text } }] });
    const cut = (payload.blocks as { text: { text: string } }[])[0]!.text.text;
    expect(cut.length).toBeLessThanOrEqual(3000);
    expect(cut).toMatch(/a(&amp;)?```… _\(truncated\)_$/);
    expect(checkPayload(payload)).toBeUndefined();
  });

  it("header text over 150 and empty texts", () => {
    const { payload } = fitToSlackLimits({
      blocks: [
        { type: "header", text: { type: "plain_text", text: "h".repeat(400) } },
        { type: "section", text: { type: "mrkdwn", text: "" } },
      ],
    });
    expect(checkPayload(payload)).toBeUndefined();
    const [header] = payload.blocks as { text: { text: string } }[];
    expect(header!.text.text).toHaveLength(150);
    expect(header!.text.text.endsWith("… (truncated)")).toBe(true);
  });

  it("never splits a surrogate pair", () => {
    const { payload } = fitToSlackLimits({ text: "😀".repeat(30_000) });
    const text = payload.text as string;
    expect(text.length).toBeLessThanOrEqual(40_000);
    expect(() => encodeURIComponent(text)).not.toThrow();
  });
});
