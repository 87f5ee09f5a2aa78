/**
 * The container metadata cache against a real Docker Engine (the harness's `docker` service),
 * without the sensor: what each container.* field holds for a container with mounts, labels
 * and the host's namespaces, compared with `docker inspect`; `<NA>` and one log line per
 * episode while an engine is down, and the values once it answers again.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerExtractor } from "../../src/detector/metadata/container-fields.js";
import { DockerEngine } from "../../src/detector/metadata/docker.js";
import { ContainerMetadata } from "../../src/detector/metadata/manager.js";
import type { ContainerInfo } from "../../src/detector/metadata/types.js";
import { services } from "../harness/services.js";
import { DOCKER_SOCKET, dockerCli } from "../harness/services/docker.js";
import { TESTBASE } from "../harness/images/images.js";
import { isRoot, waitFor } from "../unit/sensor/helpers.js";

interface Inspect {
  Id: string;
  Name: string;
  Image: string;
  Config: { Image: string; Labels: Record<string, string> };
  HostConfig: { Privileged: boolean; PidMode: string; NetworkMode: string; IpcMode: string };
  Mounts: { Source: string; Destination: string; Mode: string; RW: boolean; Propagation: string }[];
  State: { StartedAt: string };
}

/** A pino logger whose lines the test can read. */
function capturingLogger() {
  const lines: { level: number; msg: string; engine?: string }[] = [];
  const logger = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s) as (typeof lines)[number]) });
  return { logger, lines };
}

describe.skipIf(!isRoot)("container metadata cache with a real Docker Engine (root)", () => {
  let dir: string;
  const made: string[] = [];

  beforeAll(async () => {
    await services.start("docker");
    dir = mkdtempSync(join(tmpdir(), "pg-ctrmeta-"));
  });

  afterAll(() => {
    for (const name of made) dockerCli(["rm", "--force", name]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function start(args: string[]): { name: string; id: string } {
    const name = `pg-meta-${randomBytes(4).toString("hex")}`;
    made.push(name);
    const r = dockerCli(["run", "--detach", "--name", name, ...args, TESTBASE.ref, "sleep", "600"]);
    if (!r.ok) throw new Error(`docker run: ${r.err}`);
    return { name, id: r.out.trim() };
  }

  it("answers every container.* field as docker inspect reports it, and 'none' or <NA> where there is nothing", async () => {
    const c = start([
      "--network",
      "host",
      "--pid",
      "host",
      "--ipc",
      "host",
      "--label",
      "team=blue",
      "--label",
      "app.kubernetes.io/name=probe",
      "--volume",
      `${dir}:/data:ro`,
    ]);
    const { logger } = capturingLogger();
    const meta = new ContainerMetadata({ engines: [new DockerEngine("docker", DOCKER_SOCKET)], logger });
    const id = c.id.slice(0, 12);
    // the first read never waits: the lookup runs in the background
    expect(meta.get(id)).toBeUndefined();
    const info = await waitFor("the lookup", () => meta.get(id), 30_000);
    const want = (JSON.parse(dockerCli(["inspect", c.name]).out) as Inspect[])[0]!;
    const field = (name: string, arg?: string) =>
      containerExtractor<ContainerInfo>(name, arg, { containerId: () => id, info: (x) => x, timeNs: () => BigInt(Date.now()) * 1_000_000n })!(info);

    expect(field("container.id")).toBe(id);
    expect(field("container.full_id")).toBe(want.Id);
    expect(field("container.name")).toBe(c.name);
    expect(field("container.image")).toBe(want.Config.Image);
    expect(field("container.image.id")).toBe(want.Image.replace("sha256:", "").slice(0, 12));
    expect(field("container.image.repository")).toBe("peregrine/testbase");
    expect(field("container.image.tag")).toBe("bookworm");
    // a locally made image has no registry digest
    expect(field("container.image.digest")).toBeUndefined();
    expect(field("container.type")).toBe("docker");
    expect(field("container.privileged")).toBe(false);
    expect(field("container.host_network")).toBe(true);
    expect(field("container.host_pid")).toBe(true);
    expect(field("container.host_ipc")).toBe(true);
    expect(field("container.label", "team")).toBe("blue");
    expect(field("container.label", "app.kubernetes.io/name")).toBe("probe");
    expect(field("container.labels")).toBe(Object.entries(want.Config.Labels).map(([k, v]) => `${k}:${v}`).join(","));
    const m = want.Mounts[0]!;
    const text = `${m.Source}:${m.Destination}:${m.Mode}:${m.RW}:${m.Propagation}`;
    expect(text).toBe(`${dir}:/data:ro:false:rprivate`);
    expect(field("container.mounts")).toBe(text);
    expect(field("container.mount", "0")).toBe(text);
    expect(field("container.mount", dir)).toBe(text);
    expect(field("container.mount", `${dir.slice(0, -2)}*`)).toBe(text);
    expect(field("container.mount", "/nowhere")).toBe("none");
    expect(field("container.mount.dest", dir)).toBe("/data");
    expect(field("container.mount.source", "/data")).toBe(dir);
    expect(field("container.mount.mode", "0")).toBe("ro");
    expect(field("container.mount.rdwr", "0")).toBe("false");
    expect(field("container.mount.propagation", dir)).toBe("rprivate");
    expect(field("container.mount.dest", "7")).toBeUndefined();
    const startMs = Date.parse(want.State.StartedAt);
    expect(Math.abs(Number(field("container.start_ts")) / 1e6 - startMs)).toBeLessThan(1);
    expect(Number(field("container.duration"))).toBeGreaterThan(0);
    // host network: the engine gives no address of its own
    expect(field("container.ip")).toBeUndefined();
    meta.close();
  });

  it("a container no engine knows stays <NA> and is asked again after a back-off", async () => {
    const { logger } = capturingLogger();
    const meta = new ContainerMetadata({ engines: [new DockerEngine("docker", DOCKER_SOCKET)], logger, retryMs: 200 });
    const firsts: string[] = [];
    const m2 = new ContainerMetadata({ engines: [new DockerEngine("docker", DOCKER_SOCKET)], logger, onFirstLookup: (id) => firsts.push(id) });
    expect(await meta.resolve("0123456789ab")).toBeUndefined();
    await waitFor("a second lookup after the back-off", () => {
      meta.get("0123456789ab");
      return meta.stats().missing >= 2 ? true : undefined;
    });
    expect(meta.stats().missing).toBeGreaterThanOrEqual(2);
    expect(meta.stats().found).toBe(0);
    await m2.resolve("0123456789ab");
    await m2.resolve("0123456789ab");
    expect(firsts).toEqual(["0123456789ab"]);
    meta.close();
    m2.close();
  });

  it("an engine that is down: <NA>, one log line for the episode (not one per lookup), then the values once it answers", async () => {
    const c = start(["--network", "none"]);
    const id = c.id.slice(0, 12);
    const { logger, lines } = capturingLogger();
    // a socket path where the engine is not (yet): the same engine type, another socket
    const sock = join(dir, "docker.sock");
    const meta = new ContainerMetadata({ engines: [new DockerEngine("docker", sock)], logger, retryMs: 100 });
    expect(await meta.resolve(id)).toBeUndefined();
    await waitFor("three lookups while down", () => {
      meta.get(id);
      return meta.stats().missing >= 3 ? true : undefined;
    });
    const downLines = () => lines.filter((l) => l.msg.includes("container engine is down"));
    expect(downLines()).toHaveLength(1);
    expect(meta.stats().enginesDown).toEqual([`docker@${sock}`]);
    expect(meta.stats().engineErrors).toBeGreaterThanOrEqual(3);
    // the engine comes up at that socket: a symlink to the harness's dockerd
    const { symlinkSync } = await import("node:fs");
    symlinkSync(DOCKER_SOCKET, sock);
    const info = await waitFor("the values once the engine answers", () => meta.get(id), 30_000);
    expect(info.name).toBe(c.name);
    expect(lines.filter((l) => l.msg.includes("container engine answers again"))).toHaveLength(1);
    expect(meta.stats().enginesDown).toEqual([]);
    expect(downLines()).toHaveLength(1);
    meta.close();
  });
});
