/**
 * End to end, as root, with a real Docker Engine (the harness's `docker` service): the
 * detector asks Docker for a container's metadata on its first sight, off the event path,
 * and alerts raised a moment later carry it.
 *
 * - `cat /etc/shadow` in a container: the alert's container.name, image, repository, tag
 *   and privileged flag are what `docker inspect` says.
 * - Falco's stable rule "Debugfs Launched in Privileged Container" fires for debugfs in a
 *   privileged container; its unprivileged twin is silent (and is seen, with its metadata,
 *   by a marker rule, so the silence is not a lookup that never came).
 * - The synthetic `container` event (evt.type = container) is raised once per new container.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector, type SyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { containerEnginesConfig } from "../../src/detector/metadata/engines.js";
import { runsTheSensor } from "../harness/sensor-lock.js";
import { services } from "../harness/services.js";
import { DOCKER_SOCKET, dockerCli } from "../harness/services/docker.js";
import { TESTBASE } from "../harness/images/images.js";
import { buildSensor, FALCO_RULES, isRoot, waitFor } from "../unit/sensor/helpers.js";

const RULES = `
- rule: pg docker shadow
  desc: the test's read of /etc/shadow in a container
  condition: evt.type in (open, openat, openat2) and fd.name=/etc/shadow and container.id != host and proc.name=cat
  output: "shadow read in %container.id name=%container.name image=%container.image repo=%container.image.repository tag=%container.image.tag privileged=%container.privileged type=%container.type full=%container.full_id"
  priority: NOTICE

- rule: pg docker debugfs marker
  desc: any debugfs in a container, privileged or not
  condition: evt.type in (execve, execveat) and proc.name=debugfs and container.id != host
  output: "debugfs in %container.id privileged=%container.privileged"
  priority: NOTICE

- rule: pg docker container event
  desc: the synthetic container event
  condition: evt.type = container and container.name startswith pg-docker-
  output: "container %container.id started name=%container.name image=%container.image"
  priority: INFO
`;

interface Inspect {
  Id: string;
  Name: string;
  Config: { Image: string };
  HostConfig: { Privileged: boolean };
}

function inspect(name: string): Inspect {
  const r = dockerCli(["inspect", name]);
  if (!r.ok) throw new Error(`docker inspect ${name}: ${r.err}`);
  return (JSON.parse(r.out) as Inspect[])[0]!;
}

runsTheSensor();

describe.skipIf(!isRoot)("container metadata from a real Docker Engine (root)", () => {
  let detector: SyscallDetector;
  const alerts: DetectorAlert[] = [];
  let dir: string;
  const made: string[] = [];

  beforeAll(async () => {
    buildSensor();
    await services.start("docker");
    dir = mkdtempSync(join(tmpdir(), "pg-docker-"));
    const rules = join(dir, "rules.yaml");
    writeFileSync(rules, RULES);
    const engines = containerEnginesConfig({
      docker: { enabled: true, sockets: [DOCKER_SOCKET] },
      podman: { enabled: false },
      containerd: { enabled: false },
      cri: { enabled: false },
    });
    detector = await startSyscallDetector({
      rulesFiles: [FALCO_RULES, rules],
      ruleMatching: "all",
      // as Falco with the container plugin suggests: every alert names its container
      appendOutput: [{ extra_fields: ["container.id", "container.name"] }],
      containerEngines: engines,
      logger: pino({ level: "warn" }),
      onAlert: (a) => alerts.push(a),
    });
    await detector.ready;
  });

  afterAll(async () => {
    await detector?.stop();
    for (const name of made) dockerCli(["rm", "--force", name]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Starts a container that waits 2 s (its first events start the metadata lookup), then runs
   * `command`, then stays until removed; returns its name and full id.
   */
  function run(command: string, opts: { privileged?: boolean } = {}): { name: string; id: string } {
    const name = `pg-docker-${randomBytes(4).toString("hex")}`;
    made.push(name);
    const r = dockerCli([
      "run",
      "--detach",
      "--name",
      name,
      "--network",
      "none",
      ...(opts.privileged ? ["--privileged"] : []),
      TESTBASE.ref,
      "sh",
      "-c",
      `sleep 2; ${command}; sleep 600`,
    ]);
    if (!r.ok) throw new Error(`docker run: ${r.err}`);
    return { name, id: r.out.trim() };
  }

  const seen = () => alerts.map((a) => `${a.rule}: ${a.output}`).join("\n");

  it("an alert from cat /etc/shadow in a container carries the container's name, image, repository, tag and privileged flag as docker inspect reports them", async () => {
    const c = run("cat /etc/shadow > /dev/null");
    const ours = (a: DetectorAlert) => a.rule === "pg docker shadow" && a.output_fields["container.id"] === c.id.slice(0, 12);
    const alert = await waitFor("the shadow read alert", () => alerts.find(ours), 60_000, seen);
    const want = inspect(c.name);
    const f = alert.output_fields;
    expect(f["container.name"]).toBe(want.Name.replace(/^\//, ""));
    expect(f["container.image"]).toBe(want.Config.Image);
    expect(f["container.image"]).toBe(TESTBASE.ref);
    expect(f["container.image.repository"]).toBe("peregrine/testbase");
    expect(f["container.image.tag"]).toBe("bookworm");
    expect(f["container.privileged"]).toBe(want.HostConfig.Privileged);
    expect(f["container.privileged"]).toBe(false);
    expect(f["container.type"]).toBe("docker");
    expect(f["container.full_id"]).toBe(want.Id);
  });

  it("Debugfs Launched in Privileged Container fires in a privileged container and not in its unprivileged twin", async () => {
    const priv = run("debugfs -R stats /dev/null > /dev/null 2>&1 || true", { privileged: true });
    const twin = run("debugfs -R stats /dev/null > /dev/null 2>&1 || true");
    const inC = (id: string) => (a: DetectorAlert) => a.output_fields["container.id"] === id.slice(0, 12);
    const hit = await waitFor(
      "the stable rule's alert for the privileged container",
      () => alerts.find((a) => a.rule === "Debugfs Launched in Privileged Container" && inC(priv.id)(a)),
      60_000,
      seen,
    );
    expect(hit.priority).toBe("Warning");
    expect(inspect(priv.name).HostConfig.Privileged).toBe(true);
    // the twin's debugfs was seen, with its metadata known, and raised nothing from the stable rule
    const marker = await waitFor(
      "the marker alert for the unprivileged twin",
      () => alerts.find((a) => a.rule === "pg docker debugfs marker" && inC(twin.id)(a)),
      60_000,
      seen,
    );
    expect(marker.output_fields["container.privileged"]).toBe(false);
    expect(alerts.filter((a) => a.rule === "Debugfs Launched in Privileged Container" && inC(twin.id)(a))).toEqual([]);
  });

  it("raises the synthetic container event once for a new container, with its metadata", async () => {
    const c = run("cat /etc/shadow > /dev/null");
    const id = c.id.slice(0, 12);
    const mine = () => alerts.filter((a) => a.rule === "pg docker container event" && a.output_fields["container.id"] === id);
    const first = await waitFor("the container event", () => mine()[0], 60_000, seen);
    expect(first.output_fields["evt.type"] ?? "container").toBe("container");
    expect(first.output_fields["container.name"]).toBe(c.name);
    expect(first.output_fields["container.image"]).toBe(TESTBASE.ref);
    // a later event of the same container (its read, 2 s on) raises no second one
    await waitFor("the container's later read", () => alerts.find((a) => a.rule === "pg docker shadow" && a.output_fields["container.id"] === id), 60_000, seen);
    expect(mine()).toHaveLength(1);
    const st = detector.stats().containers!;
    expect(st.found).toBeGreaterThan(0);
    expect(st.containerEvents).toBeGreaterThan(0);
  });
});
