/**
 * The supervisor with stand-in sensor programs (small shell scripts, real processes): stderr
 * lines reach the log, a crash is restarted with backoff, exit code 2 is reported once and
 * not restarted, and a corrupt stream restarts the sensor.
 */
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { SensorSupervisor } from "../../../src/detector/sources/syscall/supervisor.js";
import type { Frame } from "../../../src/detector/sources/syscall/wire.js";
import { WIRE_DUMP, buildSensor } from "./helpers.js";

function script(body: string): string {
  const p = join(mkdtempSync(join(tmpdir(), "pg-fake-sensor-")), "sensor");
  writeFileSync(p, `#!/bin/sh\n${body}\n`);
  chmodSync(p, 0o755);
  return p;
}

function capture() {
  const lines: { level: number; msg: string; [k: string]: unknown }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("sensor supervisor", () => {
  it("surfaces stderr, restarts a crashed sensor with growing delays", async () => {
    const { logger, lines } = capture();
    const bin = script('echo "ring buffer trouble" >&2; exit 1');
    const sup = new SensorSupervisor({ binary: bin, args: [], logger, onFrame: () => undefined, onFatal: () => undefined, initialBackoffMs: 50, maxBackoffMs: 400 });
    sup.start();
    await until(() => sup.restarts >= 3);
    await sup.stop();
    expect(lines.filter((l) => l.msg === "ring buffer trouble" && l.sensor === true).length).toBeGreaterThanOrEqual(3);
    const delays = lines.filter((l) => l.msg === "sensor exited; restarting").map((l) => l.restartInMs as number);
    expect(delays.slice(0, 3)).toEqual([50, 100, 200]);
  });

  it("exit code 2 is the host's verdict: reported once, no restart", async () => {
    const { logger } = capture();
    const bin = script('echo "peregrine-sensor: this kernel has no BTF — use a kernel built with CONFIG_DEBUG_INFO_BTF=y" >&2; exit 2');
    const fatal: string[] = [];
    const sup = new SensorSupervisor({ binary: bin, args: [], logger, onFrame: () => undefined, onFatal: (l) => fatal.push(l), initialBackoffMs: 20 });
    sup.start();
    await until(() => fatal.length > 0);
    await new Promise((r) => setTimeout(r, 200));
    expect(fatal).toEqual(["peregrine-sensor: this kernel has no BTF — use a kernel built with CONFIG_DEBUG_INFO_BTF=y"]);
    expect(sup.restarts).toBe(0);
    await sup.stop();
  });

  it("decodes a real frame stream, and restarts on a corrupt one", async () => {
    buildSensor();
    const { logger } = capture();
    // first run: C-written sample frames then garbage; later runs: the frames only
    const flag = join(mkdtempSync(join(tmpdir(), "pg-fake-")), "ran");
    const bin = script(`${WIRE_DUMP} frames; if [ ! -e ${flag} ]; then touch ${flag}; printf '\\377\\377\\377\\377garbage'; fi; exec sleep 30`);
    const frames: number[] = [];
    const sup = new SensorSupervisor({ binary: bin, args: [], logger, onFrame: (f: Frame) => frames.push(f.type), onFatal: () => undefined, initialBackoffMs: 20 });
    sup.start();
    await until(() => sup.wireErrors === 1 && frames.length >= 16);
    await sup.stop();
    expect(frames.slice(0, 8)).toEqual([1, 2, 2, 3, 4, 5, 2, 6]);
    expect(sup.restarts).toBe(1);
  });
});
