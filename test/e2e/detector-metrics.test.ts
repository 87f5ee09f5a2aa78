/**
 * `peregrine run` with the embedded detector exposes its own metrics in /metrics under
 * peregrine_detector_* (events/s, events, drops, rules matched, CPU and memory), as Falco's
 * metrics framework does; `peregrine router` has none.
 */
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Receiver } from "../harness/receiver.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { runsTheSensor } from "../harness/sensor-lock.js";
import { buildSensor, FALCO_RULES, isRoot } from "../unit/sensor/helpers.js";

runsTheSensor();

function sample(text: string, metric: string): number | undefined {
  const m = new RegExp(`^${metric.replace(/[{}"=]/g, (c) => `\\${c}`)} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

describe.skipIf(!isRoot)("detector metrics in /metrics (root)", () => {
  const receiver = new Receiver();
  let router: RouterProcess;

  beforeAll(async () => {
    buildSensor();
    await receiver.start();
    router = await startRouter({
      command: "run",
      config: {
        detector: { enabled: true, rules_files: [FALCO_RULES], metrics: { alert_interval: "1s" } },
        outputs: [{ type: "webhook", name: "hook", url: receiver.url }],
      },
    });
    await waitUntil(
      () => router.stdout.concat(router.stderr).some((l) => l.includes("syscall detector started")),
      60_000,
      "the detector's start line",
    );
  }, 120_000);

  afterAll(async () => {
    await router?.stop();
    if (router) rmSync(dirname(router.configFile), { recursive: true, force: true });
    await receiver.stop();
  });

  it("counts events, rules matched, drops, and the CPU and memory of the sensor and the engine", async () => {
    let text = "";
    // A Falco stable rule the sensor sees: reading a sensitive file (Read sensitive file untrusted).
    await waitUntil(
      async () => {
        execFileSync("cat", ["/etc/shadow"], { stdio: "ignore" });
        text = (await router.get("/metrics")).json as string;
        return (sample(text, "peregrine_detector_events_total") ?? 0) > 0 && (sample(text, "peregrine_detector_rules_matched_total") ?? 0) > 0;
      },
      60_000,
      "events evaluated and a rule matched in /metrics",
    );
    console.log(text.split("\n").filter((l) => l.startsWith("peregrine_detector_")).join("\n"));
    expect(sample(text, "peregrine_detector_rules_loaded")).toBeGreaterThan(10);
    expect(text).toMatch(/^# TYPE peregrine_detector_events_per_second gauge$/m);
    expect(text).toMatch(/^# TYPE peregrine_detector_drops_total gauge$/m);
    expect(sample(text, 'peregrine_detector_cpu_seconds_total{process="sensor"}')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'peregrine_detector_cpu_seconds_total{process="engine"}')).toBeGreaterThan(0);
    expect(sample(text, 'peregrine_detector_memory_rss_bytes{process="sensor"}')).toBeGreaterThan(0);
    expect(sample(text, 'peregrine_detector_memory_rss_bytes{process="engine"}')).toBeGreaterThan(10 * 1024 * 1024);
  }, 120_000);

  it("with detector.metrics.alert_interval, are raised as a periodic alert as Falco's metrics snapshots are", async () => {
    const snapshots = () => receiver.alerts().filter((a) => a.rule === "Falco internal: metrics snapshot");
    await waitUntil(() => snapshots().length >= 2, 60_000, "two metrics snapshot alerts");
    const [first, second] = snapshots() as unknown as { priority: string; source: string; time: string; output_fields: Record<string, number> }[];
    expect(first).toMatchObject({ priority: "Informational", source: "internal" });
    expect(first!.output_fields["peregrine.detector.rules_loaded"]).toBeGreaterThan(10);
    expect(first!.output_fields["peregrine.detector.events_total"]).toBeGreaterThan(0);
    expect(first!.output_fields["peregrine.detector.sensor.memory_rss_bytes"]).toBeGreaterThan(0);
    expect(Date.parse(second!.time)).toBeGreaterThan(Date.parse(first!.time));
  }, 120_000);

  it("are absent from a router without the detector", async () => {
    const plain = await startRouter({ config: { outputs: [{ type: "webhook", name: "hook", url: receiver.url }] } });
    try {
      const text = (await plain.get("/metrics")).json as string;
      expect(text).toContain("peregrine_output_queue_depth");
      expect(text).not.toContain("peregrine_detector_");
    } finally {
      await plain.kill();
      rmSync(dirname(plain.configFile), { recursive: true, force: true });
    }
  }, 60_000);
});
