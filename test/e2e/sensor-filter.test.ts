/**
 * End to end, as root: the kernel-side open filter with Falco's stable rules. Opens no rule
 * can match stay in the kernel (counted), while every way a filtered descriptor can come back
 * into play still yields the right names: a dup of it, a directory opened without
 * O_DIRECTORY used as a dirfd or by fchdir, a descriptor number reused after a reported
 * close, and relative opens, judged by the cwd they are made from. sensor/testprogs/fd-paths.c performs the steps; a small rules file adds a rule on
 * dup2 so the dup'd names are visible as alerts.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector, type SyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { buildSensor, FALCO_RULES, isRoot, TESTPROGS, waitFor } from "../unit/sensor/helpers.js";
import { runsTheSensor } from "../harness/sensor-lock.js";

runsTheSensor();

const DUP_RULE = `
- rule: Test dup2 names its descriptor
  desc: the name of a dup'd descriptor, for the filter test
  condition: evt.type=dup2 and proc.name=fd-paths
  output: dup2 of %fd.name (newfd=%evt.arg.newfd process=%proc.name)
  priority: NOTICE
`;


const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

describe.skipIf(!isRoot)("kernel-side open filter (root)", () => {
  let work: string;
  let rulesFile: string;

  beforeAll(() => {
    buildSensor();
    work = mkdtempSync(join(tmpdir(), "pg-filter-"));
    rulesFile = join(work, "dup_rule.yaml");
    writeFileSync(rulesFile, DUP_RULE);
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function run(kernelFilter: boolean) {
    const alerts: DetectorAlert[] = [];
    const detector: SyscallDetector = await startSyscallDetector({
      rulesFiles: [FALCO_RULES, rulesFile],
      kernelFilter,
      ruleMatching: "all",
      logger: pino({ level: "warn" }),
      onAlert: (a) => alerts.push(a),
    });
    try {
      await detector.ready;
      // counters are cumulative since the sensor started: zeros until its first stats frame
      const before = detector.stats();
      const child = execFileSync(join(TESTPROGS, "fd-paths"), ["marker"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      expect(child).toBe("");
      const ours = (rule: string) => alerts.filter((a) => a.rule === rule && a.output_fields["proc.name"] === "fd-paths");
      // four dup2/shadow alerts are expected; wait for them, then a stats frame after the run
      await waitFor(
        "the alerts",
        () => (ours("Test dup2 names its descriptor").length >= 2 && ours("Read sensitive file untrusted").length >= 5 ? true : undefined),
        30_000,
        () => alerts.map((a) => `${a.rule}: ${a.output}`).join("\n"),
      );
      // stats frames come about once a second, later on a busy machine: with the filter on,
      // wait for the frame that counts the run's opens; with it off, give one frame's time
      const stop = Date.now();
      const filteredSince = () => sum(detector.stats().sensorFiltered) - sum(before.sensorFiltered);
      if (kernelFilter) await waitFor("a stats frame counting the run's filtered opens", () => (filteredSince() >= 6000 ? true : undefined), 30_000);
      else await waitFor("a stats frame after the run", () => (Date.now() - stop > 1200 ? true : undefined), 30_000);
      const after = detector.stats();
      return { detector, alerts: ours, filtered: sum(after.sensorFiltered) - sum(before.sensorFiltered) };
    } finally {
      await detector.stop();
    }
  }

  it("filters the stable rules' unmatchable opens and keeps every descriptor name right", async () => {
    const { detector, alerts, filtered } = await run(true);
    expect(detector.openFilter).toEqual(["=/etc/pam.conf", "=/etc/security/pwquality.conf", "=/etc/shadow", "=/etc/sudoers", "^/etc/pam.d/", "^/etc/sudoers.d/"]);

    // steps 1 and 3: a filtered descriptor, and one reusing a number whose reported open was closed
    const dups = alerts("Test dup2 names its descriptor").map((a) => [a.output_fields["evt.arg.newfd"], a.output_fields["fd.name"]]);
    expect(dups).toEqual([
      ["100", "/etc/hostname"],
      ["101", "/etc/hostname"],
    ]);
    // step 2 (openat on a filtered dirfd), step 3's reported open, step 4 (fchdir to a
    // filtered dirfd), step 7 (a relative open after the cwd judged safe changed), step 8
    // (the same inside a chroot, where the cwd is /etc as the process sees it)
    const shadow = alerts("Read sensitive file untrusted").map((a) => [a.output_fields["evt.type"], a.output_fields["fd.name"]]);
    expect(shadow).toEqual([
      ["openat", "/etc/shadow"],
      ["openat", "/etc/shadow"],
      ["openat", "/etc/shadow"],
      ["openat", "/etc/shadow"],
      ["openat", "/etc/shadow"],
    ]);
    // steps 5 and 6: 3000 opens and their closes stayed in the kernel (other processes add to the count)
    expect(filtered).toBeGreaterThanOrEqual(6000);
  });

  it("kernel_filter: false sends every open, with the same alerts", async () => {
    const { detector, alerts, filtered } = await run(false);
    expect(detector.openFilter).toBeUndefined();
    expect(filtered).toBe(0);
    expect(alerts("Test dup2 names its descriptor").map((a) => a.output_fields["fd.name"])).toEqual(["/etc/hostname", "/etc/hostname"]);
    expect(alerts("Read sensitive file untrusted")).toHaveLength(5);
  });
});
