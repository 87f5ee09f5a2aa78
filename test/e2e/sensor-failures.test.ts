/**
 * The sensor's clear failures: a host that cannot run it gets one line naming the fix and exit
 * code 2, never a stack trace. Conditions are produced for real: privileges dropped with
 * setpriv, BTF hidden and tracefs unmounted inside a private mount namespace (unshare -m),
 * so the host itself is untouched.
 */
import { spawnSync } from "node:child_process";
import { beforeAll, describe, expect, it } from "vitest";
import { checkSensorPrerequisites } from "../../src/detector/sources/syscall/index.js";
import { buildSensor, isRoot, SENSOR } from "../unit/sensor/helpers.js";
import { runsTheSensor } from "../harness/sensor-lock.js";

runsTheSensor();

function run(cmd: string, args: string[]) {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 60_000 });
  return { code: r.status, lines: r.stderr.split("\n").filter(Boolean), stdout: r.stdout };
}

describe.skipIf(!isRoot)("sensor failures name their fix (root, to take privileges away)", () => {
  beforeAll(() => buildSensor());

  it("passes its own check on this host, and so does checkSensorPrerequisites()", () => {
    const r = run(SENSOR, ["--check"]);
    expect(r.code).toBe(0);
    expect(checkSensorPrerequisites({ binary: SENSOR })).toEqual({ ok: true });
  });

  it("without root or CAP_BPF/CAP_PERFMON: one line, exit 2", () => {
    const r = run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", SENSOR, "--check"]);
    expect(r.code).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatch(/^peregrine-sensor: needs root or the CAP_BPF and CAP_PERFMON capabilities — .*setcap cap_bpf,cap_perfmon\+ep/);
  });

  it("without kernel BTF: one line, exit 2", () => {
    const r = run("unshare", ["-m", "sh", "-c", `mount -t tmpfs none /sys/kernel/btf && exec ${SENSOR} --check`]);
    expect(r.code).toBe(2);
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toContain("CONFIG_DEBUG_INFO_BTF=y");
  });

  it("with tracefs unmounted it mounts tracefs itself and runs", () => {
    const script = "umount /sys/kernel/debug/tracing 2>/dev/null; umount /sys/kernel/tracing 2>/dev/null; " +
      `test ! -e /sys/kernel/tracing/events || exit 99; ${SENSOR} --check && test -e /sys/kernel/tracing/events`;
    const r = run("unshare", ["-m", "sh", "-c", script]);
    expect(r.code).toBe(0);
  });

  it("bad flags: exit 1 with the flag named", () => {
    const r = run(SENSOR, ["--ring-bytes", "1000"]);
    expect(r.code).toBe(1);
    expect(r.lines).toEqual(["peregrine-sensor: --ring-bytes must be a power of two between 65536 and 1073741824, got 1000"]);
    const u = run(SENSOR, ["--syscalls", "openat,nosuchcall"]);
    expect(u.code).toBe(1);
    expect(u.lines[0]).toContain('unknown syscall "nosuchcall"');
    const f = run(SENSOR, ["--check", "--open-read-paths", "=/etc/shadow\nrelative/path"]);
    expect(f.code).toBe(1);
    expect(f.lines).toEqual(['peregrine-sensor: --open-read-paths: entry "relative/path" must be =/exact/path, ^/prefix or @name']);
    // a well-formed list loads (an empty one too: every filterable open is filtered)
    for (const list of ["=/etc/shadow\n^/etc/pam.d/", ""]) expect(run(SENSOR, ["--check", "--open-read-paths", list]).code).toBe(0);
  });
});
