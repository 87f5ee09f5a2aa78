// Routing, noise control and enrichment through the real router process, delivering to
// real receivers: a programmable HTTP receiver (webhook), the Loki-protocol store and the
// Slack stand-in from the harness.
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runId } from "../harness/alerts.js";
import { LOGS } from "../harness/endpoints.js";
import { queryLogs, waitForLogCount } from "../harness/logs-query.js";
import { Receiver } from "../harness/receiver.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { startSlackServer } from "../harness/slack-server.js";

const receiver = new Receiver();
let router: RouterProcess | undefined;

beforeAll(async () => {
  await receiver.start();
});
afterEach(async () => {
  await router?.stop();
  router = undefined;
  receiver.requests.length = 0;
});
afterAll(async () => {
  await receiver.stop();
});

type Received = { uuid: string; rule: string; output: string; tags: string[]; output_fields: Record<string, unknown>; custom_fields?: Record<string, unknown> };

function at(path: string): Received[] {
  return receiver.alerts((r) => r.url === path) as unknown as Received[];
}

function falcoAlert(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    uuid: randomUUID(),
    rule: "Terminal shell in container",
    priority: "Warning",
    output: "12:00:00.000000001: Warning A shell was spawned in a container (user=root shell=bash)",
    time: new Date().toISOString(),
    output_fields: { "k8s.ns.name": "prod", "proc.name": "bash" },
    tags: ["k8s", "shell"],
    hostname: "node-1",
    source: "syscall",
    ...over,
  };
}

async function postAll(alerts: Record<string, unknown>[], chunk = 100): Promise<void> {
  for (let i = 0; i < alerts.length; i += chunk) {
    const res = await router!.post(alerts.slice(i, i + chunk));
    expect(res.status).toBe(200);
  }
}

describe("per-output filters", () => {
  it("route each alert to exactly the outputs whose minimum priority and filter it meets", async () => {
    const url = (p: string) => `${receiver.url}${p}`;
    router = await startRouter({
      config: {
        outputs: [
          { name: "all", type: "webhook", url: url("all") },
          {
            name: "k8s",
            type: "webhook",
            url: url("k8s"),
            filter: "alert.priority >= warning and alert.tags contains k8s and not alert.field[k8s.ns.name] in (kube-system)",
          },
          { name: "crit", type: "webhook", url: url("crit"), minimum_priority: "critical", filter: "alert.rule startswith Terminal" },
        ],
      },
    });
    const priorities = ["Critical", "Warning", "Notice", "Emergency"];
    const alerts = Array.from({ length: 40 }, (_, i) =>
      falcoAlert({
        priority: priorities[i % 4],
        rule: i % 3 === 0 ? "Read sensitive file" : "Terminal shell in container",
        tags: i % 5 === 0 ? ["shell"] : ["k8s", "shell"],
        output_fields: { "k8s.ns.name": i % 7 === 0 ? "kube-system" : "prod", n: i },
      }),
    );
    await postAll(alerts, 7);
    const severe = (p: unknown) => ["Emergency", "Alert", "Critical", "Error", "Warning"].includes(p as string);
    const want = {
      all: alerts,
      k8s: alerts.filter((a) => severe(a.priority) && (a.tags as string[]).includes("k8s") && (a.output_fields as { "k8s.ns.name": string })["k8s.ns.name"] !== "kube-system"),
      crit: alerts.filter((a) => ["Emergency", "Critical"].includes(a.priority as string) && (a.rule as string).startsWith("Terminal")),
    };
    expect(want.k8s.length).toBeGreaterThan(5);
    expect(want.crit.length).toBeGreaterThan(5);
    await waitUntil(() => at("/all").length === 40 && at("/k8s").length === want.k8s.length && at("/crit").length === want.crit.length, 60_000, "deliveries");
    await new Promise((r) => setTimeout(r, 300)); // nothing more arrives
    for (const [path, list] of Object.entries(want))
      expect(at(`/${path}`).map((a) => a.uuid).sort(), path).toEqual(list.map((a) => a.uuid as string).sort());

    const metrics = (await router.get("/metrics")).json as string;
    expect(metrics).toContain(`peregrine_route_skipped_total{output="crit",type="webhook",reason="minimum_priority"} 20`);
  });

  it("a filter that does not compile stops the start with its position", async () => {
    await expect(
      startRouter({ config: { outputs: [{ name: "x", type: "webhook", url: receiver.url, filter: "alert.priority >= warning and alert.rul = x" }] } }),
    ).rejects.toThrow(/outputs\[0\]\.filter: condition line 1, column 31: nonexistent field 'alert.rul'/);
  });
});

describe("dedup", () => {
  it("turns a storm of 1,000 identical alerts into a handful of messages plus a summary counting all 1,000", async () => {
    router = await startRouter({
      config: {
        outputs: [
          { name: "chat", type: "webhook", url: `${receiver.url}chat`, dedup: { window: "8s" } },
          { name: "archive", type: "webhook", url: `${receiver.url}archive`, batch: { max_events: 500, max_wait_ms: 100 } },
        ],
      },
    });
    // Same rule, host and output line; Falco's time prefix differs from alert to alert.
    const storm = Array.from({ length: 1000 }, (_, i) =>
      falcoAlert({ output: `12:00:${String(i % 60).padStart(2, "0")}.${i}: Warning A shell was spawned in a container (user=root shell=bash)` }),
    );
    const t0 = Date.now();
    await postAll(storm);
    const postedIn = Date.now() - t0;
    await waitUntil(() => at("/archive").length === 1000, 30_000, "the archive copy of every alert");
    const summaries = () => at("/chat").filter((a) => a.tags.includes("peregrine_summary"));
    await waitUntil(() => summaries().reduce((n, s) => n + (s.output_fields["peregrine.count"] as number), 0) === 1000, 30_000, "summaries counting 1,000");

    const messages = at("/chat").filter((a) => !a.tags.includes("peregrine_summary"));
    // One message opens each 8 s window; posting took `postedIn` ms.
    expect(messages.length).toBeGreaterThanOrEqual(1);
    expect(messages.length).toBeLessThanOrEqual(Math.ceil(postedIn / 8000) + 1);
    expect(summaries().length).toBe(messages.length);
    const s = summaries()[0]!;
    expect(s.rule).toBe("Terminal shell in container");
    expect(s.output_fields["peregrine.summary"]).toBe("dedup");
    expect(s.output).toMatch(/^dedup summary: \d+ repeats of "Terminal shell in container" suppressed/);

    const metrics = (await router.get("/metrics")).json as string;
    expect(metrics).toContain(`peregrine_route_suppressed_total{output="chat",type="webhook",reason="dedup"} ${1000 - messages.length}`);
    expect(metrics).toContain(`peregrine_route_summaries_total{output="chat",type="webhook",reason="dedup"} ${summaries().length}`);
  });

  it("summarizes open windows at shutdown, before the lanes drain", async () => {
    router = await startRouter({
      config: { outputs: [{ name: "chat", type: "webhook", url: `${receiver.url}chat`, dedup: { window: "1h" }, throttle: { limit: 2, interval: "1h", key: [] } }] },
    });
    await postAll(Array.from({ length: 50 }, () => falcoAlert()));
    await postAll(Array.from({ length: 5 }, (_, i) => falcoAlert({ rule: `Other rule ${i}` })));
    await waitUntil(() => at("/chat").length === 2, 60_000, "the first alert of the window");
    expect(await router.stop()).toBe(0);
    router = undefined;
    const summaries = at("/chat").filter((a) => a.tags.includes("peregrine_summary"));
    const byKind = Object.fromEntries(summaries.map((s) => [`${s.output_fields["peregrine.summary"]}:${s.rule}`, s.output_fields]));
    // dedup: 50 of the first rule, 49 suppressed; each other rule came once (no summary).
    expect(byKind["dedup:Terminal shell in container"]).toMatchObject({ "peregrine.count": 50, "peregrine.suppressed": 49 });
    // throttle (whole output, 2 per hour) saw the 6 alerts dedup let through: 4 suppressed.
    expect(Object.entries(byKind).filter(([k]) => k.startsWith("throttle:"))).toHaveLength(1);
    expect(Object.values(byKind).find((f) => f["peregrine.summary"] === "throttle")).toMatchObject({ "peregrine.count": 6, "peregrine.suppressed": 4 });
    expect(summaries.every((s) => s.output.includes("closed early"))).toBe(true);
  });
});

describe("enrichment", () => {
  it("custom and templated fields reach webhook bodies, Loki labels and Slack fields", async () => {
    const run = runId();
    const slack = await startSlackServer();
    router = await startRouter({
      env: { CLUSTER_NAME: "eu-west-1" },
      config: {
        enrich: {
          custom_fields: { cluster: "${CLUSTER_NAME}", run },
          custom_tags: ["peregrine"],
          templated_fields: {
            team: '{{or (index . "k8s.ns.labels.team") "unknown"}}',
            where: '{{cluster}}/{{index output_fields "k8s.ns.name"}}',
          },
        },
        outputs: [
          { name: "hook", type: "webhook", url: `${receiver.url}hook` },
          { name: "loki", type: "loki", url: LOGS.lokiUrl, label_fields: ["run", "team", "cluster"], batch: { max_wait_ms: 50 } },
          { name: "slack", type: "slack", webhook_url: slack.webhookUrl("enrich"), format: "fields", digest: { enabled: false } },
        ],
      },
    });
    const blue = falcoAlert({ output_fields: { "k8s.ns.name": "payments", "k8s.ns.labels.team": "blue" } });
    // Another output line: Slack's default dedup would take it for a repeat otherwise.
    const none = falcoAlert({ output: "A shell was spawned in the web namespace", output_fields: { "k8s.ns.name": "web" } });
    await postAll([blue, none]);
    await waitUntil(() => at("/hook").length === 2, 60_000, "webhook deliveries");
    const byUuid = new Map(at("/hook").map((a) => [a.uuid, a]));
    expect(byUuid.get(blue.uuid as string)!.custom_fields).toEqual({ cluster: "eu-west-1", run, team: "blue", where: "eu-west-1/payments" });
    expect(byUuid.get(none.uuid as string)!.custom_fields).toMatchObject({ team: "unknown", where: "eu-west-1/web" });
    expect(byUuid.get(blue.uuid as string)!.tags).toEqual(["k8s", "shell", "peregrine"]);
    expect(byUuid.get(blue.uuid as string)!.output_fields).toEqual(blue.output_fields);

    expect(await waitForLogCount(`{run="${run}"}`, 2)).toBe(2);
    const rows = await queryLogs(`{run="${run}", team="blue"}`);
    expect(rows).toHaveLength(1);
    expect(rows[0]!._stream).toContain('cluster="eu-west-1"');
    expect(await waitForLogCount(`{run="${run}", team="unknown"}`, 1)).toBe(1);

    // Slack: the fields sections list the templated and custom fields (both alerts may share a message).
    const fieldTexts = () => slack.messages.flatMap((m) => JSON.stringify(m.payload).match(/"text":"\*[^"*]+\*\\n[^"]*"/g) ?? []);
    await waitUntil(() => fieldTexts().filter((t) => t.startsWith('"text":"*team*')).length === 2, 60_000, "both alerts in Slack");
    expect(fieldTexts()).toEqual(expect.arrayContaining(['"text":"*team*\\nblue"', '"text":"*team*\\nunknown"', '"text":"*cluster*\\neu-west-1"']));
    expect(slack.violations).toEqual([]);
    await slack.close();
  });
});
