import { afterEach, describe, expect, it } from "vitest";
import { alertTextLine, type Alert } from "../../src/alert.js";
import { startRouter, waitUntil } from "../harness/router-process.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

// A real Falco alert as its http_output posts it: `output` starts with time and priority.
const FALCO_OUTPUT =
  "16:31:56.746609046: Error File below /etc opened for writing (file=/etc/peregrine-test user=root process=touch parent=bash)";
const falcoAlert = {
  uuid: "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9",
  time: "2026-03-01T16:31:56.746609046Z",
  priority: "Error",
  rule: "Write below etc",
  output: FALCO_OUTPUT,
  output_fields: { "fd.name": "/etc/peregrine-test", "proc.name": "touch" },
  source: "syscall",
  tags: ["filesystem"],
  hostname: "node-1",
};

describe("Falco's text line (stdout format: text)", () => {
  it("prints a Falco output as it is, with its time and priority once", async () => {
    const router = await startRouter({ config: { outputs: [{ name: "text", type: "stdout", format: "text" }] } });
    cleanups.push(() => router.kill());
    const res = await router.post(falcoAlert);
    expect(res.status).toBe(200);
    const plain = await router.post({ ...falcoAlert, uuid: undefined, output: "no prefix here", time: "2026-03-01T16:32:00.5Z", priority: "Notice" });
    expect(plain.status).toBe(200);
    await waitUntil(() => router.stdout.length >= 2, 60_000, "two stdout lines");
    expect(router.stdout).toContain(FALCO_OUTPUT);
    expect(router.stdout.some((l) => l.includes(": Error 16:31:56"))).toBe(false);
    // An output without the prefix still gets Falco's line shape.
    expect(router.stdout).toContain("2026-03-01T16:32:00.5Z: Notice no prefix here");
  });

  it("recognizes the prefix in both of Falco's time formats, and only there", () => {
    const a = (output: string, priority: Alert["priority"] = "Critical"): Alert => ({ ...falcoAlert, priority, output }) as Alert;
    const iso = "2026-03-01T16:31:56.746609046+0000: Critical Shell in container (user=root)";
    expect(alertTextLine(a(iso))).toBe(iso);
    const ours = "2026-03-01T16:31:56.746609046Z: Informational Something (x=1)";
    expect(alertTextLine(a(ours, "Informational"))).toBe(ours);
    // Text that merely looks like a time is the producer's message: prefixed as usual.
    expect(alertTextLine(a("12:00 backup failed"))).toBe(`${falcoAlert.time}: Critical 12:00 backup failed`);
    expect(alertTextLine(a("16:31:56: Errors everywhere"))).toBe(`${falcoAlert.time}: Critical 16:31:56: Errors everywhere`);
  });
});
