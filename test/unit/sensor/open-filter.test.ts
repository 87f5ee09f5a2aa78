/**
 * The kernel-side open filter's analysis: which paths the rules may match, and the one
 * property that matters — an open the sensor would leave in the kernel never matches a rule.
 * The property test runs Falco's rules over synthetic openat events through the real tracker
 * and source, and replays the kernel's decision (sensor.bpf.c, open_unwanted) in TypeScript.
 */
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import { loadRules, defaultSources } from "../../../src/detector/load.js";
import { openFilter, openFilterEntries, openPathsOf } from "../../../src/detector/sources/syscall/open-filter.js";
import { createSyscallSource } from "../../../src/detector/sources/syscall/source.js";
import { emptyProc, ProcessTable, type Proc } from "../../../src/detector/sources/syscall/state.js";
import { SyscallTracker, type SyscallEvent } from "../../../src/detector/sources/syscall/tracker.js";
import type { EventSource } from "../../../src/detector/event.js";
import { i64, str, syscall } from "./frames.js";

const CORPUS = join(import.meta.dirname, "../../../../shared/corpus/falco-rules");
const STABLE = join(CORPUS, "falco_rules.yaml");
const INCUBATING = join(CORPUS, "falco-incubating_rules.yaml");

function entriesFor(condition: string, extra = ""): string[] | undefined {
  const text = `- rule: r\n  desc: d\n  condition: ${condition}\n  output: o %fd.name\n  priority: WARNING\n${extra}`;
  const { ruleset, results } = loadRules({ documents: [{ name: "t.yaml", text }], sources: defaultSources() });
  expect(results.errors).toEqual([]);
  return openFilterEntries(ruleset);
}

/** sensor.bpf.c's pg_judge_cwd: no entry under "cwd/", none covering it ("/" is above all). */
function cwdSafe(cwd: string, entries: readonly string[]): boolean {
  const key = cwd === "/" ? "/" : `${cwd}/`;
  if (cwd.includes("..")) return false;
  return !entries.some((e) => (e[0] === "^" && key.startsWith(e.slice(1))) || e.slice(1).startsWith(key));
}

/** sensor.bpf.c's open_unwanted for a read-only open/openat(AT_FDCWD), in TypeScript. */
function kernelKeeps(path: string, cwd: string, comm: string, entries: readonly string[]): boolean {
  if (entries.includes(`@${comm}`)) return false;
  const n = Buffer.byteLength(path) + 1;
  if (n < 2 || n >= 256) return false;
  if (path.includes("..") || path.includes("//") || path.includes("/.")) return false;
  if (n > 2 && path.endsWith("/")) return false;
  if (!path.startsWith("/")) return !(path === "." || path.startsWith("./")) && cwdSafe(cwd, entries);
  return !entries.some((e) => (e[0] === "=" ? path === e.slice(1) : path.startsWith(e.slice(1))));
}

describe("open filter analysis", () => {
  it("reads path constraints out of conditions", () => {
    expect(entriesFor("evt.type=openat and fd.name=/etc/shadow")).toEqual(["=/etc/shadow"]);
    expect(entriesFor("evt.type in (open, openat) and fd.name in (/a, /b, relative)")).toEqual(["=/a", "=/b"]);
    expect(entriesFor("evt.type=open and (fd.name startswith /etc/ or fd.directory in (/root/.ssh, /))")).toEqual(["^/", "^/etc/", "^/root/.ssh/"]);
    expect(entriesFor("evt.type=openat and fd.name glob '/home/*/.ssh/*'")).toEqual(["^/home/"]);
    expect(entriesFor("evt.type=openat and fd.name pmatch (/usr/bin, /bin)")).toEqual(["^/bin", "^/usr/bin"]);
    // an and is bounded by its tightest side; an or unites
    expect(entriesFor("evt.type=openat and fd.name startswith /etc and fd.name in (/etc/a, /etc/b, /etc/c)")).toEqual(["^/etc"]);
    expect(entriesFor("evt.type=openat and (fd.name=/x or fd.name=/y)")).toEqual(["=/x", "=/y"]);
  });

  it("knows what a filtered open cannot be", () => {
    // writes, other event types, ".." in the path: no filtered open matches, so nothing is needed
    expect(entriesFor("evt.type=openat and evt.is_open_write=true and proc.name=x")).toEqual([]);
    expect(entriesFor("evt.type=execve and proc.name=x")).toEqual([]);
    expect(entriesFor("evt.type=openat and fd.nameraw contains '../'")).toEqual([]);
    expect(entriesFor("evt.type=openat and fd.name startswith etc/")).toEqual([]);
    // a process name: only its opens can match, whatever the path (comm is 15 bytes at most)
    expect(entriesFor("evt.type=openat and proc.name=x")).toEqual(["@x"]);
    expect(entriesFor("evt.type=openat and proc.name in (sshd, a-name-longer-than-15) and fd.name contains lzma")).toEqual(["@sshd"]);
    expect(entriesFor("evt.type=openat and (proc.name=cat or fd.name=/etc/shadow)")).toEqual(["=/etc/shadow", "@cat"]);
    // fd.nameraw of a relative open is relative: relative values cannot be judged
    expect(entriesFor("evt.type=openat and fd.nameraw startswith etc/")).toBeUndefined();
    expect(entriesFor("evt.type=openat and fd.nameraw = shadow")).toBeUndefined();
    expect(entriesFor("evt.type=openat and fd.nameraw glob 'etc/*'")).toBeUndefined();
    expect(entriesFor("evt.type=openat and fd.nameraw startswith /etc/")).toEqual(["^/etc/"]);
  });

  it("names the rule that turns the filter off", () => {
    const load = (text: string) => loadRules({ documents: [{ name: "t.yaml", text }], sources: defaultSources() }).ruleset;
    const rule = (name: string, condition: string) => `- rule: ${name}\n  desc: d\n  condition: ${condition}\n  output: o\n  priority: WARNING\n`;
    expect(openFilter(load(rule("narrow", "evt.type=openat and fd.name=/a") + rule("wide", "evt.type=openat and fd.name contains x")))).toEqual({
      entries: undefined,
      off: "rule 'wide' may match an open whatever its path or process name",
    });
    expect(openFilter(load(rule("table", "evt.type=execve and fd.types intersects (file)")))).toEqual({
      entries: undefined,
      off: "rule 'table' reads the whole descriptor table (fd.types)",
    });
    expect(openFilter(load(rule("narrow", "evt.type=openat and fd.name=/a")))).toEqual({ entries: ["=/a"] });
  });

  it("turns the filter off when a rule may match any path", () => {
    expect(entriesFor("evt.type=openat and proc.name startswith x")).toBeUndefined();
    expect(entriesFor("evt.type=openat and proc.exe=x")).toBeUndefined();
    expect(entriesFor("evt.type=openat and not fd.name startswith /etc")).toBeUndefined();
    expect(entriesFor("evt.type=openat and fd.name contains shadow")).toBeUndefined();
    expect(entriesFor("evt.type=openat and fd.name endswith shadow")).toBeUndefined();
    expect(entriesFor("evt.type=openat and tolower(fd.name) = /etc/shadow")).toBeUndefined();
    expect(entriesFor("evt.type=openat and fd.name = val(fd.nameraw)")).toBeUndefined();
    expect(entriesFor("evt.type=openat and fd.name = fd.nameraw")).toEqual([]); // without val(): the literal text
    expect(entriesFor("evt.type!=execve and fd.name=/a")).toEqual(["=/a"]);
    expect(entriesFor("proc.pid > 0")).toBeUndefined(); // every event type, every open
    expect(entriesFor("proc.name=x")).toEqual(["@x"]); // every event type, but only x's opens
    // a rule reading the whole descriptor table, on any event type
    expect(entriesFor("evt.type=execve and fd.types intersects (file)")).toBeUndefined();
  });

  it("Falco's stable rules need six paths; the incubating ones add paths and two process names", () => {
    const stable = loadRules({ files: [STABLE], sources: defaultSources() });
    expect(openFilterEntries(stable.ruleset)).toEqual([
      "=/etc/pam.conf",
      "=/etc/security/pwquality.conf",
      "=/etc/shadow",
      "=/etc/sudoers",
      "^/etc/pam.d/",
      "^/etc/sudoers.d/",
    ]);
    const both = loadRules({ files: [STABLE, INCUBATING], sources: defaultSources() });
    expect(openFilterEntries(both.ruleset)).toEqual([
      "=/etc/pam.conf",
      "=/etc/security/pwquality.conf",
      "=/etc/shadow",
      "=/etc/sudoers",
      "@sshd", // Backdoored library loaded into SSHD: fd.name contains "liblzma..."
      "@tar", // Exfiltrating Artifacts via Kubernetes Control Plane
      "^/dev/",
      "^/etc/pam.d/",
      "^/etc/sudoers.d/",
      "^/home/",
      "^/proc/",
      "^/root/.ssh",
    ]);
    const every = both.ruleset.rules.filter((r) => openPathsOf(r.ast).all && ["open", "openat"].some((t) => both.ruleset.rulesFor("syscall", t).includes(r)));
    expect(every.map((r) => r.name)).toEqual([]);
  });
});

describe("open filter soundness", () => {
  it("no open the kernel would keep matches a rule (stable + incubating, 20,000 paths, absolute and relative, 10 cwds, 4 processes)", () => {
    const comms = ["evil", "sshd", "tar", "bash"];
    const procs = new Map<number, Proc>([[1, { ...emptyProc(1), comm: "systemd" }]]);
    comms.forEach((comm, k) => procs.set(500 + k, { ...emptyProc(500 + k), ppid: 1, comm, exe: comm, exepath: `/tmp/${comm}`, args: [], cwd: "/root" }));
    const table = new ProcessTable({ read: (pid) => procs.get(pid) });
    const tracker = new SyscallTracker(table);
    const source = createSyscallSource({ table, users: { userName: () => "root", groupName: () => "root" }, bootOffsetNs: () => 0n, hostname: "h" });
    const { ruleset, results } = loadRules({
      files: [STABLE, INCUBATING],
      sources: [source as unknown as EventSource<never>, ...defaultSources().filter((s) => s.name !== "syscall")],
      ruleMatching: "all",
    });
    expect(results.ok).toBe(true);
    const entries = openFilterEntries(ruleset)!;
    expect(entries.length).toBeGreaterThan(6);

    // paths near every entry (equal, under, beside, one byte short) and random ones
    const pieces = ["etc", "shadow", "root", ".ssh", "id_rsa", "home", "alice", "proc", "1", "environ", "dev", "x", "pam.d", "sudoers", "..", ".", "", "cron.d", ".bashrc", "liblzma.so.5.6.1"];
    let seed = 42;
    // the high bits: an LCG's low bits repeat with a short period
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff) >>> 16) % n;
    const paths = new Set<string>();
    for (const e of entries) {
      const p = e.slice(1);
      for (const q of [p, p + "x", p + "/x", p.slice(0, -1), p + "/", `${p}/${pieces[rand(pieces.length)]}`]) paths.add(q);
    }
    while (paths.size < 20_000) {
      const depth = 1 + rand(5);
      paths.add("/" + Array.from({ length: depth }, () => pieces[rand(pieces.length)]).join("/"));
    }

    const cwds = ["/root", "/tmp", "/etc", "/", "/home/alice", "/proc/1", "/etc/pam.d", "/dev", "/root/.ssh", "/tmp/a..b"];
    let kept = 0;
    let keptRelative = 0;
    let fd = 3;
    let i = 0;
    for (const absolute of paths) {
      const cwd = cwds[i % cwds.length]!;
      const pid = 500 + (i % comms.length);
      const comm = comms[i % comms.length]!;
      i++;
      tracker.process(syscall("chdir", pid, 0, [str(cwd)]), () => undefined);
      for (const path of [absolute, absolute.slice(1), absolute.replace(/^\/[^/]*\/?/, "")]) {
        let ev: SyscallEvent | undefined;
        tracker.process(syscall("openat", pid, fd, [i64(-100), str(path), i64(0), i64(0)]), (e) => (ev = e));
        tracker.process(syscall("close", pid, 0, [i64(fd)]), () => undefined);
        fd = 3 + ((fd + 1) % 50);
        if (!kernelKeeps(path, cwd, comm, entries)) continue;
        kept++;
        if (!path.startsWith("/")) keptRelative++;
        const alerts = ruleset.evaluate(source, ev!);
        expect(alerts.map((a) => a.rule), `${path} (cwd ${cwd}) was left in the kernel`).toEqual([]);
      }
    }
    // the property was exercised, not vacuous
    expect(kept).toBeGreaterThan(3_000);
    expect(keptRelative).toBeGreaterThan(500);
  });
});
