/**
 * The dashboard's server side in process (a real Router, journal and fastify server, the
 * dashboard extension registered as `peregrine run` does): /api/stats, /api/status, the
 * server-sent event stream, and the detector panel fed through the run context's detectorStats.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import type { Browser } from "playwright-core";
import { loadConfig } from "../../src/config/index.js";
import { buildServer } from "../../src/ingest/server.js";
import { createLogger } from "../../src/log.js";
import { Router } from "../../src/router.js";
import type { RunContext } from "../../src/run-context.js";
import { extension, type DetectorStats, type StatusView } from "../../src/ui/index.js";
import type { StatsSnapshot } from "../../src/ui/stats.js";
import { makeAlert } from "../harness/router-process.js";
import { launchBrowser, newPage, screenshot } from "./ui-browser.js";

/** Reads server-sent events from a streaming response until `until` says stop. */
async function readEvents(url: string, until: (events: { event: string; data: unknown }[]) => boolean, timeoutMs = 30_000): Promise<{ event: string; data: unknown }[]> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  const res = await fetch(url, { signal: ac.signal });
  expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
  const events: { event: string; data: unknown }[] = [];
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += decoder.decode(chunk, { stream: true });
      let i: number;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
      }
      if (until(events)) break;
    }
  } finally {
    clearTimeout(timer);
    ac.abort();
  }
  return events;
}

describe("dashboard server side", () => {
  let router: Router;
  let app: FastifyInstance;
  let url: string;
  let stopDashboard: (() => Promise<void>) | void;
  let ctx: RunContext;
  const stats: DetectorStats = { rules_loaded: 87, events_per_second: 12_345.6, events_total: 1_234_567, alerts_total: 42, filtered_total: 9_876_543, drops: { ringbuf_full: 3, n_evts: 0 }, state: "running" };

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-ui-api-"));
    const file = join(dir, "peregrine.yaml");
    writeFileSync(file, stringify({ storage: { path: join(dir, "data") }, outputs: [{ name: "archive", type: "file", path: join(dir, "alerts.ndjson") }] }));
    const loaded = loadConfig(file, {});
    expect(loaded.issues.filter((i) => i.severity === "error")).toEqual([]);
    const config = loaded.config!;
    router = new Router(config, createLogger({ level: "silent", pretty: false }));
    router.start();
    app = buildServer(router);
    ctx = { router, config, logger: router.logger, withDetector: true };
    await extension.registerRoutes!(app, ctx);
    await app.listen({ host: "127.0.0.1", port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
    stopDashboard = await extension.start!(ctx);
    ctx.detectorStats = () => stats;
  });

  afterAll(async () => {
    delete ctx.detectorStats;
    if (stopDashboard) await stopDashboard();
    await router.stop(1000);
    await app.close();
  });

  async function post(body: unknown): Promise<void> {
    const res = await fetch(`${url}/`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(res.status).toBe(200);
  }

  it("counts alerts by priority over time and ranks rules", async () => {
    await post([makeAlert(0, { rule: "A", priority: "Critical" }), makeAlert(1, { rule: "A", priority: "Warning" }), makeAlert(2, { rule: "B", priority: "Notice", source: "k8s_audit" })]);
    const res = await fetch(`${url}/api/stats`);
    const s = (await res.json()) as StatsSnapshot;
    expect(s.total).toBe(3);
    expect(s.by_priority).toEqual({ Critical: 1, Warning: 1, Notice: 1 });
    expect(s.by_source).toEqual({ syscall: 2, k8s_audit: 1 });
    expect(s.top_rules.map((r) => [r.rule, r.count, r.priority])).toEqual([
      ["A", 2, "Critical"],
      ["B", 1, "Notice"],
    ]);
    expect(s.buckets).toHaveLength(90);
    const last = s.buckets[s.buckets.length - 1]!;
    const sum = s.buckets.reduce((n, b) => n + Object.values(b.counts).reduce((x, y) => x + (y ?? 0), 0), 0);
    expect(sum).toBe(3);
    expect(last.start).toBeLessThanOrEqual(s.now);
    expect(s.buckets[0]!.start).toBe(last.start - 89 * s.bucket_ms);
  });

  it("reports outputs, the journal and the detector in /api/status", async () => {
    const s = (await (await fetch(`${url}/api/status`)).json()) as StatusView;
    expect(s.outputs.map((o) => [o.name, o.type])).toEqual([["archive", "file"]]);
    expect(s.outputs[0]).toMatchObject({ dead_letters: 0, state: "healthy" });
    expect(typeof s.outputs[0]!.delivery_rate).toBe("number");
    expect(s.journal.max_bytes).toBeGreaterThan(0);
    expect(s.detector).toEqual(stats);
  });

  it("streams new alerts and status over server-sent events", async () => {
    const marker = `stream-${Date.now()}`;
    const reading = readEvents(`${url}/api/stream`, (events) => events.some((e) => e.event === "alert" && JSON.stringify(e.data).includes(marker)));
    await new Promise((r) => setTimeout(r, 200));
    await post([makeAlert(5, { rule: marker }), makeAlert(6, { rule: marker })]);
    const events = await reading;
    expect(events[0]!.event).toBe("status");
    const alerts = events.filter((e) => e.event === "alert").flatMap((e) => e.data as { rule: string }[]);
    // Two alerts accepted together arrive coalesced, in order.
    expect(alerts.filter((a) => a.rule === marker)).toHaveLength(2);
  });

  it("shows the detector panel in the page while a provider reports", async () => {
    let browser: Browser | undefined;
    try {
      browser = await launchBrowser();
      const page = await newPage(browser);
      await page.goto(`${url}/ui`);
      await page.locator("#detector-card:not([hidden])").waitFor({ timeout: 10_000 });
      const text = (await page.locator("#detector").textContent()) ?? "";
      expect(text).toContain("87");
      expect(text).toContain("rules loaded");
      expect(text).toContain("ringbuf_full 3");
      expect(text).toContain("9.9M left in the kernel (no rule can match)");
      expect(await page.locator("#detector-state").textContent()).toBe("running");
      await page.locator("#detector-card").scrollIntoViewIfNeeded();
      await screenshot(page, "08-detector");
      // A provider that fails shows why instead of breaking the stream.
      ctx.detectorStats = () => {
        throw new Error("sensor exited: missing CAP_BPF");
      };
      await page.locator("#detector-state", { hasText: "stats unavailable: sensor exited: missing CAP_BPF" }).waitFor({ timeout: 30_000 });
      // No provider (the detector stopped): the panel goes away.
      delete ctx.detectorStats;
      await page.locator("#detector-card").waitFor({ state: "hidden", timeout: 30_000 });
    } finally {
      await browser?.close();
    }
  });
});
