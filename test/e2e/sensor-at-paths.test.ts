/**
 * End to end, as root: relative path arguments resolve as Falco's evt.arg does, against the
 * cwd or against the directory descriptor the call names, including a descriptor whose open
 * the kernel-side filter left in the kernel (the sensor then sends its path with the event).
 * Without this, `cd /etc && ln shadow /tmp/x` or a linkat through a descriptor of /etc would
 * slip past the stable rule "Create Hardlink Over Sensitive Files", which Falco raises.
 * sensor/testprogs/at-dirfd.c performs the descriptor steps; a small rules file names the
 * resolved arguments of the other *at calls.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { buildSensor, FALCO_RULES, isRoot, TESTPROGS, waitFor } from "../unit/sensor/helpers.js";
import { runsTheSensor } from "../harness/sensor-lock.js";

runsTheSensor();

const AT_RULES = `
- rule: Test at-call paths
  desc: the resolved path arguments of the *at calls, for the test
  condition: evt.type in (renameat, symlinkat, mkdirat, fchmodat, unlinkat) and proc.name=at-dirfd
  output: "%evt.type old=%evt.arg.oldpath new=%evt.arg.newpath link=%evt.arg.linkpath path=%evt.arg.path file=%evt.arg.filename name=%evt.arg.name"
  priority: NOTICE
`;


describe.skipIf(!isRoot)("relative path arguments (root)", () => {
  let work: string;
  let rulesFile: string;

  beforeAll(() => {
    buildSensor();
    work = mkdtempSync(join(tmpdir(), "pg-at-"));
    rulesFile = join(work, "at_rules.yaml");
    writeFileSync(rulesFile, AT_RULES);
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  for (const kernelFilter of [true, false]) {
    it(`resolves against the cwd and against dirfds, kernel filter ${kernelFilter ? "on" : "off"}`, async () => {
      const alerts: DetectorAlert[] = [];
      const detector = await startSyscallDetector({
        rulesFiles: [FALCO_RULES, rulesFile],
        kernelFilter,
        logger: pino({ level: "warn" }),
        onAlert: (a) => alerts.push(a),
      });
      const debug = () => alerts.map((a) => `${a.rule}: ${a.output}`).join("\n") || "(no alerts)";
      try {
        await detector.ready;
        const dir = join(work, kernelFilter ? "on" : "off");
        execFileSync("mkdir", [dir]);

        // ln from /etc by a relative name: linkat(AT_FDCWD, "shadow", AT_FDCWD, ...)
        const fromCwd = join(dir, "from-cwd");
        execFileSync("sh", ["-c", `cd /etc && ln shadow ${fromCwd} && rm ${fromCwd}`]);
        const lnAlert = await waitFor(
          "the hard link made from /etc",
          () => alerts.find((a) => a.rule === "Create Hardlink Over Sensitive Files" && a.output_fields["evt.arg.newpath"] === fromCwd),
          30_000,
          debug,
        );
        expect(lnAlert.output_fields).toMatchObject({ "evt.arg.oldpath": "/etc/shadow", "proc.name": "ln", "evt.type": "linkat" });

        // the same through a descriptor of /etc, then the other *at calls through one of `dir`
        const out = execFileSync(join(TESTPROGS, "at-dirfd"), [dir], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        expect(out).toBe("");
        const viaFd = await waitFor(
          "the hard link made through a descriptor of /etc",
          () => alerts.find((a) => a.rule === "Create Hardlink Over Sensitive Files" && a.output_fields["proc.name"] === "at-dirfd"),
          30_000,
          debug,
        );
        expect(viaFd.output_fields).toMatchObject({ "evt.arg.oldpath": "/etc/shadow", "evt.arg.newpath": join(dir, "hard") });

        const at = () => alerts.filter((a) => a.rule === "Test at-call paths").map((a) => a.output.replace(/^\S+: \S+ /, ""));
        const expected = [
          `renameat old=${dir}/hard new=${dir}/moved link=<NA> path=<NA> file=<NA> name=<NA>`,
          `symlinkat old=<NA> new=<NA> link=${dir}/sym path=<NA> file=<NA> name=<NA>`,
          `mkdirat old=<NA> new=<NA> link=<NA> path=${dir}/d file=<NA> name=<NA>`,
          `fchmodat old=<NA> new=<NA> link=<NA> path=<NA> file=${dir}/moved name=<NA>`,
          `unlinkat old=<NA> new=<NA> link=<NA> path=<NA> file=<NA> name=${dir}/moved`,
          `unlinkat old=<NA> new=<NA> link=<NA> path=<NA> file=<NA> name=${dir}/sym`,
          `unlinkat old=<NA> new=<NA> link=<NA> path=<NA> file=<NA> name=${dir}/d`,
        ];
        await waitFor("the *at alerts", () => (at().length >= expected.length ? true : undefined), 30_000, debug);
        expect(at()).toEqual(expected);
      } finally {
        await detector.stop();
      }
    });
  }
});
