/**
 * The dashboard's Response card in chromium against a real router with the response engine:
 * it appears because the router has a response lane, and lists the actions the engine
 * recorded (a process killed, one refused) with their status and target.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { launchBrowser, newPage, screenshot } from "./ui-browser.js";

describe("dashboard: the Response card", () => {
  let browser: Browser;
  let router: RouterProcess;
  let plain: RouterProcess;

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-ui-response-"));
    writeFileSync(join(dir, "rules.yaml"), "- rule: Kill\n  match: {rules: [Reverse shell]}\n  actions:\n    - action: Kill it\n      actionner: process:kill\n");
    [browser, router, plain] = await Promise.all([
      launchBrowser(),
      startRouter({ config: { outputs: [], response: { enabled: true, rules_files: [join(dir, "rules.yaml")] } } }),
      startRouter({ config: { outputs: [] } }),
    ]);
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await router?.stop();
    await plain?.stop();
  });

  it("lists the recorded actions with status and target; absent without the engine", async () => {
    const startedAt = Date.now();
    const victim = spawn("sleep", ["600"], { stdio: "ignore" });
    const exited = new Promise((r) => victim.once("exit", r));
    const now = Date.now();
    const fields = { "proc.pid": victim.pid, "proc.duration": (now - startedAt) * 1_000_000 };
    expect((await router.post({ rule: "Reverse shell", priority: "Critical", output: "nc -e", time: new Date(now).toISOString(), output_fields: fields })).status).toBe(200);
    expect((await router.post({ rule: "Reverse shell", priority: "Critical", output: "init?", time: new Date(now).toISOString(), output_fields: { "proc.pid": 1, "proc.pid.ts": 1 } })).status).toBe(200);
    await exited;
    const page = await newPage(browser);
    await page.goto(`${router.url}/ui`);
    await page.waitForSelector("#response-card:not([hidden]) li[data-status='done']", { timeout: 30_000 });
    await waitUntil(async () => (await page.$$("#response li[data-status]")).length === 2, 30_000, "both actions listed");
    const items = await page.$$eval("#response li", (lis) => lis.map((li) => ({ status: (li as HTMLElement).dataset.status, text: li.textContent ?? "" })));
    const done = items.find((i) => i.status === "done")!;
    expect(done.text).toContain(`process:kill pid ${victim.pid} (sleep)`);
    // pid 1 with a start time that is not its own: the target check answers before the allowlist
    expect(items.map((i) => i.status).sort()).toEqual(["done", "gone"]);
    expect(await page.textContent("#response-counts")).toMatch(/1 done/);
    await screenshot(page, "response-card");

    const other = await newPage(browser);
    await other.goto(`${plain.url}/ui`);
    await other.waitForSelector("#outputs", { timeout: 30_000 });
    await new Promise((r) => setTimeout(r, 2500));
    expect(await other.$eval("#response-card", (e) => (e as HTMLElement).hidden)).toBe(true);
  }, 120_000);
});
