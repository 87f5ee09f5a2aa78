/**
 * `peregrine run` with the stable Falco rules, as a real process: the embedded detector's
 * alert travels through the router's journal to an output (a webhook to a local receiver).
 */
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Receiver } from "../harness/receiver.js";
import { startRouter, type RouterProcess } from "../harness/router-process.js";
import { buildSensor, FALCO_RULES, isRoot } from "../unit/sensor/helpers.js";
import { runsTheSensor } from "../harness/sensor-lock.js";

runsTheSensor();

describe.skipIf(!isRoot)("peregrine run: sensor alerts reach the outputs (root)", () => {
  const receiver = new Receiver();
  let router: RouterProcess;

  beforeAll(async () => {
    buildSensor();
    await receiver.start();
    router = await startRouter({
      command: "run",
      config: {
        detector: { enabled: true, rules_files: [FALCO_RULES] },
        outputs: [{ type: "webhook", name: "hook", url: receiver.url }],
      },
    });
    // the detector starts after the router listens; wait for its log line
    const deadline = Date.now() + 120_000;
    while (!router.stdout.concat(router.stderr).some((l) => l.includes("syscall detector started"))) {
      if (Date.now() > deadline) throw new Error(`detector did not start:\n${router.stderr.join("\n")}\n${router.stdout.join("\n")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  afterAll(async () => {
    await router?.stop();
    await receiver.stop();
  });

  it("cat /etc/shadow is journaled and delivered with Falco's fields", async () => {
    const marker = `pg-run-${process.pid}`;
    const t = Date.now();
    // "detector started" is logged once the sensor runs; its programs may attach a moment
    // later on a busy machine, so the action is repeated every 2 s until one is caught.
    let lastAction = 0;
    let alert: Record<string, unknown> | undefined;
    while (!alert) {
      if (Date.now() - lastAction > 2000) {
        execFileSync("sh", ["-c", `cat /etc/shadow /nonexistent-${marker} > /dev/null 2>&1; true`]);
        lastAction = Date.now();
      }
      alert = receiver
        .alerts()
        .find((a) => a.rule === "Read sensitive file untrusted" && String((a.output_fields as Record<string, unknown>)["proc.cmdline"]).includes(marker));
      if (!alert && Date.now() - t > 60_000) throw new Error(`no alert within 60 s; received: ${JSON.stringify(receiver.alerts().map((a) => a.rule))}`);
      if (!alert) await new Promise((r) => setTimeout(r, 20));
    }
    expect(alert).toMatchObject({ priority: "Warning", source: "syscall" });
    expect(alert.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(alert.output_fields).toMatchObject({
      "proc.name": "cat",
      "proc.exepath": "/usr/bin/cat",
      "proc.pname": "sh",
      "fd.name": "/etc/shadow",
      "user.name": "root",
    });
  });

  it("the dashboard's detector panel reports the running detector", async () => {
    const read = async () => (await (await fetch(`${router.url}/api/status`)).json()) as { detector?: Record<string, unknown> };
    // A rate needs two reads a second apart and counters come in stats frames (about one a
    // second, later on a busy machine): act and read until the frames show the activity.
    let detector: Record<string, unknown> | undefined;
    const until = Date.now() + 60_000;
    for (;;) {
      execFileSync("sh", ["-c", "cat /etc/hostname > /dev/null"]);
      await new Promise((r) => setTimeout(r, 500));
      detector = (await read()).detector;
      if (detector && Number(detector.events_per_second) > 0 && Number(detector.filtered_total) > 0) break;
      if (Date.now() > until) break;
    }
    expect(detector).toBeDefined();
    expect(detector!.rules_loaded).toBeGreaterThan(20); // Falco's stable rules
    expect(detector!.events_total).toBeGreaterThan(0);
    expect(detector!.alerts_total).toBeGreaterThanOrEqual(1); // the previous test's alert
    expect(detector!.events_per_second).toBeGreaterThan(0);
    expect(Object.keys(detector!.drops as object).sort()).toEqual(["file", "net", "other", "proc"]);
    expect(detector!.filtered_total).toBeGreaterThan(0); // cat's library opens, left in the kernel
    expect(detector!.state).toMatch(/^running/);
  });
});
