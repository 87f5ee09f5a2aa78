import { describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import type { Alert } from "../../src/alert.js";
import { OutputRouter, RouteMetrics, SUMMARY_TAG, type OutputRoute } from "../../src/route/index.js";
import { compileKey, outputWithoutTime } from "../../src/route/keys.js";
import { WindowLimiter } from "../../src/route/window.js";

function alert(i: number, extra: Partial<Alert> = {}): Alert {
  return {
    uuid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    time: "2024-01-01T00:00:00.000000000Z",
    priority: "Warning",
    rule: "Shell in container",
    output: `12:00:0${i % 10}.123456789: Warning shell spawned (proc.name=bash)`,
    output_fields: { "proc.name": "bash", "k8s.ns.name": "prod" },
    source: "syscall",
    tags: ["container", "shell"],
    hostname: "node-1",
    ...extra,
  };
}

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

function makeRouter(routes: OutputRoute[], now: () => number) {
  const registry = new Registry();
  const sent: { summary: Alert; output: string }[] = [];
  const holder: { r?: OutputRouter } = {};
  const metrics = new RouteMetrics(registry, () => holder.r?.openWindows() ?? []);
  const r = new OutputRouter(routes, metrics, async (summary, output) => void sent.push({ summary, output }), { now });
  holder.r = r;
  return { router: r, sent, registry };
}

describe("dedup keys", () => {
  it("ignores Falco's time prefix of the output line", () => {
    expect(outputWithoutTime("12:00:01.123456789: Warning x")).toBe("Warning x");
    expect(outputWithoutTime("2024-01-01T00:00:00.123456789+0000: Warning x")).toBe("Warning x");
    const key = compileKey(["rule", "hostname", "output"]);
    expect(key(alert(1))).toBe(key(alert(2)));
    expect(key(alert(1))).not.toBe(key(alert(1, { hostname: "node-2" })));
  });

  it("reads output and custom fields, telling absent from empty", () => {
    const key = compileKey(["output_fields.proc.name", "custom_fields.team"]);
    expect(key(alert(1, { custom_fields: { team: "" } }))).not.toBe(key(alert(1)));
    expect(key(alert(1, { output_fields: { "proc.name": "sh" } }))).not.toBe(key(alert(1)));
  });
});

describe("WindowLimiter", () => {
  it("passes the first `limit` alerts of a key per window and reports the rest when it closes", () => {
    const c = clock();
    const l = new WindowLimiter({ limit: 2, windowMs: 1000, keyOf: (a) => a.rule, maxKeys: 10, now: c.now });
    const results = [0, 1, 2, 3, 4].map((i) => l.admit(alert(i, i === 3 ? { priority: "Critical" } : {})));
    expect(results).toEqual([true, true, false, false, false]);
    l.sweep();
    expect(l.takeClosed()).toEqual([]);
    c.advance(1000);
    l.sweep();
    const [w] = l.takeClosed();
    expect(w).toMatchObject({ count: 5, passed: 2, suppressed: 3, worst: "Critical", early: false });
    expect(l.openWindows).toBe(0);
    expect(l.admit(alert(9))).toBe(true); // a new window
  });

  it("does not report a window that suppressed nothing", () => {
    const c = clock();
    const l = new WindowLimiter({ limit: 1, windowMs: 1000, keyOf: (a) => a.rule, maxKeys: 10, now: c.now });
    l.admit(alert(1));
    c.advance(5000);
    l.sweep();
    expect(l.takeClosed()).toEqual([]);
  });

  it("lets alerts through uncounted beyond max_keys", () => {
    const c = clock();
    const l = new WindowLimiter({ limit: 1, windowMs: 1000, keyOf: (a) => a.rule, maxKeys: 2, now: c.now });
    expect(["a", "b", "c", "c"].map((rule) => l.admit(alert(1, { rule })))).toEqual([true, true, true, true]);
    expect(l.overflowed).toBe(2);
  });
});

describe("OutputRouter", () => {
  const dedup = { enabled: true, window: 10_000, key: ["rule", "hostname", "output"], max_keys: 100 };

  it("routes by minimum priority and filter, per output", () => {
    const c = clock();
    const { router } = makeRouter(
      [
        { name: "all", type: "webhook", minimumPriority: "Debug" },
        { name: "critical", type: "webhook", minimumPriority: "Critical" },
        { name: "prod", type: "webhook", minimumPriority: "Debug", filter: (a) => a.output_fields["k8s.ns.name"] === "prod" },
      ],
      c.now,
    );
    expect(router.outputsFor(alert(1))).toEqual(["all", "prod"]);
    expect(router.outputsFor(alert(1, { priority: "Critical", output_fields: {} }))).toEqual(["all", "critical"]);
  });

  it("a filter that throws routes the alert (fail open) and is counted", async () => {
    const c = clock();
    const { router, registry } = makeRouter(
      [{ name: "x", type: "webhook", minimumPriority: "Debug", filter: () => { throw new Error("bug"); } }],
      c.now,
    );
    expect(router.outputsFor(alert(1))).toEqual(["x"]);
    expect(await registry.getSingleMetricAsString("peregrine_route_filter_errors_total")).toContain('output="x",type="webhook"} 1');
  });

  it("dedups a storm of 1,000 into one alert plus a summary counting all of them", async () => {
    const c = clock();
    const { router, sent, registry } = makeRouter(
      [
        { name: "chat", type: "slack", minimumPriority: "Debug", dedup },
        { name: "archive", type: "s3", minimumPriority: "Debug" },
      ],
      c.now,
    );
    let toChat = 0;
    for (let i = 0; i < 1000; i++) {
      const outs = router.outputsFor(alert(i));
      expect(outs).toContain("archive");
      if (outs.includes("chat")) toChat++;
      c.advance(5);
    }
    expect(toChat).toBe(1);
    c.advance(10_000);
    await router.sweep();
    expect(sent).toHaveLength(1);
    const { summary, output } = sent[0]!;
    expect(output).toBe("chat");
    expect(summary.output_fields).toMatchObject({ "peregrine.summary": "dedup", "peregrine.count": 1000, "peregrine.suppressed": 999, "peregrine.delivered": 1 });
    expect(summary.tags).toContain(SUMMARY_TAG);
    expect(summary.rule).toBe("Shell in container");
    expect(summary.output_fields["proc.name"]).toBe("bash");
    const text = await registry.metrics();
    expect(text).toContain('peregrine_route_suppressed_total{output="chat",type="slack",reason="dedup"} 999');
    expect(text).toContain('peregrine_route_summaries_total{output="chat",type="slack",reason="dedup"} 1');
  });

  it("throttles to N per interval and summarizes the rest; dedup runs first", async () => {
    const c = clock();
    const { router, sent } = makeRouter(
      [{ name: "t", type: "webhook", minimumPriority: "Debug", throttle: { enabled: true, limit: 3, interval: 1000, key: ["rule"], max_keys: 10 } }],
      c.now,
    );
    const passed = Array.from({ length: 10 }, (_, i) => router.outputsFor(alert(i, { output: `distinct ${i}` })).length).reduce((a, b) => a + b, 0);
    expect(passed).toBe(3);
    c.advance(1000);
    expect(router.outputsFor(alert(99)).length).toBe(1); // next interval; closes the old one on the way
    await new Promise((r) => setImmediate(r));
    await router.sweep();
    expect(sent.map((s) => s.summary.output_fields["peregrine.suppressed"])).toEqual([7]);
  });

  it("summarizes open windows at stop, and suppresses nothing afterwards", async () => {
    const c = clock();
    const { router, sent } = makeRouter([{ name: "chat", type: "slack", minimumPriority: "Debug", dedup }], c.now);
    for (let i = 0; i < 5; i++) router.outputsFor(alert(i));
    await router.stop();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.summary.output_fields["peregrine.count"]).toBe(5);
    expect(sent[0]!.summary.output).toContain("closed early");
    expect(router.outputsFor(alert(1))).toEqual(["chat"]);
    expect(router.outputsFor(alert(1))).toEqual(["chat"]);
  });

  it("keeps a summary the journal refused and sends it on the next sweep", async () => {
    const c = clock();
    let fail = true;
    const sent: Alert[] = [];
    const registry = new Registry();
    const router = new OutputRouter(
      [{ name: "chat", type: "slack", minimumPriority: "Debug", dedup }],
      new RouteMetrics(registry, () => []),
      async (s) => {
        if (fail) throw new Error("journal full");
        sent.push(s);
      },
      { now: c.now },
    );
    router.outputsFor(alert(1));
    router.outputsFor(alert(2));
    c.advance(20_000);
    await router.sweep();
    expect(sent).toHaveLength(0);
    fail = false;
    await router.sweep();
    expect(sent).toHaveLength(1);
  });
});

describe("routes from config", () => {
  it("chat outputs get dedup unless they configure it; others get none", async () => {
    const { effectiveDedup } = await import("../../src/route/index.js");
    const { OUTPUT_TYPES } = await import("../../outputs/registry.js");
    const slack = OUTPUT_TYPES.slack!;
    const teams = OUTPUT_TYPES.teams!;
    const webhook = OUTPUT_TYPES.webhook!;
    expect(effectiveDedup({ definition: slack })).toMatchObject({ enabled: true, window: 60_000, key: ["rule", "hostname", "output"] });
    expect(effectiveDedup({ definition: teams })).toMatchObject({ enabled: true, window: 60_000 });
    expect(effectiveDedup({ definition: slack, dedup: { enabled: false, window: 1000, key: [], max_keys: 1 } })).toBeUndefined();
    expect(effectiveDedup({ definition: webhook })).toBeUndefined();
    expect(effectiveDedup({ definition: webhook, dedup: { enabled: true, window: 5000, key: ["rule"], max_keys: 1 } })?.window).toBe(5000);
  });
});
