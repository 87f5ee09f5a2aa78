/**
 * `peregrine run` with detector.container_engines pointing at the harness's dockerd: the
 * container metadata lookups show in /metrics (peregrine_detector_container_*), and an
 * engine socket that is down is counted there.
 */
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { tmpdir } from "node:os";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Receiver } from "../harness/receiver.js";
import { startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";
import { runsTheSensor } from "../harness/sensor-lock.js";
import { services } from "../harness/services.js";
import { DOCKER_SOCKET, dockerCli } from "../harness/services/docker.js";
import { TESTBASE } from "../harness/images/images.js";
import { buildSensor, FALCO_RULES, isRoot } from "../unit/sensor/helpers.js";

runsTheSensor();

function sample(text: string, metric: string): number | undefined {
  const m = new RegExp(`^${metric.replace(/[{}"=.]/g, (c) => `\\${c}`)} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

describe.skipIf(!isRoot)("container metadata metrics in /metrics (root)", () => {
  const receiver = new Receiver();
  let router: RouterProcess;
  const name = `pg-metrics-${randomBytes(4).toString("hex")}`;
  const missing = join(tmpdir(), `pg-no-engine-${randomBytes(4).toString("hex")}.sock`);

  beforeAll(async () => {
    buildSensor();
    await services.start("docker");
    await receiver.start();
    router = await startRouter({
      command: "run",
      config: {
        detector: {
          enabled: true,
          rules_files: [FALCO_RULES],
          // the first docker socket does not exist: an engine down, counted, and the next asked
          container_engines: { docker: { sockets: [missing, DOCKER_SOCKET] }, podman: { enabled: false }, cri: { enabled: false } },
        },
        outputs: [{ type: "webhook", name: "hook", url: receiver.url }],
      },
    });
    await waitUntil(
      () => router.stdout.concat(router.stderr).some((l) => l.includes("syscall detector started")),
      60_000,
      "the detector's start line",
    );
  }, 300_000);

  afterAll(async () => {
    dockerCli(["rm", "--force", name]);
    await router?.stop();
    if (router) rmSync(dirname(router.configFile), { recursive: true, force: true });
    await receiver.stop();
  });

  it("counts lookups found, the cache, the container event, the lookup latency of each engine and the engines down", async () => {
    const r = dockerCli(["run", "--detach", "--name", name, "--network", "none", TESTBASE.ref, "sh", "-c", "sleep 1; cat /etc/shadow > /dev/null; sleep 600"]);
    expect(r.err).toBe("");
    let text = "";
    await waitUntil(
      async () => {
        text = (await router.get("/metrics")).json as string;
        return (sample(text, 'peregrine_detector_container_lookups_total{result="found"}') ?? 0) >= 1;
      },
      60_000,
      "a container lookup found in /metrics",
    );
    expect(sample(text, "peregrine_detector_container_cache_entries")).toBeGreaterThanOrEqual(1);
    expect(sample(text, "peregrine_detector_container_events_total")).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'peregrine_detector_container_lookup_seconds{engine="docker",quantile="0.5"}')).toBeGreaterThan(0);
    // the socket where no engine is: down, and its failed requests counted
    expect(sample(text, "peregrine_detector_container_engines_down")).toBe(1);
    expect(sample(text, "peregrine_detector_container_engine_errors_total")).toBeGreaterThanOrEqual(1);
  }, 120_000);
});
