// The Slack output against the local Slack stand-in (Slack itself cannot be reached from tests):
// direct sends for classification, then the real router for the rate limit and digests.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { ParseContext } from "../../src/config/schema.js";
import type { Output } from "../../src/delivery/output.js";
import { slackOutput } from "../../outputs/slack/index.js";
import { startSlackServer, type SlackPayload, type SlackServer } from "../harness/slack-server.js";
import { startRouter, waitUntil } from "../harness/router-process.js";
import { freePort } from "../harness/receiver.js";

let n = 0;
function alert(over: Partial<Alert> = {}): Alert {
  n++;
  return {
    uuid: `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
    time: new Date().toISOString(),
    priority: "Warning",
    rule: "Read sensitive file untrusted",
    output: "Sensitive file opened for reading (file=/etc/shadow proc=cat)",
    output_fields: { "fd.name": "/etc/shadow", "proc.name": "cat" },
    source: "syscall",
    tags: ["filesystem"],
    hostname: "node-1",
    ...over,
  };
}

function createSlack(options: Record<string, unknown>): Output {
  const ctx = new ParseContext();
  const config = slackOutput.schema.parse(options, ctx, "outputs[0]");
  expect(ctx.issues).toEqual([]);
  return slackOutput.create(config, { name: "slack", logger: pino({ level: "silent" }), dataDir: tmpdir() });
}

const signal = () => AbortSignal.timeout(10_000);

describe("slack output, direct sends", () => {
  let server: SlackServer;
  let output: Output;
  beforeAll(async () => {
    server = await startSlackServer({ perSecond: 100, burst: 100 });
    output = createSlack({ webhook_url: server.webhookUrl() });
  });
  afterAll(async () => {
    await output.close();
    await server.close();
  });

  it("delivers one alert as one accepted message", async () => {
    const before = server.messages.length;
    expect(await output.send([alert({ output: "hello from the test" })], signal())).toEqual({ kind: "ok" });
    expect(server.messages.length).toBe(before + 1);
    expect(JSON.stringify(server.messages.at(-1)!.payload)).toContain("hello from the test");
  });

  it("delivers an alert with a 30 KB output field truncated, not rejected", async () => {
    const big = "x".repeat(30 * 1024);
    const result = await output.send([alert({ output: `cmdline=${big}`, output_fields: { "proc.cmdline": big } })], signal());
    expect(result).toEqual({ kind: "ok" });
    const last = server.requests.at(-1)!;
    expect(last.status).toBe(200);
    const body = JSON.stringify(server.messages.at(-1)!.payload);
    expect(body).toContain("… _(truncated)_");
    expect(body.length).toBeLessThan(20_000);
  });

  it("a 429 is a retry carrying Retry-After", async () => {
    server.rateLimitNext(2);
    const result = await output.send([alert()], signal());
    expect(result).toMatchObject({ kind: "retry", status: 429, retryAfterMs: 2000 });
    await new Promise((r) => setTimeout(r, 2000));
  });

  it("classifies Slack's documented errors", async () => {
    server.failNext(500, "rollup_error");
    expect(await output.send([alert()], signal())).toMatchObject({ kind: "retry", status: 500 });
    server.failNext(404, "channel_not_found");
    expect(await output.send([alert()], signal())).toMatchObject({ kind: "reject", status: 404, reason: expect.stringContaining("channel_not_found") });
    server.failNext(410, "channel_is_archived");
    expect(await output.send([alert()], signal())).toMatchObject({ kind: "reject", status: 410 });
    server.failNext(403, "action_prohibited");
    expect(await output.send([alert()], signal())).toMatchObject({ kind: "reject", status: 403 });
  });

  it("an unreachable webhook is a retry", async () => {
    const closed = createSlack({ webhook_url: `http://127.0.0.1:${await freePort()}/services/T/B/X` });
    expect(await closed.send([alert()], signal())).toMatchObject({ kind: "retry" });
    await closed.close();
  });

  it("a broken template fails config validation with its line and column", () => {
    const dir = mkdtempSync(join(tmpdir(), "slack-tpl-"));
    const file = join(dir, "mine.hbs");
    writeFileSync(file, '{\n  "text": "{{uper rule}}"\n}\n');
    const ctx = new ParseContext();
    const config = slackOutput.schema.parse({ webhook_url: server.webhookUrl(), template_file: file }, ctx, "outputs[1]");
    slackOutput.validate!(config, ctx, "outputs[1]");
    expect(ctx.issues).toEqual([
      {
        path: "outputs[1].template_file",
        severity: "error",
        message: `template ${file}, line 2, column 12: unknown helper "uper" (did you mean "upper"?)`,
      },
    ]);
  });
});

describe("slack output config check", () => {
  const issues = (options: Record<string, unknown>) => {
    const ctx = new ParseContext();
    const config = slackOutput.schema.parse({ webhook_url: "https://hooks.slack.test/services/T/B/X", ...options }, ctx, "outputs[0]");
    slackOutput.validate!(config, ctx, "outputs[0]");
    return ctx.issues.map((i) => `${i.path}: ${i.message}`);
  };

  it("icon is an emoji code or an image URL, nothing else", () => {
    expect(issues({ icon: ":eagle:" })).toEqual([]);
    expect(issues({ icon: "https://example.test/eagle.png" })).toEqual([]);
    expect(issues({ icon: "eagle" })).toEqual(['outputs[0].icon: must be an emoji code such as ":eagle:" or an http(s) image URL, got "eagle"']);
  });
});

/** How many alerts of each rule a message stands for: headers of alerts shown in full, plus digest counts. */
function representedByRule(payload: SlackPayload): Map<string, number> {
  const counts = new Map<string, number>();
  const add = (rule: string, k: number) => counts.set(rule, (counts.get(rule) ?? 0) + k);
  for (const att of (payload.attachments ?? []) as { blocks?: { type: string; text?: { text: string } }[] }[]) {
    for (const b of att.blocks ?? []) {
      if (b.type === "header") add(b.text!.text.replace(/^:[a-z_]+: /, ""), 1);
      const digest = b.type === "section" ? /^\*(\d+) more alerts? in the last [^:]*:\* (.*)$/.exec(b.text?.text ?? "") : null;
      if (digest) {
        let listed = 0;
        for (const m of digest[2]!.matchAll(/(\d+) × ([^,]+)/g)) {
          add(m[2]!.trim(), Number(m[1]));
          listed += Number(m[1]);
        }
        expect(listed).toBe(Number(digest[1]));
      }
    }
  }
  return counts;
}

describe("slack output through the router", () => {
  it("100 alerts in 5 s: never above the rate, every alert represented, no 429 ignored", async () => {
    const perSecond = 1;
    const burst = 3;
    const server = await startSlackServer({ perSecond, burst });
    const router = await startRouter({
      config: {
        // No rate_limit here: the Slack type's lane defaults (1 message/s, burst 3) are what is tested.
        outputs: [{ name: "slack", type: "slack", webhook_url: server.webhookUrl() }],
      },
    });
    try {
      const sent = new Map<string, number>();
      const rules = ["Read sensitive file untrusted", "Terminal shell in container", "Write below etc"];
      const started = Date.now();
      for (let i = 0; i < 100; i++) {
        const rule = rules[i % 10 < 7 ? 0 : i % 10 < 9 ? 1 : 2]!;
        sent.set(rule, (sent.get(rule) ?? 0) + 1);
        // Distinct output lines: chat outputs dedup identical ones by default (docs/routing.md), which is not under test here.
        // Slack's own 429 halfway (its limit is per workspace too, not only ours): the lane
        // must wait out Retry-After, or the server records a violation.
        if (i === 50) server.rateLimitNext(2);
        const res = await router.post(alert({ rule, output: `${rule} (pid=${1000 + i})`, priority: i === 42 ? "Critical" : "Warning" }));
        expect(res.status).toBe(200);
        const due = started + ((i + 1) * 5000) / 100;
        await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      }
      const total = () => server.messages.reduce((sum, m) => sum + [...representedByRule(m.payload).values()].reduce((a, b) => a + b, 0), 0);
      await waitUntil(() => total() >= 100, 60_000, "all 100 alerts in Slack messages");
      await new Promise((r) => setTimeout(r, 1500)); // anything extra would show up now

      const byRule = new Map<string, number>();
      for (const m of server.messages) for (const [rule, k] of representedByRule(m.payload)) byRule.set(rule, (byRule.get(rule) ?? 0) + k);
      expect(byRule).toEqual(sent);
      expect(total()).toBe(100);

      const statuses = server.requests.map((r) => r.status);
      console.info(
        `slack storm: ${server.messages.length} messages, ${statuses.length} requests, ${statuses.filter((s) => s === 429).length} answered 429 (all honored)`,
      );
      // The rate: in any stretch of time, at most burst + rate × duration requests. Times are
      // taken where the server receives them, so 250 ms absorbs connection setup and scheduling jitter.
      const times = server.requests.map((r) => r.at).sort((a, b) => a - b);
      for (let i = 0; i < times.length; i++)
        for (let j = i; j < times.length; j++) expect(j - i + 1).toBeLessThanOrEqual(burst + ((times[j]! - times[i]! + 250) / 1000) * perSecond);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
      expect(server.violations).toEqual([]);
      expect(server.requests.filter((r) => r.status !== 200 && r.status !== 429)).toEqual([]);
      // The backlog turned into digests rather than 100 messages.
      expect(server.messages.length).toBeLessThan(20);
      expect(server.messages.some((m) => JSON.stringify(m.payload).includes("more alerts in the last minute"))).toBe(true);
    } finally {
      await router.stop();
      await server.close();
    }
  });
});
