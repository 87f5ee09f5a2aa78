/**
 * `peregrine detect --router URL` as a real process next to a real router: alerts arrive at
 * the router's output, and an alert raised while the router is down is spooled and delivered
 * once the router is back.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Receiver } from "../harness/receiver.js";
import { startRouter, type RouterProcess } from "../harness/router-process.js";
import { buildSensor, FALCO_RULES, isRoot, ROOT, waitFor } from "../unit/sensor/helpers.js";
import { runsTheSensor } from "../harness/sensor-lock.js";

runsTheSensor();


describe.skipIf(!isRoot)("peregrine detect --router URL (root)", () => {
  const receiver = new Receiver();
  let router: RouterProcess;
  let detect: ChildProcess;
  const lines: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), "pg-detect-"));

  beforeAll(async () => {
    buildSensor();
    await receiver.start();
    router = await startRouter({ command: "router", config: { outputs: [{ type: "webhook", name: "hook", url: receiver.url }] } });
    const cfg = join(dir, "detect.yaml");
    writeFileSync(cfg, stringify({ storage: { path: join(dir, "data") }, detector: { rules_files: [FALCO_RULES] } }));
    detect = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli.ts"), "detect", "--router", router.url, "-c", cfg], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    for (const s of [detect.stdout!, detect.stderr!]) s.on("data", (d: Buffer) => lines.push(...d.toString().split("\n")));
    await waitFor("the detector", () => (lines.some((l) => l.includes("sending alerts to the router")) ? true : undefined), 60_000);
  });

  afterAll(async () => {
    if (detect && detect.exitCode === null) {
      detect.kill("SIGTERM");
      await new Promise((r) => detect.once("close", r));
    }
    await router?.stop();
    await receiver.stop();
  });

  const find = (marker: string) => () =>
    receiver.alerts().find((a) => a.rule === "Read sensitive file untrusted" && String((a.output_fields as Record<string, unknown>)["proc.cmdline"]).includes(marker));

  it("an alert reaches the router's output", async () => {
    const marker = `pg-detect-a-${process.pid}`;
    execFileSync("sh", ["-c", `cat /etc/shadow /nonexistent-${marker} > /dev/null 2>&1; true`]);
    const a = await waitFor("the alert", find(marker), 30_000);
    expect(a.output_fields).toMatchObject({ "proc.name": "cat", "fd.name": "/etc/shadow", "proc.pname": "sh", "user.name": "root" });
  });

  it("an alert raised while the router is down is delivered after it restarts", async () => {
    const port = router.port;
    const dataDir = router.dataDir;
    await router.stop();
    const marker = `pg-detect-b-${process.pid}`;
    execFileSync("sh", ["-c", `cat /etc/shadow /nonexistent-${marker} > /dev/null 2>&1; true`]);
    await new Promise((r) => setTimeout(r, 1500)); // spooled, the sender backing off
    expect(find(marker)()).toBeUndefined();
    router = await startRouter({ command: "router", port, dataDir, config: { outputs: [{ type: "webhook", name: "hook", url: receiver.url }] } });
    const a = await waitFor("the spooled alert", find(marker), 40_000);
    expect(a.output_fields).toMatchObject({ "proc.name": "cat", "fd.name": "/etc/shadow" });
    expect(receiver.alerts().filter((x) => x.uuid === a.uuid)).toHaveLength(1);
  });
});
