import { describe, expect, it } from "vitest";
import { interestSet } from "../../../src/detector/sources/syscall/detector.js";
import { defaultRulesFiles, readDetectorConfig } from "../../../src/detector/sources/syscall/config.js";
import { containerIdFromCgroup, containerIdFromProcCgroup } from "../../../src/detector/sources/syscall/container.js";

describe("detector config", () => {
  it("defaults: auto, the shipped rules, 8 MiB rings, every container engine at its default socket, no metrics alerts", () => {
    const r = readDetectorConfig(undefined);
    expect(r).toEqual({
      ok: true,
      config: {
        enabled: "auto",
        rulesFiles: defaultRulesFiles(),
        selection: [],
        appendOutput: [{ suggested_output: true }],
        ringBufferBytes: 8 * 1024 * 1024,
        kernelFilter: true,
        ruleMatching: "first",
        timeFormatIso8601: false,
        containerEngines: {
          docker: { enabled: true, sockets: ["/var/run/docker.sock"] },
          podman: { enabled: true, sockets: ["/run/podman/podman.sock"] },
          containerd: { enabled: true, sockets: ["/run/containerd/containerd.sock"] },
          cri: { enabled: true, sockets: ["/run/containerd/containerd.sock", "/run/crio/crio.sock", "/run/k3s/containerd/containerd.sock"] },
        },
        metricsAlertIntervalMs: 0,
      },
    });
  });

  it("accepts booleans, sizes with units and selection steps", () => {
    const r = readDetectorConfig({ enabled: true, rules_files: ["/a.yaml", "/rules.d"], ring_buffer_bytes: "16MiB", rules: [{ disable: { tag: "container" } }] });
    expect(r.ok && r.config).toMatchObject({ enabled: true, rulesFiles: ["/a.yaml", "/rules.d"], ringBufferBytes: 16 * 1024 * 1024, selection: [{ disable: { tag: "container" } }] });
    expect(readDetectorConfig({ enabled: "false" })).toMatchObject({ ok: true, config: { enabled: false } });
    expect(readDetectorConfig({ kernel_filter: false })).toMatchObject({ ok: true, config: { kernelFilter: false } });
    expect(readDetectorConfig({ kernel_filter: "sometimes" })).toMatchObject({ ok: false, problems: [expect.stringMatching(/^detector\.kernel_filter: /)] });
    expect(readDetectorConfig({})).toMatchObject({ ok: true, config: { ruleMatching: "first" } });
    const r2 = readDetectorConfig({ rule_matching: "all", priority: "warning" });
    expect(r2).toMatchObject({ ok: true, config: { ruleMatching: "all", minimumPriority: "Warning" } });
    expect(readDetectorConfig({ rule_matching: "some", priority: "loud" })).toEqual({
      ok: false,
      problems: [
        'detector.rule_matching: must be first or all, got "some"',
        'detector.priority: unknown priority "loud"; expected one of Emergency, Alert, Critical, Error, Warning, Notice, Informational, Debug',
      ],
    });
  });

  it("names every problem with its path", () => {
    const r = readDetectorConfig({ enabled: "maybe", ring_buffer_bytes: 1000, rules: [{ enable: { name: "x" } }] });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^detector\.enabled: must be auto, true or false/),
        expect.stringMatching(/^detector\.ring_buffer_bytes: must be a power of two/),
        expect.stringMatching(/^detector\.rules\[0\]\.enable: must name a rule and\/or a tag/),
      ]),
    );
    // the rule engine's own checks: values of selection steps, and append_output entries
    const deep = readDetectorConfig({ rules: [{ disable: { rule: 5 } }], append_output: [42] });
    expect(deep.ok === false && deep.problems).toEqual([
      "detector.rules[0].disable.rule: must be a non-empty string",
      "detector.append_output[0]: must be a map with match, extra_output, extra_fields and/or suggested_output",
    ]);
    const unknown = readDetectorConfig({ ring_bufer_bytes: 1 });
    expect(unknown.ok === false && unknown.problems[0]).toMatch(/^detector\.ring_bufer_bytes: unknown key/);
  });
});

describe("interest set", () => {
  it("the rules' syscalls plus the state-tracking ones; unknown types are not sent", () => {
    expect(interestSet(new Set(["execve", "execveat", "ptrace", "procexit"]), false)).toEqual(
      ["chdir", "clone", "clone3", "execve", "execveat", "fchdir", "fork", "ptrace", "setsid", "vfork"],
    );
  });

  it("descriptor users bring the descriptor lifecycle; dup brings sockets", () => {
    const open = interestSet(new Set(["openat"]), false);
    expect(open).toEqual(expect.arrayContaining(["openat", "close", "dup", "dup2", "dup3"]));
    expect(open).not.toContain("connect");
    expect(interestSet(new Set(["dup"]), false)).toEqual(expect.arrayContaining(["socket", "connect", "accept", "accept4", "close"]));
  });

  it("a rule on every event type means every supported syscall", () => {
    expect(interestSet(new Set(), true).length).toBeGreaterThan(50);
  });
});

describe("container ids", () => {
  const id = "0123456789abcdef".repeat(4);
  it.each([
    [`docker-${id}.scope`, id.slice(0, 12)],
    [`/system.slice/docker-${id}.scope`, id.slice(0, 12)],
    [`/kubepods/besteffort/pod1/cri-containerd-${id}.scope`, id.slice(0, 12)],
    [`/docker/${id}`, id.slice(0, 12)],
    [`crio-${id}.scope`, id.slice(0, 12)],
    ["/user.slice/user-0.slice/session-1.scope", "host"],
    ["", "host"],
  ])("%s -> %s", (path, want) => {
    expect(containerIdFromCgroup(path)).toBe(want);
  });
  it("from /proc/PID/cgroup", () => {
    expect(containerIdFromProcCgroup(`0::/system.slice/docker-${id}.scope\n`)).toBe(id.slice(0, 12));
    expect(containerIdFromProcCgroup("0::/init.scope\n")).toBe("host");
  });
});
