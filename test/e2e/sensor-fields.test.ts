/**
 * Exec-time fields the kernel side captures, checked against the truth the test arranges:
 * a binary from an overlayfs lower layer versus one copied up into the upper layer, the
 * working directory, the executable's inode times, session and capabilities. A small rules
 * file of our own prints the fields.
 */
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector, type SyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { buildSensor, isRoot } from "../unit/sensor/helpers.js";
import { runsTheSensor } from "../harness/sensor-lock.js";

runsTheSensor();

const RULES = `
- rule: pg test exec
  desc: every exec under the test directory
  condition: evt.type in (execve, execveat) and proc.exepath contains "pg-fields-"
  output: >
    exec upper=%proc.is_exe_upper_layer memfd=%proc.is_exe_from_memfd cwd=%proc.cwd
    mtime=%proc.exe_ino.mtime pid=%proc.pid sid=%proc.sid caps=%thread.cap_effective flags=%evt.arg.flags
    prm=%thread.cap_permitted inh=%thread.cap_inheritable
    exe=%proc.exe args=%proc.args cmd=%proc.cmdline container=%container.id
    mark=%proc.env[PG_FIELDS_MARK] env=%proc.env
  priority: NOTICE
`;

describe.skipIf(!isRoot)("exec fields from the kernel (root)", () => {
  let detector: SyscallDetector;
  const alerts: DetectorAlert[] = [];
  let dir: string;
  let merged: string;

  beforeAll(async () => {
    buildSensor();
    dir = mkdtempSync(join(tmpdir(), "pg-fields-"));
    for (const d of ["lower", "upper", "work", "merged"]) mkdirSync(join(dir, d));
    copyFileSync("/bin/true", join(dir, "lower", "from-lower"));
    merged = join(dir, "merged");
    execFileSync("mount", ["-t", "overlay", "overlay", "-o", `lowerdir=${dir}/lower,upperdir=${dir}/upper,workdir=${dir}/work`, merged]);
    copyFileSync("/bin/true", join(merged, "from-upper")); // written through the overlay: upper layer
    execFileSync("chmod", ["+x", join(merged, "from-upper")]);
    const rules = join(dir, "rules.yaml");
    writeFileSync(rules, RULES);
    detector = await startSyscallDetector({ rulesFiles: [rules], logger: pino({ level: "warn" }), onAlert: (a) => alerts.push(a) });
    await detector.ready;
  });

  afterAll(async () => {
    await detector?.stop();
    if (merged) execFileSync("umount", [merged]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function execAlert(path: string, args: string[] = []): Promise<DetectorAlert> {
    execFileSync("sh", ["-c", `cd ${dir} && ${path} ${args.join(" ")}`]);
    const end = Date.now() + 30_000;
    for (;;) {
      const a = alerts.find((x) => x.output_fields["proc.exe"] === path);
      if (a) return a;
      if (Date.now() > end) throw new Error(`no exec alert for ${path}: ${JSON.stringify(alerts.map((x) => x.output))}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  it("a binary from the overlay's lower layer is not upper-layer; one copied in is", async () => {
    const lower = await execAlert(join(merged, "from-lower"), ["a", "b"]);
    expect(lower.output_fields).toMatchObject({
      "proc.is_exe_upper_layer": false,
      "proc.is_exe_from_memfd": false,
      "proc.cwd": `${dir}/`,
      "proc.args": "a b",
      "proc.cmdline": "from-lower a b",
      "container.id": "host",
    });
    const upper = await execAlert(join(merged, "from-upper"));
    expect(upper.output_fields["proc.is_exe_upper_layer"]).toBe(true);
    expect(String(upper.output_fields["evt.arg.flags"])).toContain("EXE_UPPER_LAYER");
  });

  it("the environment at exec: proc.env and proc.env[NAME]", async () => {
    const path = join(merged, "from-lower");
    execFileSync("sh", ["-c", `PG_FIELDS_MARK=seen-${process.pid} ${path} with-env`]);
    const end = Date.now() + 30_000;
    let a: DetectorAlert | undefined;
    while (!(a = alerts.find((x) => x.output_fields["proc.exe"] === path && x.output_fields["proc.args"] === "with-env")) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!a) throw new Error("no exec alert for the run with an environment");
    expect(a.output_fields["proc.env[PG_FIELDS_MARK]"]).toBe(`seen-${process.pid}`);
    expect(String(a.output_fields["proc.env"])).toContain(`PG_FIELDS_MARK=seen-${process.pid}`);
    expect(String(a.output_fields["proc.env"])).toContain(`PATH=${process.env.PATH}`);
  });

  it("detector priority: a rule below it is loaded but never evaluated, so its syscalls are not captured", async () => {
    const quiet = await startSyscallDetector({
      rulesFiles: [join(dir, "rules.yaml")],
      minimumPriority: "Warning",
      logger: pino({ level: "warn" }),
      onAlert: () => {},
    });
    try {
      await quiet.ready;
      expect(quiet.ruleset.rules.map((r) => r.name)).toEqual(["pg test exec"]);
      expect(quiet.syscalls).not.toContain("execve");
      expect(detector.syscalls).toContain("execve"); // the same rules without the floor
    } finally {
      await quiet.stop();
    }
  });

  it("inode times, session and capabilities match the system's view", async () => {
    const path = join(merged, "from-lower");
    // A session of its own, so the expected id is known: the shell leads it and execs the
    // binary in place (a runner's own session may be 0 where init never called setsid).
    const leader = Number(execFileSync("setsid", ["sh", "-c", `echo $$; cd ${dir} && exec ${path} own-session`]).toString().trim());
    expect(leader).toBeGreaterThan(0);
    const end = Date.now() + 30_000;
    let a: DetectorAlert | undefined;
    while (!(a = alerts.find((x) => x.output_fields["proc.exe"] === path && x.output_fields["proc.args"] === "own-session")) && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!a) throw new Error(`no exec alert for ${path} own-session`);
    const st = statSync(path, { bigint: true });
    expect(BigInt(a.output_fields["proc.exe_ino.mtime"] as number)).toBe(BigInt(Number(st.mtimeNs)));
    // The leader exec'd the binary in place, so the session id is the process's own pid
    // (compared in the sensor's namespace view, which need not be the test's).
    expect(a.output_fields["proc.sid"]).toBeGreaterThan(0);
    expect(a.output_fields["proc.sid"]).toBe(a.output_fields["proc.pid"]);
    expect(String(a.output_fields["thread.cap_effective"])).toContain("CAP_SYS_ADMIN");
    // the system's view of the same sets: this test process's, which the exec inherited as root
    const status = readFileSync("/proc/self/status", "utf8");
    const capSet = (name: string) => BigInt(`0x${new RegExp(`\\n${name}:\\s*([0-9a-f]+)`).exec(status)![1]}`);
    expect(capSet("CapPrm")).toBeGreaterThan(0n);
    expect(String(a.output_fields["thread.cap_permitted"])).toContain("CAP_SYS_ADMIN");
    expect(a.output_fields["thread.cap_inheritable"] === "" || a.output_fields["thread.cap_inheritable"] === undefined).toBe(capSet("CapInh") === 0n);
  });
});
