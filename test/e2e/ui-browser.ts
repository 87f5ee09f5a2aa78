import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

const REPO = resolve(import.meta.dirname, "../..");
export const CHROMIUM = "/usr/bin/chromium";
export const ARTIFACTS = join(REPO, "test-artifacts", "ui");

/** Installs Debian's chromium when missing (idempotent; one apt run per machine). */
export function ensureChromium(): void {
  if (existsSync(CHROMIUM)) return;
  const r = spawnSync("sh", [join(REPO, "scripts/install-debian-tools.sh"), `${CHROMIUM}=chromium`], { stdio: "inherit" });
  if (r.status !== 0 || !existsSync(CHROMIUM)) throw new Error(`could not install chromium (exit ${r.status}); apt-get install -y chromium`);
}

/**
 * Headless Debian chromium. The background-networking flags matter on a closed network:
 * without them chromium waits on update and sync services. Playwright gives each launch a
 * fresh profile directory of its own.
 */
export async function launchBrowser(): Promise<Browser> {
  ensureChromium();
  const args = [
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
  ];
  if (process.getuid?.() === 0) args.push("--no-sandbox");
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args, timeout: 60_000 });
}

export async function newPage(browser: Browser, width = 1440, height = 900): Promise<Page> {
  const context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
  return context.newPage();
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path });
  return path;
}
