/**
 * As root, with Falco's stable and incubating rules loaded together: a rule that reads the
 * process environment (proc.env) fires on a real exec that carries the variable, and stays
 * silent for the same exec without it. And the kernel-side open filter, which these rules
 * leave on with two process names: a rule that knows only the process's name (sshd) and a
 * substring of the path still sees that process's opens, while another process's opens of
 * the same file stay in the kernel. And two rules that read arguments as Falco renders them:
 * chmod's mode by bit names (S_ISUID), setuid's uid by user name. And the namespace and
 * bpf syscalls two of them watch (setns, bpf(BPF_PROG_LOAD)).
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector, type SyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { buildSensor, FALCO_INCUBATING_RULES, FALCO_RULES, isRoot, TESTPROGS } from "../unit/sensor/helpers.js";
import { runsTheSensor } from "../harness/sensor-lock.js";

runsTheSensor();

const RULE = "Potential Local Privilege Escalation via Environment Variables Misuse";

describe.skipIf(!isRoot)("incubating rules on the live host (root)", () => {
  let detector: SyscallDetector;
  const alerts: { at: number; alert: DetectorAlert }[] = [];
  const marker = `pginc${process.pid}`;

  beforeAll(async () => {
    buildSensor();
    detector = await startSyscallDetector({
      rulesFiles: [FALCO_RULES, FALCO_INCUBATING_RULES],
      logger: pino({ level: "warn" }),
      onAlert: (alert) => alerts.push({ at: Date.now(), alert }),
    });
    await detector.ready;
  });

  afterAll(async () => {
    await detector?.stop();
  });

  const ours = (since: number) =>
    alerts.filter((x) => x.at >= since && x.alert.rule === RULE && String(x.alert.output_fields["proc.cmdline"]).includes(marker));

  it("GLIBC_TUNABLES in a new process's environment: the proc.env rule fires; without it: nothing", async () => {
    const t = Date.now();
    execFileSync("sh", ["-c", `GLIBC_TUNABLES=glibc.malloc.check=0 /bin/echo ${marker} > /dev/null`]);
    const end = t + 2000;
    while (ours(t).length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    const [hit] = ours(t);
    expect(hit, "no alert within 30 s").toBeDefined();
    expect(hit!.alert.output_fields).toMatchObject({ "proc.name": "echo", "proc.pname": "sh", "evt.type": "execve" });
    expect(String(hit!.alert.output_fields["proc.env"])).toContain("GLIBC_TUNABLES=glibc.malloc.check=0");

    const t2 = Date.now();
    execFileSync("sh", ["-c", `/bin/echo ${marker} > /dev/null`]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(ours(t2).filter((x) => Date.parse(x.alert.time) >= t2 - 1).map((x) => x.alert.output)).toEqual([]);
  });

  it("the open filter keeps a named process's opens: a copy of cat named sshd reading liblzma.so.5.6.1", async () => {
    expect(detector.openFilter).toContain("@sshd");
    const dir = mkdtempSync(join(tmpdir(), "pg-sshd-"));
    try {
      const lib = join(dir, "liblzma.so.5.6.1");
      writeFileSync(lib, "x");
      copyFileSync("/bin/cat", join(dir, "sshd"));
      execFileSync("chmod", ["+x", join(dir, "sshd")]);
      const backdoor = () => alerts.filter((x) => x.alert.rule === "Backdoored library loaded into SSHD (CVE-2024-3094)" && x.alert.output_fields["fd.name"] === lib);
      const before = detector.stats();
      execFileSync("cat", [lib]); // not sshd: no rule can match, the open stays in the kernel
      execFileSync(join(dir, "sshd"), [lib]);
      const end = Date.now() + 30_000;
      while (backdoor().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      expect(backdoor().map((x) => x.alert.output_fields["proc.name"])).toEqual(["sshd"]);
      const filtered = (s: typeof before) => Object.values(s.sensorFiltered).reduce((a, b) => a + b, 0);
      // stats frames come about once a second; on a busy machine later
      const statsEnd = Date.now() + 30_000;
      while (filtered(detector.stats()) <= filtered(before) && Date.now() < statsEnd) await new Promise((r) => setTimeout(r, 50));
      expect(filtered(detector.stats())).toBeGreaterThan(filtered(before));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  /** Alerts of `rule` since `since` that `match` accepts, after waiting up to `wait` ms for one. */
  async function waitAlerts(rule: string, since: number, match: (a: DetectorAlert) => boolean, wait = 30_000): Promise<DetectorAlert[]> {
    const hits = () => alerts.filter((x) => x.at >= since && x.alert.rule === rule && match(x.alert)).map((x) => x.alert);
    const end = Date.now() + wait;
    while (hits().length === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return hits();
  }

  it("chmod u+s: Set Setuid or Setgid bit, its mode named by bits; chmod 644: nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-suid-"));
    try {
      const file = join(dir, `${marker}-bin`);
      writeFileSync(file, "x");
      const rule = "Set Setuid or Setgid bit";
      const t = Date.now();
      execFileSync("chmod", ["u+s", file]);
      const [hit] = await waitAlerts(rule, t, (a) => a.output_fields["evt.arg.filename"] === file);
      expect(hit, "no alert within 30 s").toBeDefined();
      expect(hit!.output_fields).toMatchObject({ "proc.name": "chmod", "evt.type": "fchmodat" });
      expect(String(hit!.output_fields["evt.arg.mode"])).toContain("S_ISUID");

      const t2 = Date.now();
      execFileSync("chmod", ["644", file]);
      // the twin's own command line: the first action's alert may be handed over late
      expect(await waitAlerts(rule, t2, (a) => a.output_fields["proc.cmdline"] === `chmod 644 ${file}`, 1500)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("setuid by a non-root program: Non sudo setuid names the target user; nobody becoming nobody: nothing", async () => {
    const rule = "Non sudo setuid";
    const prog = join(TESTPROGS, "setuid-as");
    const t = Date.now();
    execFileSync(prog, ["65534", "0"]); // refused (EPERM), and still the attempt the rule is about
    const [hit] = await waitAlerts(rule, t, (a) => a.output_fields["proc.name"] === "setuid-as");
    expect(hit, "no alert within 30 s").toBeDefined();
    expect(hit!.output_fields).toMatchObject({ "evt.arg.uid": "root", "user.name": "nobody", "evt.type": "setuid" });

    const t2 = Date.now();
    execFileSync(prog, ["65534", "65534"]); // somebody_becoming_themselves: evt.arg.uid=nobody
    expect(await waitAlerts(rule, t2, (a) => a.output_fields["proc.cmdline"] === "setuid-as 65534 65534", 1500)).toEqual([]);
  });

  it("setns by an unexpected program: Change thread namespace; bpf(BPF_PROG_LOAD): BPF Program Not Profiled", async () => {
    const t = Date.now();
    execFileSync(join(TESTPROGS, "ns-bpf"));
    const [setns] = await waitAlerts("Change thread namespace", t, (a) => a.output_fields["proc.name"] === "ns-bpf");
    expect(setns, "no setns alert within 2 s").toBeDefined();
    expect(setns!.output_fields).toMatchObject({ "evt.type": "setns", "user.name": "root" });
    const [bpf] = await waitAlerts("BPF Program Not Profiled", t, (a) => a.output_fields["proc.name"] === "ns-bpf");
    expect(bpf, "no bpf alert within 2 s").toBeDefined();
    expect(bpf!.output_fields).toMatchObject({ "evt.type": "bpf", "evt.arg.cmd": "BPF_PROG_LOAD" });
  });
});
