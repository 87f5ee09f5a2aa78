/**
 * End to end, as root: more of Falco's stable rules on this host, each from a real action
 * and each with a benign twin that must stay silent. (sensor-detections.test.ts holds the
 * ones the detector was first built against; sensor-container.test.ts the container ones.)
 */
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector, type SyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { buildSensor, FALCO_RULES, isRoot, TESTPROGS } from "../unit/sensor/helpers.js";
import { runsTheSensor } from "../harness/sensor-lock.js";

runsTheSensor();

const QUIET_MS = 1500;

describe.skipIf(!isRoot)("more stable Falco rules on the live host (root)", () => {
  let detector: SyscallDetector;
  const alerts: { at: number; alert: DetectorAlert }[] = [];
  let dir: string;

  beforeAll(async () => {
    buildSensor();
    dir = mkdtempSync(join(tmpdir(), "pg-stable-"));
    chmodSync(dir, 0o755); // a system user runs programs from here
    detector = await startSyscallDetector({
      rulesFiles: [FALCO_RULES],
      ruleMatching: "all",
      logger: pino({ level: "warn" }),
      onAlert: (alert) => alerts.push({ at: Date.now(), alert }),
    });
    await detector.ready;
  });

  afterAll(async () => {
    await detector?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Alerts of `rule` since `since` that `match` accepts, after waiting up to `wait` ms for one.
   * A benign twin's matcher names the twin's own command line: the first action's alert can
   * be handed over after the twin started.
   */
  async function hits(rule: string, since: number, match: (a: DetectorAlert) => boolean, wait = 30_000): Promise<DetectorAlert[]> {
    const found = () => alerts.filter((x) => x.at >= since && x.alert.rule === rule && match(x.alert)).map((x) => x.alert);
    const end = Date.now() + wait;
    while (found().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return found();
  }

  /** A copy of `binary` in the test directory under `name`. */
  function named(binary: string, name: string): string {
    const path = join(dir, name);
    copyFileSync(binary, path);
    chmodSync(path, 0o755);
    return path;
  }

  const run = (file: string, args: string[]) => {
    try {
      execFileSync(file, args, { stdio: "ignore" });
    } catch {
      // a failing command still made its syscalls; the rules are about those
    }
  };

  it("a traversal to /etc from a program (not a shell): Directory traversal monitored file read; a plain path: nothing", async () => {
    const rule = "Directory traversal monitored file read";
    const t = Date.now();
    run("cat", ["/tmp/../tmp/../etc/hostname"]);
    const [a] = await hits(rule, t, (x) => x.output_fields["proc.name"] === "cat");
    expect(a, "no alert within 30 s").toBeDefined();
    expect(a!.output_fields).toMatchObject({ "fd.name": "/etc/hostname", "fd.nameraw": "/tmp/../tmp/../etc/hostname" });

    const t2 = Date.now();
    run("cat", ["/etc/hostname"]);
    expect(await hits(rule, t2, (x) => x.output_fields["proc.cmdline"] === "cat /etc/hostname", QUIET_MS)).toEqual([]);
  });

  it("a web server reading /etc/shadow after 5 s: Read sensitive file trusted after startup; at once: not this rule", async () => {
    const rule = "Read sensitive file trusted after startup";
    const nginx = named("/bin/sh", "nginx"); // a shell named nginx: it reads by redirection, itself
    const t = Date.now();
    run(nginx, ["-c", "sleep 5.5; read x < /etc/shadow"]);
    const [a] = await hits(rule, t, (x) => x.output_fields["proc.exepath"] === nginx);
    expect(a, "no alert within 30 s").toBeDefined();
    expect(a!.output_fields).toMatchObject({ "fd.name": "/etc/shadow", "proc.name": "nginx" });

    const t2 = Date.now();
    run(nginx, ["-c", "read x < /etc/shadow"]);
    expect(await hits(rule, t2, (x) => x.output_fields["proc.cmdline"] === "nginx -c read x < /etc/shadow", QUIET_MS)).toEqual([]);
  }, 15_000);

  it("a shell spawned under a web server: Run shell untrusted; under another program: nothing", async () => {
    const rule = "Run shell untrusted";
    const nginx = named("/bin/sh", "nginx");
    const t = Date.now();
    run(nginx, ["-c", "sh -c true; true"]); // the second command keeps nginx from exec'ing the first
    const [a] = await hits(rule, t, (x) => x.output_fields["proc.pname"] === "nginx");
    expect(a, "no alert within 30 s").toBeDefined();
    expect(a!.output_fields).toMatchObject({ "proc.name": "sh", "proc.cmdline": "sh -c true" });

    const worker = named("/bin/sh", "worker");
    const t2 = Date.now();
    run(worker, ["-c", "sh -c true; true"]);
    expect(await hits(rule, t2, (x) => x.output_fields["proc.pname"] === "worker", QUIET_MS)).toEqual([]);
  });

  it("shred: Remove Bulk Data from Disk; rm: nothing", async () => {
    const rule = "Remove Bulk Data from Disk";
    const victim = join(dir, "data");
    writeFileSync(victim, "x".repeat(4096));
    const t = Date.now();
    run("shred", ["-u", victim]);
    const [a] = await hits(rule, t, (x) => String(x.output_fields["proc.cmdline"]).includes(victim));
    expect(a, "no alert within 30 s").toBeDefined();
    expect(a!.output_fields).toMatchObject({ "proc.name": "shred" });

    writeFileSync(victim, "x");
    const t2 = Date.now();
    run("rm", [victim]);
    expect(await hits(rule, t2, (x) => x.output_fields["proc.cmdline"] === `rm ${victim}`, QUIET_MS)).toEqual([]);
  });

  it("find for .aws/credentials: Find AWS Credentials; find for another name: nothing", async () => {
    const rule = "Find AWS Credentials";
    const t = Date.now();
    run("find", [dir, "-path", "*.aws/credentials"]);
    const [a] = await hits(rule, t, (x) => String(x.output_fields["proc.cmdline"]).includes(dir));
    expect(a, "no alert within 30 s").toBeDefined();
    expect(a!.output_fields).toMatchObject({ "proc.name": "find" });

    const t2 = Date.now();
    run("find", [dir, "-path", "*.config/settings"]);
    expect(await hits(rule, t2, (x) => String(x.output_fields["proc.cmdline"]).includes("*.config/settings"), QUIET_MS)).toEqual([]);
  });

  it("PTRACE_TRACEME: PTRACE anti-debug attempt; a plain fork: nothing", async () => {
    const rule = "PTRACE anti-debug attempt";
    const prog = join(TESTPROGS, "ptrace-attach");
    const t = Date.now();
    run(prog, ["traceme"]);
    const [a] = await hits(rule, t, (x) => x.output_fields["proc.name"] === "ptrace-attach");
    expect(a, "no alert within 30 s").toBeDefined();
    expect(a!.output_fields).toMatchObject({ "evt.type": "ptrace" });

    const t2 = Date.now();
    run(prog, ["none"]);
    expect(await hits(rule, t2, (x) => x.output_fields["proc.cmdline"] === "ptrace-attach none", QUIET_MS)).toEqual([]);
  });

  it("a system user running login: System user interactive; a regular program as that user: nothing", async () => {
    const rule = "System user interactive";
    const login = named("/bin/true", "login");
    const t = Date.now();
    run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", login]);
    const [a] = await hits(rule, t, (x) => x.output_fields["proc.exepath"] === login);
    expect(a, "no alert within 30 s").toBeDefined();
    expect(a!.output_fields).toMatchObject({ "user.name": "nobody", "proc.name": "login" });

    const other = named("/bin/true", "report");
    const t2 = Date.now();
    run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", other]);
    expect(await hits(rule, t2, (x) => x.output_fields["proc.exepath"] === other, QUIET_MS)).toEqual([]);
  });
});
