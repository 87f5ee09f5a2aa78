// A Falcosidekick config with five outputs (Slack, Loki, Kafka, webhook, Alertmanager),
// imported with the real CLI, checked with `config check`, run by the real router: each
// alert reaches the same places Falcosidekick would have sent it to, by minimum priority.
import { runCommand, type CommandRun } from "../harness/run-command.js";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { request } from "undici";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runId } from "../harness/alerts.js";
import { ALERTMANAGER } from "../harness/endpoints.js";
import { readRecords } from "../harness/kafka-read.js";
import { waitForLogCount, queryLogs } from "../harness/logs-query.js";
import { Receiver } from "../harness/receiver.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { services } from "../harness/services.js";
import { startSlackServer, type SlackServer } from "../harness/slack-server.js";

const REPO = resolve(import.meta.dirname, "../..");
const FIXTURE = join(REPO, "test/fixtures/sidekick/config.yaml");

function cli(args: string[], env: Record<string, string>): Promise<CommandRun> {
  return runCommand(process.execPath, ["--import", "tsx", join(REPO, "src/cli.ts"), ...args], { cwd: REPO, env: { ...process.env, ...env } });
}

let slack: SlackServer;
const receiver = new Receiver();
let router: RouterProcess | undefined;
let releaseKafka: (() => void) | undefined;
let releaseAm: (() => void) | undefined;

beforeAll(async () => {
  // Suites that stop these services mid-run must not overlap this test.
  releaseKafka = await services.useExclusively("kafka");
  releaseAm = await services.useExclusively("alertmanager");
  slack = await startSlackServer();
  await receiver.start();
});
afterAll(async () => {
  await router?.stop();
  await slack?.close();
  await receiver.stop();
  releaseAm?.();
  releaseKafka?.();
});

describe("a Falcosidekick config, imported", () => {
  it("passes config check and delivers to the same five places", async () => {
    const run = runId();
    const topic = `falco.migration.${run}`;
    const env = { SLACK_WEBHOOKURL: slack.webhookUrl("falco"), WEBHOOK_ADDRESS: `${receiver.url}falco`, RUN_ID: run, KAFKA_TOPIC: topic };
    const dir = mkdtempSync(join(tmpdir(), "peregrine-sidekick-"));
    const out = join(dir, "peregrine.yaml");

    const imported = await cli(["config", "import-sidekick", FIXTURE, "-o", out], env);
    expect(imported.status, imported.stderr).toBe(0);
    expect(imported.stderr).toContain("5 outputs translated; 4 settings not translated:");
    expect(imported.stderr).toContain("slack.messageformat:");
    const text = readFileSync(out, "utf8");
    expect(text).not.toContain(env.SLACK_WEBHOOKURL); // the secret stays in the environment
    expect(text).toContain("${SLACK_WEBHOOKURL}");

    const check = await cli(["config", "check", "-c", out], env);
    expect(check.stdout).toContain("valid; outputs: slack (slack), loki (loki), kafka (kafka), webhook (webhook), alertmanager (alertmanager)");
    expect(check.status).toBe(0);

    const config = parse(text) as Record<string, unknown>;
    router = await startRouter({ config, env });
    const base = { time: new Date().toISOString(), output_fields: { "k8s.ns.name": "payments", "k8s.ns.labels.team": "blue" }, tags: ["k8s"], hostname: "node-1" };
    const posted = await router.post([
      { ...base, rule: "Critical rule", priority: "Critical", output: "critical thing happened" },
      { ...base, rule: "Notice rule", priority: "Notice", output: "notice thing happened" },
      { ...base, rule: "Debug rule", priority: "Debug", output: "debug thing happened" },
    ]);
    expect(posted.status).toBe(200);

    // webhook: no minimum priority, with the custom header
    await waitUntil(() => receiver.alerts((r) => r.url === "/falco").length === 3, 60_000, "3 alerts at the webhook");
    expect(receiver.requests[0]!.headers.authorization).toBe("Bearer hook-token");
    const hooked = receiver.alerts((r) => r.url === "/falco");
    expect(hooked[0]).toMatchObject({ custom_fields: { cluster: "eu-west-1", run, team: "blue" }, tags: ["k8s", "prod", "migrated"] });

    // Loki: notice and above, labels from extralabels
    expect(await waitForLogCount(`{run="${run}"}`, 2)).toBe(2);
    const rows = await queryLogs(`{run="${run}", team="blue", cluster="eu-west-1"}`);
    expect(rows.map((r) => r._msg).sort()).toEqual(["critical thing happened", "notice thing happened"]);

    // Kafka: everything
    const records = await readRecords([topic], 3, { timeoutMs: 30_000 });
    expect(records.map((r) => r.headers.rule).sort()).toEqual(["Critical rule", "Debug rule", "Notice rule"]);

    // Alertmanager: error and above, extra labels and annotations, severity map
    let am: { labels: Record<string, string>; annotations: Record<string, string>; endsAt: string; startsAt: string }[] = [];
    await waitUntil(
      async () => {
        const res = await request(`${ALERTMANAGER.url}/api/v2/alerts?filter=${encodeURIComponent(`run="${run}"`)}`);
        am = (await res.body.json()) as typeof am;
        return am.length === 1;
      },
      15_000,
      "the critical alert in Alertmanager",
    );
    expect(am[0]!.labels).toMatchObject({ alertname: "Critical rule", origin: "sidekick", severity: "critical", team: "blue" });
    expect(am[0]!.annotations.runbook).toBe("https://runbooks.example/falco");
    expect(Date.parse(am[0]!.endsAt) - Date.parse(am[0]!.startsAt)).toBe(600_000);

    // Slack: warning and above
    await waitUntil(() => slack.messages.length >= 1, 60_000, "the Slack message");
    await new Promise((r) => setTimeout(r, 500));
    const slackText = JSON.stringify(slack.messages.map((m) => m.payload));
    expect(slackText).toContain("Critical rule");
    expect(slackText).not.toContain("Notice rule");
    expect(slack.violations).toEqual([]);
  });
});
