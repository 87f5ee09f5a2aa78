/**
 * `peregrine run` as a new user starts it, with no rules configured: the embedded detector
 * loads Falco's stable rules shipped in rules/falco/, so searching for private keys raises
 * Falco's alert through the router to an output (a webhook to a local receiver).
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Receiver } from "../harness/receiver.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { runsTheSensor } from "../harness/sensor-lock.js";
import { buildSensor, isRoot } from "../unit/sensor/helpers.js";

runsTheSensor();

describe.skipIf(!isRoot)("peregrine run with no rules configured: Falco's stable rules (root)", () => {
  const receiver = new Receiver();
  let router: RouterProcess;

  beforeAll(async () => {
    buildSensor();
    await receiver.start();
    router = await startRouter({
      command: "run",
      // No detector.rules_files: what a new user gets.
      config: { detector: { enabled: true }, outputs: [{ type: "webhook", name: "hook", url: receiver.url }] },
    });
    await waitUntil(() => router.stdout.concat(router.stderr).some((l) => l.includes("syscall detector started")), 60_000, "the detector to start");
  }, 120_000);

  afterAll(async () => {
    await router?.stop();
    await receiver.stop();
  });

  it("find -name id_rsa raises Falco's 'Search Private Keys or Passwords'", async () => {
    const marker = `/nonexistent-pg-default-${process.pid}`;
    const match = () =>
      receiver.alerts().find((a) => a.rule === "Search Private Keys or Passwords" && String((a.output_fields as Record<string, unknown>)["proc.cmdline"]).includes(marker));
    // The sensor may still be seeding its tables when the first search runs: search again
    // until the alert comes (each search is a new process, and a new chance to be seen).
    let lastSearch = 0;
    await waitUntil(
      () => {
        if (match()) return true;
        if (Date.now() - lastSearch > 5_000) {
          execFileSync("sh", ["-c", `find ${marker} -name id_rsa > /dev/null 2>&1; true`]);
          lastSearch = Date.now();
        }
        return false;
      },
      60_000,
      `Falco's alert for find ${marker} -name id_rsa`,
    );
    const alert = match()!;
    expect(alert).toMatchObject({ priority: "Warning", source: "syscall" });
    expect(alert.tags).toContain("maturity_stable");
    expect(alert.output_fields).toMatchObject({ "proc.name": "find" });
  }, 120_000);

  it("the detector panel counts Falco's stable rules, not Peregrine's own five", async () => {
    const status = (await (await fetch(`${router.url}/api/status`)).json()) as { detector?: { rules_loaded?: number } };
    expect(status.detector?.rules_loaded).toBeGreaterThanOrEqual(20);
  });
});
