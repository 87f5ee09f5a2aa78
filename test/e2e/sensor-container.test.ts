/**
 * End to end, as root: container-scoped fields without a container runtime. A static test
 * program moves itself into a cgroup named as a container runtime names one (a cgroup v2
 * `docker-<id>.scope`, and a cgroup v1 `/docker/<id>` where v1 controllers are mounted),
 * chroots into a bare root holding its own /etc/passwd and /etc/group, takes an id only
 * that passwd knows, and opens a file. container.id comes from the cgroup name the kernel
 * gives at exec (or, for v1, from /proc/PID/cgroup); user.name and group.name come from the
 * container's files, as Falco resolves them; on the host the same ids are unknown (<NA>).
 * With Falco's stable rules loaded too, the same program inside such a container raises
 * the stable container rules: a connection put on stdin, nc -e, a packet socket, a
 * release_agent written by root, and a binary dropped into the container's overlay and run.
 */
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector, type SyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { buildSensor, FALCO_RULES, isRoot, TESTPROGS } from "../unit/sensor/helpers.js";
import { runsTheSensor } from "../harness/sensor-lock.js";

runsTheSensor();

const run = promisify(execFile);
const UID = 42424;
const GID = 43434;

const RULES = `
- rule: pg test container fields
  desc: the probe's open, for the test
  condition: evt.type in (open, openat) and fd.name=/etc/pg-probe and proc.name=probe
  output: "user=%user.name uid=%user.uid group=%group.name container=%container.id (%proc.name)"
  priority: NOTICE
`;

/** Mount points of cgroup v2 and of one v1 controller hierarchy, from /proc/self/mounts. */
function cgroupMounts(): { v2?: string; v1?: string } {
  const out: { v2?: string; v1?: string } = {};
  for (const line of readFileSync("/proc/self/mounts", "utf8").split("\n")) {
    const [, dir, type, opts] = line.split(" ");
    if (type === "cgroup2" && !out.v2) out.v2 = dir;
    if (type === "cgroup" && !out.v1 && /(^|,)(pids|memory|cpu)(,|$)/.test(opts ?? "")) out.v1 = dir;
  }
  return out;
}

const mounts = isRoot ? cgroupMounts() : {};

describe.skipIf(!isRoot || !mounts.v2)("container fields from cgroups and the container's own files (root)", () => {
  let detector: SyscallDetector;
  const alerts: DetectorAlert[] = [];
  let dir: string;
  let root: string;
  const made: string[] = [];

  beforeAll(async () => {
    buildSensor();
    dir = mkdtempSync(join(tmpdir(), "pg-ctr-"));
    root = join(dir, "root");
    mkdirSync(join(root, "etc"), { recursive: true });
    writeFileSync(join(root, "etc", "passwd"), `root:x:0:0::/:/bin/sh\nghost:x:${UID}:${GID}::/:/bin/sh\n`);
    writeFileSync(join(root, "etc", "group"), `root:x:0:\nghostgrp:x:${GID}:\n`);
    writeFileSync(join(root, "etc", "pg-probe"), "x");
    copyFileSync(join(TESTPROGS, "in-container"), join(root, "probe"));
    const rules = join(dir, "rules.yaml");
    writeFileSync(rules, RULES);
    detector = await startSyscallDetector({
      rulesFiles: [FALCO_RULES, rules],
      // this machine cannot resolve cluster names: the API server is the loopback here
      resolveHost: async (name) => (name === "kubernetes.default.svc.cluster.local" ? ["127.0.0.1"] : []),
      logger: pino({ level: "warn" }), onAlert: (a) => alerts.push(a) });
    await detector.ready;
  });

  afterAll(async () => {
    await detector?.stop();
    for (const d of made.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        // still busy or already gone: the kernel removes nothing by itself, say so
        console.warn(`could not remove test cgroup ${d}`);
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Runs `file` and waits for an alert `ours` finds; the process group is ended after. The
   * probe stays until then ($PG_PROBE_STAY): the detector reads a container's user names
   * through a live process of it, and a loaded machine may evaluate events seconds late.
   */
  async function whileRunning(file: string, args: string[], ours: () => DetectorAlert[]): Promise<void> {
    const child = spawn(file, args, { stdio: "ignore", detached: true, env: { ...process.env, PG_PROBE_STAY: "30" } });
    const exited = once(child, "exit");
    const until = Date.now() + 30_000;
    try {
      while (ours().length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    } finally {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
      await exited;
    }
  }

  /**
   * Runs the probe with its pid written to `procs` ("-": stays on the host) and waits for
   * its alert of `rule`; returns the alert.
   */
  async function probe(
    procs: string,
    action = "/etc/pg-probe",
    rule = "pg test container fields",
    opts: { name?: string; uid?: number; gid?: number; root?: string } = {},
  ): Promise<DetectorAlert> {
    const since = alerts.length;
    const name = opts.name ?? "probe";
    const ours = () => alerts.slice(since).filter((a) => a.rule === rule && a.output_fields["proc.name"] === name);
    // the program may end early, in a refused call or another program's usage error: its events are what count
    await whileRunning(join(TESTPROGS, "in-container"), [procs, opts.root ?? root, String(opts.uid ?? UID), String(opts.gid ?? GID), action], ours);
    // one per event: the reverse shell's two dup2 calls raise two
    expect(ours().map((a) => a.output), `a '${rule}' alert for the probe`).not.toHaveLength(0);
    return ours()[0]!;
  }

  const fields = (a: DetectorAlert) => a.output.replace(/^\S+: \S+ /, "").replace(/ \(probe\)$/, "");

  function cgroup(base: string, ...parts: string[]): string {
    let d = base;
    for (const p of parts) {
      d = join(d, p);
      if (!existsSync(d)) {
        mkdirSync(d);
        made.push(d);
      }
    }
    return join(d, "cgroup.procs");
  }

  it("a cgroup v2 docker-<id>.scope: container.id, and the container's user and group names", async () => {
    const id = randomBytes(32).toString("hex");
    expect(fields(await probe(cgroup(mounts.v2!, `docker-${id}.scope`)))).toBe(`user=ghost uid=${UID} group=ghostgrp container=${id.slice(0, 12)}`);
  });

  it.skipIf(!mounts.v1)("a cgroup v1 /docker/<id> (the kernel's v2 cgroup is the nameless root): the same, from /proc/PID/cgroup", async () => {
    const id = randomBytes(32).toString("hex");
    expect(fields(await probe(cgroup(mounts.v1!, "docker", id)))).toBe(`user=ghost uid=${UID} group=ghostgrp container=${id.slice(0, 12)}`);
  });

  it("the same ids on the host: unknown names, as Falco gives them (<NA>)", async () => {
    expect(fields(await probe("-"))).toBe(`user=<NA> uid=${UID} group=<NA> container=host`);
  });

  /** A fresh container cgroup's cgroup.procs. */
  const container = () => cgroup(mounts.v2!, `docker-${randomBytes(32).toString("hex")}.scope`);

  /**
   * The probe connects to a loopback server from inside a container and `rule` fires; the
   * same from the host must not (both rules are about containers).
   */
  async function connectionRule(rule: string, check: (a: DetectorAlert, port: number) => void): Promise<void> {
    const server = createServer((c) => c.on("error", () => {}));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    try {
      const port = (server.address() as AddressInfo).port;
      check(await probe(container(), `tcp:${port}`, rule), port);
      // the twin runs as root, which tells its alerts from late ones of the container's probe; and
      // connects to this test's port, which tells them from containers other tests run meanwhile
      const since = alerts.length;
      await run(join(TESTPROGS, "in-container"), ["-", root, "0", "0", `tcp:${port}`]);
      await new Promise((r) => setTimeout(r, 1000));
      expect(
        alerts
          .slice(since)
          .filter((x) => x.rule === rule && x.output_fields["user.name"] === "root" && Number(x.output_fields["fd.rport"]) === port)
          .map((x) => x.output),
      ).toEqual([]);
    } finally {
      server.close();
    }
  }

  it("a connection put on stdin inside the container: Redirect STDOUT/STDIN to Network Connection in Container; on the host: nothing", async () => {
    await connectionRule("Redirect STDOUT/STDIN to Network Connection in Container", (a, port) =>
      expect(a.output_fields).toMatchObject({ "evt.type": "dup2", "fd.type": "ipv4", "fd.rport": port, "user.name": "ghost", "proc.name": "probe" }),
    );
  });

  it("nc -e inside the container: Netcat Remote Code Execution in Container", async () => {
    copyFileSync(join(TESTPROGS, "in-container"), join(root, "nc"));
    const a = await probe(container(), "exec:/nc,-e,/bin/sh", "Netcat Remote Code Execution in Container", { name: "nc" });
    // probe replaced its own image with nc: same process, same parent
    expect(a.output_fields).toMatchObject({ "proc.cmdline": "nc -e /bin/sh", "evt.type": "execve" });
  });

  it("a packet socket inside the container: Packet socket created in container", async () => {
    const a = await probe(container(), "packet", "Packet socket created in container");
    expect(a.output_fields).toMatchObject({ "evt.type": "socket", "user.name": "ghost" });
  });

  it("root writing a release_agent file inside the container: Detect release_agent File Container Escapes", async () => {
    const a = await probe(container(), "write:/release_agent", "Detect release_agent File Container Escapes", { uid: 0, gid: 0 });
    expect(a.output_fields).toMatchObject({ "fd.name": "/release_agent", "user.uid": 0 });
  });

  it("a binary written into the container's overlay and run: Drop and execute new binary in container", async () => {
    // the container's root is an overlay: its image below, the container's writes above
    const ov = mkdtempSync(join(tmpdir(), "pg-ctr-ov-"));
    for (const d of ["upper", "work", "merged"]) mkdirSync(join(ov, d));
    const merged = join(ov, "merged");
    await run("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${root},upperdir=${ov}/upper,workdir=${ov}/work`, merged]);
    try {
      copyFileSync(join(TESTPROGS, "in-container"), join(merged, "dropped")); // written through the overlay: upper layer
      const a = await probe(container(), "exec:/dropped,x", "Drop and execute new binary in container", { name: "dropped", root: merged });
      // an exec path is named from the host's root (docs/detector.md, Limits)
      expect(a.output_fields["proc.exepath"]).toBe(join(merged, "dropped"));
      // /probe itself comes from the image (the lower layer): no alert for it
      expect(alerts.filter((x) => x.rule === a.rule && x.output_fields["proc.name"] === "probe").map((x) => x.output)).toEqual([]);
    } finally {
      await run("umount", [merged]);
      rmSync(ov, { recursive: true, force: true });
    }
  });

  it("root loading a module inside the container: Linux Kernel Module Injection Detected", async () => {
    const a = await probe(container(), "module:/etc/pg-probe", "Linux Kernel Module Injection Detected", { uid: 0, gid: 0 });
    expect(a.output_fields).toMatchObject({ "evt.type": "finit_module", "user.name": "root" });
  });

  it("a shell on a terminal, started by the container runtime: Terminal shell in container", async () => {
    // the runtime's process is named exe (runc re-executing itself); script gives the terminal
    const exe = join(dir, "exe");
    copyFileSync("/bin/sh", exe);
    copyFileSync(join(TESTPROGS, "in-container"), join(root, "sh"));
    const procs = container();
    const since = alerts.length;
    // "sh" is the probe again: it opens a file and stays, as a shell would
    const inner = `${join(TESTPROGS, "in-container")} ${procs} ${root} ${UID} ${GID} exec:/sh,--inside,${UID},${GID},/etc/pg-probe; true`;
    const ours = () => alerts.slice(since).filter((x) => x.rule === "Terminal shell in container" && x.output_fields["proc.name"] === "sh");
    await whileRunning("script", ["-qec", `${exe} -c '${inner}'`, "/dev/null"], ours);
    expect(ours().map((x) => x.output)).toHaveLength(1);
    expect(ours()[0]!.output_fields).toMatchObject({ "proc.pname": "exe", "user.name": "ghost" });
    expect(Number(ours()[0]!.output_fields["proc.tty"])).toBeGreaterThan(0);
  });

  it("a connection to the Kubernetes API server from the container: Contact K8S API Server From Container; from the host: nothing", async () => {
    await connectionRule("Contact K8S API Server From Container", (a, port) =>
      expect(a.output_fields).toMatchObject({ "evt.type": "connect", "fd.rport": port }),
    );
  });
});
