/**
 * The tracker and the extractors together: frames in, field values out, with the process and
 * fd tables evolving as Falco's would. Processes come from a fixed table instead of /proc.
 */
import { describe, expect, it } from "vitest";
import { SYSCALL_FIELDS } from "../../../src/detector/fields/syscall.js";
import { createSyscallSource, missingExtractors, rfc3339Ns } from "../../../src/detector/sources/syscall/source.js";
import { HostNames } from "../../../src/detector/sources/syscall/hostnames.js";
import { emptyProc, ProcessTable, type Proc } from "../../../src/detector/sources/syscall/state.js";
import { SyscallTracker, type SyscallEvent } from "../../../src/detector/sources/syscall/tracker.js";
import type { Frame } from "../../../src/detector/sources/syscall/wire.js";
import { compiled } from "../detector/helpers.js";
import { exec, exit, fork, i64, sockaddrIn, str, syscall, tuple } from "./frames.js";

function proc(pid: number, ppid: number, comm: string, args: string[] = [], extra: Partial<Proc> = {}): Proc {
  return { ...emptyProc(pid), ppid, comm, exe: comm, exepath: `/usr/bin/${comm}`, args, cwd: "/root", ...extra };
}

function setup() {
  const known = new Map<number, Proc>([
    [1, proc(1, 0, "systemd")],
    [100, proc(100, 1, "sshd", ["-D"])],
    [200, proc(200, 100, "bash", ["-l"], { uid: 1000, euid: 1000, loginuid: 1000 })],
  ]);
  const table = new ProcessTable({ read: (pid) => known.get(pid) });
  const tracker = new SyscallTracker(table);
  const source = createSyscallSource({
    table,
    users: { userName: (u) => ({ 0: "root", 1000: "alice" })[u], groupName: (g) => ({ 0: "root", 1000: "staff" })[g] },
    bootOffsetNs: () => 1_700_000_000_000_000_000n,
    hostname: "box",
  });
  const events: SyscallEvent[] = [];
  const get = (e: SyscallEvent, field: string, arg?: string) => {
    const x = source.extractor(field, arg);
    if (!x) throw new Error(`no extractor for ${field}`);
    return x(e);
  };
  const feed = (...frames: Frame[]) => {
    for (const f of frames) tracker.process(f, (e) => events.push(e));
    return events[events.length - 1]!;
  };
  return { table, tracker, source, events, get, feed };
}

describe("syscall source", () => {
  it("answers every field of the syscall registry", () => {
    const { source } = setup();
    expect(missingExtractors(source)).toEqual([]);
    expect([...source.fields.keys()]).toEqual([...SYSCALL_FIELDS.keys()]);
  });

  it("fork + exec: process fields, ancestry, user and login names", () => {
    const { get, feed } = setup();
    const e = feed(
      fork(200, 300),
      exec(300, {
        ppid: 200,
        exepath: "/usr/bin/find",
        argv: ["find", "/", "-name", "id_rsa"],
        cwd: "/home/alice",
        comm: "find",
        uid: 1000,
        loginuid: 1000,
        tty: (136 << 20) | 2,
        env: ["HOME=/home/alice", "LD_PRELOAD=/tmp/x.so", "EMPTY="],
      }),
    );
    expect(get(e, "proc.env")).toBe("HOME=/home/alice LD_PRELOAD=/tmp/x.so EMPTY=");
    expect(get(e, "proc.env", "LD_PRELOAD")).toBe("/tmp/x.so");
    expect(get(e, "proc.env", "EMPTY")).toBe("");
    expect(get(e, "proc.env", "LD")).toBeUndefined();
    expect(e.type).toBe("execve");
    expect(get(e, "proc.name")).toBe("find");
    expect(get(e, "proc.exe")).toBe("find");
    expect(get(e, "proc.exepath")).toBe("/usr/bin/find");
    expect(get(e, "proc.cmdline")).toBe("find / -name id_rsa");
    expect(get(e, "proc.args")).toBe("/ -name id_rsa");
    expect(get(e, "proc.cwd")).toBe("/home/alice/");
    expect(get(e, "proc.tty")).toBe(34818); // pts/2 as /proc/PID/stat encodes it
    expect(get(e, "proc.pname")).toBe("bash");
    expect(get(e, "proc.pcmdline")).toBe("bash -l");
    expect(get(e, "proc.aname", "0")).toBe("find");
    expect(get(e, "proc.aname", "2")).toBe("sshd");
    expect(get(e, "proc.aname", "3")).toBe("systemd");
    expect(get(e, "proc.aname", "4")).toBeUndefined();
    expect(get(e, "proc.aname")).toEqual(["bash", "sshd", "systemd"]);
    expect(get(e, "proc.apid", "1")).toBe(200);
    expect(get(e, "user.uid")).toBe(1000);
    expect(get(e, "user.name")).toBe("alice");
    expect(get(e, "user.loginuid")).toBe(1000);
    expect(get(e, "user.loginname")).toBe("alice");
    expect(get(e, "evt.res")).toBe("SUCCESS");
    expect(get(e, "evt.arg", "flags")).toBe("0");
    expect(get(e, "thread.cap_effective")).toBe("CAP_SYS_ADMIN");
    expect(get(e, "thread.cap_permitted")).toBe("CAP_CHOWN CAP_SYS_ADMIN");
    expect(get(e, "thread.cap_inheritable")).toBe("");
    expect(get(e, "container.id")).toBe("host");
    expect(get(e, "evt.time")).toBe(rfc3339Ns(1_700_000_000_000_000_000n + 1_000_000_000n));
  });

  it("memfd executables and container ids from the cgroup name", () => {
    const { get, feed } = setup();
    const id = "ab".repeat(32);
    const e = feed(fork(200, 301), exec(301, { ppid: 200, exepath: "memfd:x", argv: ["x"], cwd: "/", comm: "memfd:x", flags: 1, cgroup: `docker-${id}.scope` }));
    expect(get(e, "proc.is_exe_from_memfd")).toBe(true);
    expect(get(e, "evt.arg", "flags")).toBe("EXE_FROM_MEMFD");
    expect(get(e, "container.id")).toBe(id.slice(0, 12));
  });

  it("without a cgroup name (no unified hierarchy), the container id comes from /proc/PID/cgroup's v1 lines", () => {
    const id = "cd".repeat(32);
    const table = new ProcessTable({ read: (pid) => (pid === 200 ? proc(200, 1, "containerd-shim") : undefined) });
    const v1 = `12:memory:/docker/${id}\n11:cpu,cpuacct:/docker/${id}\n1:name=systemd:/docker/${id}\n0::/\n`;
    const asked: number[] = [];
    const tracker = new SyscallTracker(table, (pid) => (asked.push(pid), pid === 302 ? v1 : undefined));
    const source = createSyscallSource({ table, users: { userName: () => undefined, groupName: () => undefined }, bootOffsetNs: () => 0n });
    let last: SyscallEvent | undefined;
    for (const f of [fork(200, 302), exec(302, { ppid: 200, exepath: "/bin/sh", argv: ["sh"], cwd: "/", comm: "sh" })]) tracker.process(f, (e) => (last = e));
    expect(source.extractor("container.id", undefined)!(last!)).toBe(id.slice(0, 12));
    expect(asked).toEqual([302]);
    // a cgroup name from the kernel needs no /proc read
    tracker.process(exec(302, { ppid: 200, exepath: "/bin/sh", argv: ["sh"], cwd: "/", comm: "sh", cgroup: `docker-${id}.scope` }), () => {});
    expect(asked).toEqual([302]);
  });

  it("openat: relative paths resolve against cwd and dirfd; the fd lives until close", () => {
    const { get, feed, table } = setup();
    const open = feed(syscall("openat", 200, 3, [i64(-100), str("../etc/./shadow"), i64(0o2000000), i64(0)], { uid: 1000 }));
    expect(get(open, "fd.name")).toBe("/etc/shadow");
    expect(get(open, "fd.nameraw")).toBe("../etc/./shadow");
    expect(get(open, "fd.num")).toBe(3);
    expect(get(open, "fd.typechar")).toBe("f");
    expect(get(open, "fd.directory")).toBe("/etc");
    expect(get(open, "fd.filename")).toBe("shadow");
    expect(get(open, "evt.is_open_read")).toBe(true);
    expect(get(open, "evt.is_open_write")).toBe(false);
    expect(get(open, "evt.arg", "flags")).toBe("O_RDONLY|O_CLOEXEC");
    expect(get(open, "evt.arg", "dirfd")).toBe("-100");

    const dir = feed(syscall("openat", 200, 4, [i64(-100), str("/var/log"), i64(0o200000), i64(0)]));
    expect(get(dir, "fd.typechar")).toBe("d");
    const rel = feed(syscall("openat", 200, 5, [i64(4), str("syslog"), i64(0o1 | 0o1000), i64(0)]));
    expect(get(rel, "fd.name")).toBe("/var/log/syslog");
    expect(get(rel, "evt.arg", "flags")).toBe("O_WRONLY|O_TRUNC");
    expect(get(rel, "evt.is_open_write")).toBe(true);

    const close = feed(syscall("close", 200, 0, [i64(5)]));
    expect(get(close, "fd.name")).toBe("/var/log/syslog"); // rules still see what was closed
    expect(table.peek(200)!.fds.has(5)).toBe(false);

    const failed = feed(syscall("openat", 200, -2, [i64(-100), str("/nope"), i64(0), i64(0)]));
    expect(get(failed, "fd.num")).toBe(-1);
    // typed as a file even when it asked for a directory, as Falco types a failed open
    const failedDir = feed(syscall("openat", 200, -20, [i64(-100), str("../../etc/shadow"), i64(0o200000), i64(0)]));
    expect(get(failedDir, "fd.typechar")).toBe("f");
    expect(get(failed, "evt.res")).toBe("ENOENT");
    expect(get(failed, "evt.rawres")).toBe(-2);
  });

  it("a descriptor the kernel-side filter kept: its path comes with the event that uses it", () => {
    const { get, feed, table } = setup();
    // fd 7 was opened without being reported; the sensor sends its path (fdpath) on use
    const rel = feed(syscall("openat", 200, 8, [i64(7), str("shadow"), i64(0), i64(0), str("/etc")]));
    expect(get(rel, "fd.name")).toBe("/etc/shadow");
    expect(get(rel, "evt.args")).not.toContain("fdpath"); // not an argument of the syscall
    const dup = feed(syscall("dup2", 200, 100, [i64(7), i64(100), str("/etc/hostname")]));
    expect(get(dup, "fd.name")).toBe("/etc/hostname");
    expect(table.peek(200)!.fds.get(100)?.name).toBe("/etc/hostname");
    feed(syscall("fchdir", 200, 0, [i64(9), str("/var/tmp")]));
    expect(table.peek(200)!.cwd).toBe("/var/tmp");
    // without a path the table answers, as before
    const known = feed(syscall("dup", 200, 101, [i64(100), str(undefined)]));
    expect(get(known, "fd.name")).toBe("/etc/hostname");
  });

  it("relative path arguments resolve as Falco's evt.arg does: against the cwd or the dirfd", () => {
    const { get, feed } = setup();
    feed(syscall("chdir", 200, 0, [str("/etc")]));
    // ln shadow /tmp/x, from /etc
    const ln = feed(syscall("linkat", 200, 0, [i64(-100), str("shadow"), i64(-100), str("/tmp/x"), i64(0), str(""), str("")]));
    expect(get(ln, "evt.arg", "oldpath")).toBe("/etc/shadow");
    expect(get(ln, "evt.arg", "newpath")).toBe("/tmp/x");
    expect(get(ln, "evt.rawarg", "oldpath")).toBe("shadow");
    expect(get(ln, "evt.args")).toContain("oldpath=shadow(/etc/shadow) newdir=-100 newpath=/tmp/x ");
    expect(get(ln, "evt.args")).not.toContain("fdpath");

    // a dirfd the table knows
    feed(syscall("openat", 200, 4, [i64(-100), str("/var/log"), i64(0o200000), i64(0), str("")]));
    const un = feed(syscall("unlinkat", 200, 0, [i64(4), str("../log/syslog"), i64(0), str("")]));
    expect(get(un, "evt.arg", "name")).toBe("/var/log/syslog");

    // dirfds whose opens the kernel-side filter kept: the sensor carries their paths
    const mv = feed(syscall("renameat2", 200, 0, [i64(9), str("syslog"), i64(10), str("x"), i64(0), str("/var/log"), str("/tmp")]));
    expect(get(mv, "evt.arg", "oldpath")).toBe("/var/log/syslog");
    expect(get(mv, "evt.arg", "newpath")).toBe("/tmp/x");
    const sym = feed(syscall("symlinkat", 200, 0, [str("/etc/shadow"), i64(11), str("link"), str("/srv")]));
    expect(get(sym, "evt.arg", "linkpath")).toBe("/srv/link");
    expect(get(sym, "evt.arg", "target")).toBe("/etc/shadow"); // a link's content is not resolved
    const relTarget = feed(syscall("symlink", 200, 0, [str("shadow"), str("/tmp/l")]));
    expect(get(relTarget, "evt.arg", "target")).toBe("shadow");

    // a dirfd nobody knows leaves the raw value, as does an absolute path
    const unknown = feed(syscall("fchmodat", 200, 0, [i64(12), str("passwd"), i64(0o4755), str("")]));
    expect(get(unknown, "evt.arg", "filename")).toBe("passwd");
    const abs = feed(syscall("chmod", 200, 0, [str("/etc/../etc/passwd"), i64(0o644)]));
    expect(get(abs, "evt.arg", "filename")).toBe("/etc/../etc/passwd");
    const mk = feed(syscall("mkdir", 200, 0, [str("../d"), i64(0o755)]));
    expect(get(mk, "evt.arg", "path")).toBe("/d");
  });

  it("modes and ids render as Falco renders them in evt.arg", () => {
    const { get, feed } = setup();
    const suid = feed(syscall("fchmodat", 200, 0, [i64(-100), str("/tmp/x"), i64(0o4755), str("")]));
    expect(get(suid, "evt.arg", "mode")).toBe("S_IXOTH|S_IROTH|S_IXGRP|S_IRGRP|S_IXUSR|S_IWUSR|S_IRUSR|S_ISUID");
    expect(get(suid, "evt.rawarg", "mode")).toBe(0o4755);
    expect(get(feed(syscall("chmod", 200, 0, [str("/tmp/x"), i64(0o2000)])), "evt.arg", "mode")).toBe("S_ISGID");
    expect(get(feed(syscall("fchmod", 200, 0, [i64(3), i64(0o644), str("")])), "evt.arg", "mode")).toBe("S_IROTH|S_IRGRP|S_IWUSR|S_IRUSR");
    expect(get(feed(syscall("chmod", 200, 0, [str("/tmp/x"), i64(0)])), "evt.arg", "mode")).toBe("0");
    // open modes in octal, mkdir's in hex, as Falco's event table formats them
    expect(get(feed(syscall("openat", 200, 3, [i64(-100), str("/tmp/n"), i64(0o101), i64(0o644), str("")])), "evt.arg", "mode")).toBe("0644");
    expect(get(feed(syscall("mkdir", 200, 0, [str("/tmp/d"), i64(0o755)])), "evt.arg", "mode")).toBe("1ED");

    // user and group ids by name; unknown: <NA>; -1 (leave unchanged): <NONE>
    expect(get(feed(syscall("setuid", 200, 0, [i64(1000)])), "evt.arg", "uid")).toBe("alice");
    expect(get(feed(syscall("setuid", 200, -1, [i64(33)])), "evt.arg", "uid")).toBe("<NA>");
    const res = feed(syscall("setresuid", 200, 0, [i64(0xffffffff), i64(0), i64(0xffffffff)]));
    expect([get(res, "evt.arg", "ruid"), get(res, "evt.arg", "euid"), get(res, "evt.arg", "suid")]).toEqual(["<NONE>", "root", "<NONE>"]);
    expect(get(res, "evt.rawarg", "euid")).toBe(0);
    expect(get(feed(syscall("setgid", 200, 0, [i64(1000)])), "evt.arg", "gid")).toBe("staff");
    expect(get(feed(syscall("setuid", 200, 0, [i64(1000)])), "evt.args")).toBe("res=SUCCESS uid=alice");
  });

  it("proc.duration counts to the event's time, not to when the event is evaluated", () => {
    const { get, feed, table } = setup();
    feed(syscall("setsid", 200, 200, []));
    table.peek(200)!.startNs = 2_000_000_000;
    const e = feed(syscall("setsid", 200, 200, [], { ts: 7_000_000_000 }));
    expect(get(e, "proc.duration")).toBe(5_000_000_000);
  });

  it("namespace and bpf calls: flags and commands by name, setns's descriptor named", () => {
    const { get, feed } = setup();
    const un = feed(syscall("unshare", 200, 0, [i64(0x10020000)]));
    expect(get(un, "evt.arg", "flags")).toBe("CLONE_NEWNS|CLONE_NEWUSER");
    expect(get(feed(syscall("clone", 200, 300, [i64(0x1200011)])), "evt.arg", "flags")).toBe("CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID");
    // the descriptor of /proc/1/ns/mnt, opened where the kernel-side filter kept it
    const ns = feed(syscall("setns", 200, 0, [i64(5), i64(0x20000), str("/proc/1/ns/mnt")]));
    expect(get(ns, "evt.arg", "nstype")).toBe("CLONE_NEWNS");
    expect(get(ns, "fd.name")).toBe("/proc/1/ns/mnt");
    expect(get(ns, "evt.type")).toBe("setns");
    const bpf = feed(syscall("bpf", 200, -22, [i64(5)]));
    expect(get(bpf, "evt.arg", "cmd")).toBe("BPF_PROG_LOAD");
    expect(get(feed(syscall("bpf", 200, 3, [i64(0)])), "evt.arg", "cmd")).toBe("BPF_MAP_CREATE");
  });

  it("chdir moves the cwd used by later relative opens", () => {
    const { get, feed } = setup();
    feed(syscall("chdir", 200, 0, [str("/tmp/work")]));
    const e = feed(syscall("openat", 200, 3, [i64(-100), str("a.txt"), i64(0), i64(0)]));
    expect(get(e, "fd.name")).toBe("/tmp/work/a.txt");
    expect(get(e, "proc.cwd")).toBe("/tmp/work/");
  });

  it("connect and dup: socket tuple, client/server ends, protocol; dup keeps the socket", () => {
    const { get, feed } = setup();
    feed(syscall("socket", 200, 7, [i64(2), i64(1), i64(0)]));
    const t = tuple({ family: 2, protocol: 6, saddr: [10, 0, 0, 5], sport: 40000, daddr: [93, 184, 216, 34], dport: 443 });
    const c = feed(syscall("connect", 200, 0, [i64(7), sockaddrIn([93, 184, 216, 34], 443), i64(16), t]));
    expect(get(c, "fd.name")).toBe("10.0.0.5:40000->93.184.216.34:443");
    expect(get(c, "fd.type")).toBe("ipv4");
    expect(get(c, "fd.l4proto")).toBe("tcp");
    expect(get(c, "fd.sip")).toBe("93.184.216.34");
    expect(get(c, "fd.cip")).toBe("10.0.0.5");
    expect(get(c, "fd.rport")).toBe(443);
    expect(get(c, "fd.lport")).toBe(40000);
    expect(get(c, "fd.sport")).toBe(443);
    expect(get(c, "fd.connected")).toBe(true);
    expect(get(c, "evt.arg", "addr")).toBe("93.184.216.34:443");
    const d = feed(syscall("dup2", 200, 1, [i64(7), i64(1)]));
    expect(get(d, "fd.type")).toBe("ipv4");
    expect(get(d, "fd.num")).toBe(1);
    expect(get(d, "evt.rawres")).toBe(1);
    expect(get(d, "fd.types", "1")).toEqual(["ipv4"]);
  });

  it("fd.ip, fd.net and fd.port compare both ends as Falco does: = matches either, != needs neither", () => {
    const { feed, source } = setup();
    const t = tuple({ family: 2, protocol: 6, saddr: [10, 0, 0, 5], sport: 40000, daddr: [203, 0, 113, 7], dport: 443 });
    const c = feed(syscall("connect", 200, 0, [i64(7), sockaddrIn([203, 0, 113, 7], 443), i64(16), t]));
    const holds = (cond: string) => compiled(cond, source)(c);
    expect(holds("fd.ip = 203.0.113.7")).toBe(true);
    expect(holds("fd.ip = 10.0.0.5")).toBe(true);
    expect(holds("fd.ip in (192.0.2.1, 10.0.0.5)")).toBe(true);
    expect(holds("fd.ip = 192.0.2.1")).toBe(false);
    expect(holds('fd.ip != "0.0.0.0"')).toBe(true);
    expect(holds("fd.ip != 10.0.0.5")).toBe(false); // one end is 10.0.0.5
    expect(holds("fd.net = 10.0.0.0/8")).toBe(true);
    expect(holds('fd.net != "127.0.0.0/8"')).toBe(true);
    expect(holds("fd.net != 10.0.0.0/8")).toBe(false);
    expect(holds("fd.port = 443")).toBe(true);
    expect(holds("fd.port != 40000")).toBe(false);
  });

  it("fd.sip.name compares by resolving the rule's name, as Falco does (no reverse DNS)", async () => {
    const table = new ProcessTable({ read: (pid) => (pid === 200 ? proc(200, 1, "curl") : undefined) });
    const resolved: string[] = [];
    const hostNames = new HostNames(async (name) => {
      resolved.push(name);
      if (name === "kubernetes.default.svc.cluster.local") return ["10.96.0.1"];
      throw new Error("NXDOMAIN");
    });
    const source = createSyscallSource({ table, users: { userName: () => undefined, groupName: () => undefined }, bootOffsetNs: () => 0n, hostNames });
    const tracker = new SyscallTracker(table);
    const connect = (dst: number[]) => {
      let ev: SyscallEvent | undefined;
      const t = tuple({ family: 2, protocol: 6, saddr: [10, 0, 0, 5], sport: 40000, daddr: dst, dport: 443 });
      tracker.process(syscall("connect", 200, 0, [i64(7), sockaddrIn(dst, 443), i64(16), t]), (e) => (ev = e));
      return ev!;
    };
    const isApi = compiled('fd.sip.name = "kubernetes.default.svc.cluster.local"', source);
    const notApi = compiled('fd.sip.name != "kubernetes.default.svc.cluster.local"', source);
    const nowhere = compiled("fd.sip.name = nowhere.invalid", source);
    expect(resolved).toEqual(["kubernetes.default.svc.cluster.local", "nowhere.invalid"]); // at compile time
    await hostNames.settled();
    const api = connect([10, 96, 0, 1]);
    const other = connect([10, 96, 0, 2]);
    expect([isApi(api), notApi(api), nowhere(api)]).toEqual([true, false, false]);
    expect([isApi(other), notApi(other), nowhere(other)]).toEqual([false, true, false]);
    expect(source.extractor("fd.sip.name", undefined)!(api)).toBe("kubernetes.default.svc.cluster.local");
    expect(source.extractor("fd.cip.name", undefined)!(api)).toBe("");
  });

  it("exists and in on lists and ancestors, as Falco: no ancestors do not exist, an empty list is in any set", () => {
    const { feed, source } = setup();
    const holds = (cond: string, ev: SyscallEvent) => compiled(cond, source)(ev);
    const init = feed(syscall("setsid", 1, 1, [])); // pid 1: no parent
    const bash = feed(syscall("setsid", 200, 200, []));
    expect([holds("proc.aname exists", init), holds("proc.aname exists", bash)]).toEqual([false, true]);
    expect(holds("proc.aname in (sshd)", bash)).toBe(true);
    expect(holds("fd.types in (file)", init)).toBe(true); // no descriptors known
    feed(syscall("openat", 200, 3, [i64(-100), str("/etc/hostname"), i64(0), i64(0), str("")]));
    const withFd = feed(syscall("setsid", 200, 200, []));
    expect([holds("fd.types in (file)", withFd), holds("fd.types in (ipv4)", withFd), holds("fd.types exists", withFd)]).toEqual([true, false, true]);
  });

  it("an IPv6 socket with IPv4-mapped ends is an IPv4 socket, as in Falco", () => {
    const { get, feed } = setup();
    const mapped = (a: number[]) => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...a];
    const t = tuple({ family: 10, protocol: 6, saddr: mapped([10, 0, 0, 5]), sport: 40000, daddr: mapped([169, 254, 169, 254]), dport: 80 });
    const c = feed(syscall("connect", 200, 0, [i64(7), str(""), i64(28), t]));
    expect(get(c, "fd.type")).toBe("ipv4");
    expect(get(c, "fd.typechar")).toBe("4");
    expect(get(c, "fd.sip")).toBe("169.254.169.254");
    expect(get(c, "fd.name")).toBe("10.0.0.5:40000->169.254.169.254:80");
    // a real IPv6 end keeps the socket IPv6
    const v6 = tuple({ family: 10, protocol: 6, saddr: mapped([10, 0, 0, 5]), sport: 40001, daddr: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], dport: 443 });
    const c6 = feed(syscall("connect", 200, 0, [i64(8), str(""), i64(28), v6]));
    expect(get(c6, "fd.type")).toBe("ipv6");
    expect(get(c6, "fd.sip")).toBe("2001:db8::1");
  });

  it("ptrace requests, symlink arguments and the event type index", () => {
    const { get, feed, source } = setup();
    const p = feed(syscall("ptrace", 200, 0, [i64(16), i64(4242)]));
    expect(get(p, "evt.arg", "request")).toBe("PTRACE_ATTACH");
    expect(get(p, "evt.type")).toBe("ptrace");
    expect(source.eventType(p)).toBe("ptrace");
    const s = feed(syscall("symlinkat", 200, 0, [str("/etc/shadow"), i64(-100), str("/tmp/x")]));
    expect(get(s, "evt.arg", "target")).toBe("/etc/shadow");
    expect(get(s, "evt.arg", "linkpath")).toBe("/tmp/x");
    expect(get(s, "evt.args")).toBe("res=SUCCESS target=/etc/shadow linkdirfd=-100 linkpath=/tmp/x");
  });

  it("an exited parent's children are reparented as the kernel did, read from /proc", () => {
    const known = new Map<number, Proc>([
      [1, proc(1, 0, "systemd")],
      [200, proc(200, 1, "bash")],
    ]);
    const parents = new Map<number, number>([[601, 1]]);
    const asked: number[] = [];
    const table = new ProcessTable({ read: (pid) => known.get(pid), parentOf: (pid) => (asked.push(pid), parents.get(pid)) });
    const tracker = new SyscallTracker(table);
    for (const f of [fork(200, 600), fork(600, 601), fork(200, 700), exit(700), exit(600)]) tracker.process(f, () => {});
    expect(asked).toEqual([601]); // 700 never forked: its exit reads nothing
    expect(table.peek(601)!.ppid).toBe(1);
    expect(table.ancestor(table.peek(601)!, 1)!.comm).toBe("systemd");
  });

  it("an exited process lingers for late lookups, then goes", () => {
    const { feed, table } = setup();
    feed(fork(200, 400), exit(400));
    expect(table.peek(400)?.exitedAt).toBeDefined();
    table.sweep(Date.now() + 10_000);
    expect(table.peek(400)).toBeUndefined();
  });

  it("processes gone without an exit event are reconciled away", () => {
    const { feed, table } = setup();
    feed(fork(200, 500), fork(200, 501));
    expect(table.reconcile((pid) => pid !== 501, Date.now())).toBe(1);
    table.sweep(Date.now() + 10_000);
    expect(table.peek(501)).toBeUndefined();
    expect(table.peek(500)).toBeDefined();
  });

  it("an event from a process never seen reads it (here: the fixed table) once", () => {
    const { get, feed, table } = setup();
    const e = feed(syscall("openat", 100, 3, [i64(-100), str("x"), i64(0), i64(0)]));
    expect(get(e, "proc.name")).toBe("sshd");
    expect(get(e, "fd.name")).toBe("/root/x");
    expect(table.lateReads).toBe(1);
  });
});
