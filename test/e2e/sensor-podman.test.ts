/**
 * End to end, as root, with a real Podman (the harness's `podman` service: `podman system
 * service` on its own socket): the detector asks Podman's Docker-compatible API for a
 * container's metadata, and the alert from `cat /etc/shadow` carries the container's name,
 * image, repository, tag and privileged flag as `podman inspect` reports them, with
 * container.type podman; a privileged container is told apart from its unprivileged twin.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerEnginesConfig } from "../../src/detector/metadata/engines.js";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector, type SyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { TESTBASE } from "../harness/images/images.js";
import { runsTheSensor } from "../harness/sensor-lock.js";
import { services } from "../harness/services.js";
import { PODMAN_SOCKET, podmanCli } from "../harness/services/podman.js";
import { buildSensor, isRoot, waitFor } from "../unit/sensor/helpers.js";

const RULES = `
- rule: pg podman shadow
  desc: the test's read of /etc/shadow in a podman container
  condition: evt.type in (open, openat, openat2) and fd.name=/etc/shadow and container.id != host and proc.name=cat
  output: "shadow read in %container.id name=%container.name image=%container.image repo=%container.image.repository tag=%container.image.tag privileged=%container.privileged type=%container.type full=%container.full_id id=%container.image.id"
  priority: NOTICE
`;

interface Inspect {
  Id: string;
  Name: string;
  Image: string;
  ImageName: string;
  HostConfig: { Privileged: boolean };
}

async function inspect(name: string): Promise<Inspect> {
  const r = await podmanCli(["container", "inspect", name]);
  if (r.status !== 0) throw new Error(`podman inspect ${name}: ${r.stderr}`);
  return (JSON.parse(r.stdout) as Inspect[])[0]!;
}

runsTheSensor();

describe.skipIf(!isRoot)("container metadata from a real Podman through its Docker-compatible API (root)", () => {
  let detector: SyscallDetector;
  const alerts: DetectorAlert[] = [];
  let dir: string;
  const made: string[] = [];

  beforeAll(async () => {
    buildSensor();
    await services.start("podman");
    dir = mkdtempSync(join(tmpdir(), "pg-podman-"));
    const rules = join(dir, "rules.yaml");
    writeFileSync(rules, RULES);
    detector = await startSyscallDetector({
      rulesFiles: [rules],
      containerEngines: containerEnginesConfig({
        docker: { enabled: false },
        podman: { enabled: true, sockets: [PODMAN_SOCKET] },
        containerd: { enabled: false },
        cri: { enabled: false },
      }),
      logger: pino({ level: "warn" }),
      onAlert: (a) => alerts.push(a),
    });
    await detector.ready;
  }, 600_000);

  afterAll(async () => {
    await detector?.stop();
    for (const name of made) await podmanCli(["rm", "--force", "--time=0", name]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** `podman run --detach` of a container that waits 2 s (its first events start the lookup), reads /etc/shadow and stays. */
  async function run(opts: { privileged?: boolean } = {}): Promise<{ name: string; id: string }> {
    const name = `pg-podman-${randomBytes(4).toString("hex")}`;
    made.push(name);
    const r = await podmanCli([
      "run",
      "--detach",
      `--name=${name}`,
      "--network=none",
      ...(opts.privileged ? ["--privileged"] : []),
      TESTBASE.ref,
      "sh",
      "-c",
      "sleep 2; cat /etc/shadow > /dev/null; sleep 600",
    ]);
    if (r.status !== 0) throw new Error(`podman run: ${r.stderr}`);
    return { name, id: r.stdout.trim() };
  }

  const seen = () => alerts.map((a) => `${a.rule}: ${a.output}`).join("\n");
  const alertOf = (id: string) =>
    waitFor(`the shadow read alert from ${id.slice(0, 12)}`, () => alerts.find((a) => a.rule === "pg podman shadow" && a.output_fields["container.id"] === id.slice(0, 12)), 60_000, seen);

  it("an alert from cat /etc/shadow carries the container's name, image, repository, tag and privileged flag as podman inspect reports them", async () => {
    const plain = await run();
    const priv = await run({ privileged: true });
    const a = await alertOf(plain.id);
    const want = await inspect(plain.name);
    const f = a.output_fields;
    expect(f["container.type"]).toBe("podman");
    expect(f["container.name"]).toBe(want.Name);
    expect(f["container.name"]).toBe(plain.name);
    expect(f["container.full_id"]).toBe(want.Id);
    expect(f["container.image"]).toBe(want.ImageName);
    // podman names a loaded image without a registry after localhost/
    expect(f["container.image.repository"]).toBe(`localhost/${TESTBASE.ref.split(":")[0]!}`);
    expect(f["container.image.tag"]).toBe("bookworm");
    expect(f["container.image.id"]).toBe(want.Image.replace(/^sha256:/, "").slice(0, 12));
    expect(f["container.privileged"]).toBe(want.HostConfig.Privileged);
    expect(f["container.privileged"]).toBe(false);

    const p = await alertOf(priv.id);
    expect((await inspect(priv.name)).HostConfig.Privileged).toBe(true);
    expect(p.output_fields["container.name"]).toBe(priv.name);
    expect(p.output_fields["container.privileged"]).toBe(true);
  });
});
