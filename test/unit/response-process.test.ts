/**
 * process:kill's run acts on the recorded target only: a live process at the recorded pid with
 * another start tick (the pid reused after the recording) or another boot is answered gone and
 * never signalled; the recorded process itself is killed.
 */
import { spawn } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import type { Alert } from "../../src/alert.js";
import { bootId, processActionners } from "../../src/response/actionners/process/index.js";
import { readStat } from "../../src/response/safety.js";

const kill = processActionners.find((a) => a.name === "process:kill")!;
const live = spawn("sleep", ["60"], { stdio: "ignore" });
const exited = new Promise<NodeJS.Signals | null>((r) => live.once("exit", (_c, s) => r(s)));
afterAll(() => void live.kill("SIGKILL"));
const alert = {} as Alert;

describe("process:kill run: the recorded target only", () => {
  it("a pid whose start tick is not the recorded one is gone, and the process lives", async () => {
    const ticks = readStat(live.pid!)!.startTicks;
    const target = { kind: "process", description: "x", identity: { pid: String(live.pid), start_ticks: String(Number(ticks) - 1), boot_id: bootId(), name: "sleep" } };
    const r = await kill.run({ alert, parameters: {}, target, signal: new AbortController().signal });
    expect(r.status).toBe("gone");
    expect(r.message).toContain("now belongs to another process");
    const other = await kill.run({ alert, parameters: {}, target: { ...target, identity: { ...target.identity, start_ticks: ticks, boot_id: "another-boot" } }, signal: new AbortController().signal });
    expect(other.status).toBe("gone");
    expect(live.exitCode).toBe(null);
    expect(live.signalCode).toBe(null);
  });

  it("the recorded process is killed; run again, it is gone", async () => {
    const target = { kind: "process", description: "x", identity: { pid: String(live.pid), start_ticks: readStat(live.pid!)!.startTicks, boot_id: bootId(), name: "sleep" } };
    expect((await kill.run({ alert, parameters: {}, target, signal: new AbortController().signal })).status).toBe("done");
    expect(await exited).toBe("SIGKILL");
    expect((await kill.run({ alert, parameters: {}, target, signal: new AbortController().signal })).status).toBe("gone");
  });
});
