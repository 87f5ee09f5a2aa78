/**
 * `peregrine detect --router URL` through a router outage, with the detector killed and
 * started again while the router is down: every alert the detector journaled (its debug log
 * names each by uuid) reaches the router's output once the router is back. Real processes: the
 * router, the detector with the eBPF sensor (root), and a receiver behind a webhook output.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Receiver } from "../harness/receiver.js";
import { startRouter, type RouterProcess } from "../harness/router-process.js";
import { runsTheSensor } from "../harness/sensor-lock.js";
import { buildSensor, FALCO_RULES, isRoot, ROOT, waitFor } from "../unit/sensor/helpers.js";
import { scale } from "./helpers.js";

runsTheSensor();

/** How long the router stays down: long enough for the lane's backoff to grow and its circuit to open. */
const OUTAGE_MS = scale(20_000, 90_000);
const RULE = "Read sensitive file untrusted";

interface Detect {
  proc: ChildProcess;
  lines: string[];
}

describe.skipIf(!isRoot)("peregrine detect through a router outage and its own restart (root)", () => {
  const receiver = new Receiver();
  const dir = mkdtempSync(join(tmpdir(), "pg-detect-outage-"));
  const storage = join(dir, "node");
  const cfg = join(dir, "detect.yaml");
  const outputs = () => [{ type: "webhook", name: "hook", url: receiver.url, batch: { max_events: 100 } }];
  let router: RouterProcess | undefined;
  let detect: Detect | undefined;
  /** Every alert the detector journaled, by uuid, with its output line, over both runs. */
  const journaled = new Map<string, string>();

  function startDetect(routerUrl: string): Detect {
    const proc = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli.ts"), "detect", "--router", routerUrl, "-c", cfg, "--storage", storage], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const d: Detect = { proc, lines: [] };
    let partial = "";
    proc.stderr!.on("data", (chunk: Buffer) => {
      const parts = (partial + chunk.toString()).split("\n");
      partial = parts.pop() ?? "";
      for (const line of parts) {
        d.lines.push(line);
        if (!line.includes('"detector alert journaled"')) continue;
        const entry = JSON.parse(line) as { uuid: string; output: string };
        journaled.set(entry.uuid, entry.output);
      }
    });
    proc.stdout!.on("data", (chunk: Buffer) => d.lines.push(chunk.toString()));
    return d;
  }

  async function ready(d: Detect): Promise<void> {
    await waitFor("the detector", () => (d.lines.some((l) => l.includes("sending alerts to the router")) ? true : undefined), 120_000, () => d.lines.slice(-20).join("\n"));
  }

  /** The processes whose parent is `pid` (the sensor under the detector). */
  function childrenOf(pid: number): number[] {
    const out: number[] = [];
    for (const name of readdirSync("/proc")) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, "utf8");
        if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid) out.push(Number(name));
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }

  /** SIGKILL, as a crash or an OOM kill would end it; then waits until its sensor is gone too. */
  async function crash(d: Detect): Promise<void> {
    const children = childrenOf(d.proc.pid!);
    const closed = new Promise((r) => d.proc.once("close", r));
    d.proc.kill("SIGKILL");
    await closed;
    const alive = (pid: number) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    // The orphaned sensor ends at its next write to the closed pipe; one that waits is ended here.
    for (const pid of children) if (alive(pid)) process.kill(pid, "SIGTERM");
    await waitFor("the old sensor to exit", () => (children.some(alive) ? undefined : true), 60_000);
  }

  /** Raises one alert of RULE whose command line carries `marker`, and waits until it is journaled. */
  async function raise(marker: string): Promise<string> {
    execFileSync("sh", ["-c", `cat /etc/shadow /nonexistent-${marker} > /dev/null 2>&1; true`]);
    return waitFor(`the alert ${marker} journaled`, () => [...journaled].find(([, output]) => output.includes(marker))?.[0], 60_000, () => detect!.lines.slice(-20).join("\n"));
  }

  const arrived = () => new Set(receiver.alerts().map((a) => a.uuid as string));

  beforeAll(async () => {
    buildSensor();
    await receiver.start();
    router = await startRouter({ command: "router", config: { outputs: outputs() } });
    writeFileSync(cfg, stringify({ log: { level: "debug" }, shutdown: { drain_ms: 1000 }, detector: { rules_files: [FALCO_RULES] } }));
    detect = startDetect(router.url);
    await ready(detect);
  }, 300_000);

  afterAll(async () => {
    if (detect && detect.proc.exitCode === null && detect.proc.signalCode === null) {
      const closed = new Promise((r) => detect!.proc.once("close", r));
      detect.proc.kill("SIGTERM");
      await closed;
    }
    await router?.stop();
    await receiver.stop();
  });

  it("delivers every journaled alert, by uuid, once the router is back", async () => {
    const tag = `pg-outage-${process.pid}`;
    const before = await raise(`${tag}-before`);
    await waitFor("the first alert at the output", () => (arrived().has(before) ? true : undefined), 60_000);

    const { port, dataDir } = router!;
    await router!.stop();
    router = undefined;
    const downAt = Date.now();
    const during: string[] = [];
    for (let i = 0; i < 3; i++) during.push(await raise(`${tag}-down-a${i}`));

    await crash(detect!);
    detect = startDetect(`http://127.0.0.1:${port}`);
    await ready(detect);
    for (let i = 0; i < 3; i++) during.push(await raise(`${tag}-down-b${i}`));

    // A real outage: the lane's retries back off and its circuit opens before the router returns.
    await new Promise((r) => setTimeout(r, Math.max(0, OUTAGE_MS - (Date.now() - downAt))));
    for (const uuid of during) expect(arrived().has(uuid)).toBe(false);
    router = await startRouter({ command: "router", port, dataDir, config: { outputs: outputs() } });

    // Backoff (60 s at most) and the open circuit (30 s) bound how long the lane takes to notice.
    const missing = () => [...journaled.keys()].filter((u) => !arrived().has(u));
    await waitFor("every journaled alert at the output", () => (missing().length === 0 ? true : undefined), 180_000, () => `missing: ${missing().join(", ")}`);
    expect(journaled.size).toBeGreaterThanOrEqual(7);
    for (const uuid of [before, ...during]) expect(arrived().has(uuid)).toBe(true);
    for (const uuid of during) expect(receiver.alerts().find((a) => a.uuid === uuid)?.rule).toBe(RULE);
  }, 600_000);
});
