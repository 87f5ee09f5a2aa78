/**
 * As root, with Falco's stable and incubating rules loaded together: a rule that reads the
 * process environment (proc.env) fires on a real exec that carries the variable, and stays
 * silent for the same exec without it.
 */
import { execFileSync } from "node:child_process";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector, type SyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { buildSensor, FALCO_INCUBATING_RULES, FALCO_RULES, isRoot } from "../unit/sensor/helpers.js";

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
    expect(hit, "no alert within 2 s").toBeDefined();
    expect(hit!.alert.output_fields).toMatchObject({ "proc.name": "echo", "proc.pname": "sh", "evt.type": "execve" });
    expect(String(hit!.alert.output_fields["proc.env"])).toContain("GLIBC_TUNABLES=glibc.malloc.check=0");

    const t2 = Date.now();
    execFileSync("sh", ["-c", `/bin/echo ${marker} > /dev/null`]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(ours(t2).filter((x) => Date.parse(x.alert.time) >= t2 - 1).map((x) => x.alert.output)).toEqual([]);
  });
});
