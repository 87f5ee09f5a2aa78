/**
 * The dashboard's output column in a real browser: Falco's output starts with its time and
 * priority, which the row already shows in columns of its own; the column leaves them out and
 * the drawer keeps the output whole.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Browser } from "playwright-core";
import { makeAlert, startRouter, type RouterProcess } from "../harness/router-process.js";
import { launchBrowser, newPage } from "./ui-browser.js";

const TEXT = "File below /etc opened for writing (file=/etc/peregrine-test user=root process=touch parent=bash)";

describe("dashboard output column", () => {
  let browser: Browser;
  let router: RouterProcess;

  beforeAll(async () => {
    [browser, router] = await Promise.all([launchBrowser(), startRouter({ config: { outputs: [{ name: "stdout", type: "stdout" }] } })]);
  });

  afterAll(async () => {
    await browser?.close();
    await router?.stop();
  });

  it("shows a Falco output without its time and priority; the drawer shows it whole", async () => {
    const page = await newPage(browser);
    await page.goto(`${router.url}/ui`);
    await page.locator('#conn[data-state="live"]').waitFor({ timeout: 30_000 });
    const falco = `16:31:56.746609046: Error ${TEXT}`;
    const posted = await router.post([
      makeAlert(1, { priority: "Error", rule: "Write below etc", output: falco }),
      makeAlert(2, { priority: "Notice", rule: "Plain producer", output: "12:00 backup failed on db-1" }),
    ]);
    expect(posted.status).toBe(200);
    const row = page.locator(".row", { has: page.locator(".r", { hasText: "Write below etc" }) });
    await row.waitFor({ state: "visible", timeout: 30_000 });
    expect(await row.locator(".o").textContent()).toBe(TEXT);
    const plain = page.locator(".row", { has: page.locator(".r", { hasText: "Plain producer" }) });
    await plain.waitFor({ state: "visible", timeout: 30_000 });
    expect(await plain.locator(".o").textContent()).toBe("12:00 backup failed on db-1");
    await row.click();
    await page.locator("#drawer:not([hidden])").waitFor({ timeout: 30_000 });
    expect(await page.locator("#d-body").textContent()).toContain(falco);
    await page.context().close();
  });
});
