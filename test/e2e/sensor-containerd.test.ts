/**
 * End to end, as root, with containers made by `ctr` (containerd's own API, no CRI, no
 * kubelet) in the harness's `containerd-solo` service, in a namespace of their own: the
 * detector asks the CRI API first (which does not know them) and then containerd's own API,
 * and the alert from `cat /etc/shadow` carries the container's name (nerdctl's name label),
 * image, repository, tag, digest, privileged flag, labels and mounts as `ctr` reports them.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerEnginesConfig } from "../../src/detector/metadata/engines.js";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector, type SyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { TESTBASE } from "../harness/images/images.js";
import { runCommand } from "../harness/run-command.js";
import { runsTheSensor } from "../harness/sensor-lock.js";
import { services } from "../harness/services.js";
import { CONTAINERD_SOLO_SOCKET } from "../harness/services/containerd.js";
import { buildSensor, isRoot, waitFor } from "../unit/sensor/helpers.js";

const NAMESPACE = "pg-ctr";
const CGROUP_PARENT = "pg-ctr";

const RULES = `
- rule: pg ctr shadow
  desc: the test's read of /etc/shadow in a container made with ctr
  condition: evt.type in (open, openat, openat2) and fd.name=/etc/shadow and container.id != host and proc.name=cat
  output: >-
    shadow read in %container.id name=%container.name image=%container.image type=%container.type privileged=%container.privileged
    full=%container.full_id repo=%container.image.repository tag=%container.image.tag digest=%container.image.digest
    tier=%container.label[tier] labels=%container.labels data=%container.mount.source[/data] mounts=%container.mounts
    hostpid=%container.host_pid hostipc=%container.host_ipc hostnet=%container.host_network start=%container.start_ts
  priority: NOTICE
`;

async function ctr(args: string[]): Promise<string> {
  const r = await runCommand("ctr", ["--address", CONTAINERD_SOLO_SOCKET, "--namespace", NAMESPACE, ...args], { timeoutMs: 180_000 });
  if (r.status !== 0) throw new Error(`ctr ${args.join(" ")}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

interface CtrInfo {
  ID: string;
  Image: string;
  Labels: Record<string, string>;
  Spec: { mounts: { destination: string; source: string; options?: string[] }[] };
}

runsTheSensor();

describe.skipIf(!isRoot)("container metadata from containerd's own API, containers made with ctr (root)", () => {
  let detector: SyscallDetector;
  const alerts: DetectorAlert[] = [];
  let dir: string;
  const made: string[] = [];

  beforeAll(async () => {
    buildSensor();
    await services.start("containerd-solo");
    // the image in a namespace of the test's own (the CRI plugin's k8s.io is not where ctr users work)
    const have = await ctr(["images", "ls", "-q"]);
    if (!have.split("\n").includes(TESTBASE.fullRef)) await ctr(["images", "import", TESTBASE.tarball]);
    dir = mkdtempSync(join(tmpdir(), "pg-ctr-"));
    const rules = join(dir, "rules.yaml");
    writeFileSync(rules, RULES);
    detector = await startSyscallDetector({
      rulesFiles: [rules],
      containerEngines: containerEnginesConfig({
        docker: { enabled: false },
        podman: { enabled: false },
        // asked first, and does not know containers made outside Kubernetes
        cri: { enabled: true, sockets: [CONTAINERD_SOLO_SOCKET] },
        containerd: { enabled: true, sockets: [CONTAINERD_SOLO_SOCKET] },
      }),
      logger: pino({ level: "warn" }),
      onAlert: (a) => alerts.push(a),
    });
    await detector.ready;
  }, 600_000);

  afterAll(async () => {
    await detector?.stop();
    for (const id of made) {
      await ctr(["tasks", "rm", "--force", id]).catch(() => undefined);
      await ctr(["containers", "rm", id]).catch(() => undefined);
    }
    for (const ctl of readdirSync("/sys/fs/cgroup")) {
      try {
        rmdirSync(join("/sys/fs/cgroup", ctl, CGROUP_PARENT));
      } catch {
        // not made in this hierarchy, or still busy
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** `ctr run --detach` of a container that waits 2 s (its first events start the lookup), reads /etc/shadow and stays. */
  async function run(name: string, opts: { privileged?: boolean } = {}): Promise<string> {
    const id = randomBytes(32).toString("hex");
    made.push(id);
    await ctr([
      "run",
      "--detach",
      "--cgroup",
      `/${CGROUP_PARENT}/${id}`,
      "--label",
      `nerdctl/name=${name}`,
      "--label",
      "tier=backend",
      "--mount",
      `type=bind,src=${dir},dst=/data,options=rbind:ro`,
      ...(opts.privileged ? ["--privileged"] : []),
      TESTBASE.fullRef,
      id,
      "sh",
      "-c",
      "sleep 2; cat /etc/shadow > /dev/null; sleep 600",
    ]);
    return id;
  }

  const seen = () => alerts.map((a) => `${a.rule}: ${a.output}`).join("\n");

  it("an alert from cat /etc/shadow carries the container's name, image, repository, tag, digest, labels and mounts as ctr reports them; privileged is told apart", async () => {
    const plain = await run("pg-reader");
    const priv = await run("pg-reader-priv", { privileged: true });
    const alertOf = (id: string) =>
      waitFor(`the shadow read alert from ${id.slice(0, 12)}`, () => alerts.find((a) => a.rule === "pg ctr shadow" && a.output_fields["container.id"] === id.slice(0, 12)), 60_000, seen);
    const a = await alertOf(plain);
    const want = JSON.parse(await ctr(["containers", "info", plain])) as CtrInfo;
    const f = a.output_fields;
    expect(f["container.type"]).toBe("containerd");
    expect(f["container.name"]).toBe("pg-reader");
    expect(f["container.name"]).toBe(want.Labels["nerdctl/name"]);
    expect(f["container.image"]).toBe(want.Image);
    expect(f["container.image"]).toBe(TESTBASE.fullRef);
    expect(f["container.privileged"]).toBe(false);

    expect(f["container.full_id"]).toBe(plain);
    expect(f["container.image.repository"]).toBe("docker.io/peregrine/testbase");
    expect(f["container.image.tag"]).toBe("bookworm");
    const digest = (await ctr(["images", "ls"])).split("\n").find((l) => l.startsWith(`${TESTBASE.fullRef} `))?.split(/\s+/)[2];
    expect(digest).toMatch(/^sha256:/);
    expect(f["container.image.digest"]).toBe(digest);
    expect(f["container.label[tier]"]).toBe("backend");
    expect(String(f["container.labels"]).split(",").sort()).toEqual(Object.entries(want.Labels).map(([k, v]) => `${k}:${v}`).sort());
    const data = want.Spec.mounts.find((m) => m.destination === "/data")!;
    expect(f["container.mount.source[/data]"]).toBe(data.source);
    expect(String(f["container.mounts"]).split(" ")).toHaveLength(want.Spec.mounts.length);
    expect(String(f["container.mounts"])).toContain(`${data.source}:/data::false:`);
    // ctr's defaults: new pid, ipc and network namespaces
    expect([f["container.host_pid"], f["container.host_ipc"], f["container.host_network"]]).toEqual([false, false, false]);
    expect(Number(f["container.start_ts"])).toBeGreaterThan(0);

    const p = await alertOf(priv);
    expect(p.output_fields["container.name"]).toBe("pg-reader-priv");
    expect(p.output_fields["container.privileged"]).toBe(true);
    const st = detector.stats().containers!;
    expect(st.latencyMs["containerd"]?.count).toBeGreaterThan(0);
  });
});
