/**
 * The dashboard's history in a real browser against the real router process: after a
 * restart the feed and the counts are still there, and the time-range picker shows only the
 * alerts of the picked range, with their counts.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { makeAlert, startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { launchBrowser, newPage, screenshot } from "./ui-browser.js";

describe("dashboard history in chromium", () => {
  let browser: Browser;
  let router: RouterProcess;
  const dir = mkdtempSync(join(tmpdir(), "peregrine-ui-history-"));
  const dataDir = join(dir, "data");
  const config = { storage: { fsync: false }, outputs: [{ name: "archive", type: "file", path: join(dir, "archive.ndjson") }] };

  beforeAll(async () => {
    [browser, router] = await Promise.all([launchBrowser(), startRouter({ config, dataDir })]);
  });

  afterAll(async () => {
    await browser?.close();
    await router?.kill();
  });

  it("keeps the feed across a restart and shows a picked time range", async () => {
    const now = Date.now();
    // 5 alerts in the last 10 minutes, 7 from 3 hours ago, 4 from 2 days ago.
    const recent = Array.from({ length: 5 }, (_, i) => makeAlert(i, { uuid: randomUUID(), priority: "Critical", time: new Date(now - (i + 1) * 60_000).toISOString() }));
    const hours = Array.from({ length: 7 }, (_, i) => makeAlert(10 + i, { uuid: randomUUID(), priority: "Warning", time: new Date(now - 3 * 3_600_000 - i * 1000).toISOString() }));
    const days = Array.from({ length: 4 }, (_, i) => makeAlert(20 + i, { uuid: randomUUID(), priority: "Notice", time: new Date(now - 2 * 86_400_000 - i * 1000).toISOString() }));
    expect((await router.post([...recent, ...hours, ...days])).status).toBe(200);
    expect(await router.stop("SIGTERM")).toBe(0);
    router = await startRouter({ config, dataDir });

    const page = await newPage(browser);
    await page.goto(`${router.url}/ui`);
    const feedCount = () => page.$eval("#feed-count", (e) => e.textContent ?? "");
    const total = () => page.$eval("#k-total", (e) => e.textContent ?? "");
    // The live feed's backlog comes from the history: every alert is back after the restart.
    await waitUntil(async () => (await feedCount()) === "16 alerts", 60_000, "16 alerts in the feed after the restart");
    // The live counters (last 15 minutes) start from the history too.
    await waitUntil(async () => (await page.$eval("#k-critical", (e) => e.textContent)) === "5", 60_000, "5 critical alerts counted after the restart");

    await page.selectOption("#range", "3600000");
    await waitUntil(async () => (await feedCount()) === "5 alerts" && (await total()) === "5", 60_000, "the last hour: 5 alerts, counted 5");
    expect(await page.$eval("#k-critical", (e) => e.textContent)).toBe("5");

    await page.selectOption("#range", "86400000");
    await waitUntil(async () => (await feedCount()) === "12 alerts" && (await total()) === "12", 60_000, "the last 24 hours: 12 alerts");
    await page.selectOption("#range", "604800000");
    await waitUntil(async () => (await feedCount()) === "16 alerts" && (await total()) === "16", 60_000, "the last 7 days: 16 alerts");
    await screenshot(page, "history-range");

    // Back to live: the backlog again, and new alerts stream in.
    await page.selectOption("#range", "");
    await waitUntil(async () => (await feedCount()) === "16 alerts", 60_000, "the live feed again");
    expect((await router.post(makeAlert(99, { uuid: randomUUID() }))).status).toBe(200);
    await waitUntil(async () => (await feedCount()) === "17 alerts", 60_000, "a new alert in the live feed");
    await page.close();
  }, 300_000);
});
