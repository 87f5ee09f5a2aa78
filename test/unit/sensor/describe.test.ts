/**
 * The per-family handlers of describe.ts, through the tracker: each syscall's descriptor on
 * the event, and the table change applied only after the rules have seen it.
 */
import { describe, expect, it } from "vitest";
import { DESCRIBE, DESCRIBE_FAMILIES } from "../../../src/detector/sources/syscall/describe.js";
import { O } from "../../../src/detector/sources/syscall/flags.js";
import { emptyProc, ProcessTable, type Proc } from "../../../src/detector/sources/syscall/state.js";
import { SyscallTracker, type SyscallEvent } from "../../../src/detector/sources/syscall/tracker.js";
import { SYSCALL_BY_NAME, type Frame } from "../../../src/detector/sources/syscall/wire.js";
import { i64, sockaddrIn, str, syscall, tuple } from "./frames.js";

const PID = 300;

function setup() {
  const table = new ProcessTable({ read: (pid): Proc | undefined => (pid === PID ? { ...emptyProc(pid), comm: "app", cwd: "/srv" } : undefined) });
  const tracker = new SyscallTracker(table);
  /** The event, and the process's descriptors as the rules saw them (before the change). */
  const feed = (f: Frame) => {
    let seen: { ev: SyscallEvent; fds: number[] } | undefined;
    tracker.process(f, (ev) => (seen = { ev, fds: [...ev.proc.fds.keys()] }));
    return seen!;
  };
  const fds = () => table.peek(PID)!.fds;
  return { table, feed, fds };
}

const howWith = (flags: number) => {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(flags, 0);
  return b;
};

const unixAddr = (path: string) => {
  const b = Buffer.alloc(2 + path.length + 1);
  b.writeUInt16LE(1, 0);
  b.write(path, 2);
  return b;
};

const v4 = { family: 2, protocol: 6, saddr: [10, 0, 0, 1], sport: 40000, daddr: [10, 0, 0, 2], dport: 443 };

describe("describe: the handler table", () => {
  it("names only syscalls of the wire format, each in one family", () => {
    const names = Object.values(DESCRIBE_FAMILIES).flatMap((family) => Object.keys(family));
    expect(new Set(names).size).toBe(names.length);
    for (const name of names) expect(SYSCALL_BY_NAME.has(name), name).toBe(true);
    expect(DESCRIBE.size).toBe(names.length);
  });
});

describe("describe: files", () => {
  it("open and creat: the name against the cwd, flags from the parameter or creat's own", () => {
    const { feed, fds } = setup();
    const open = feed(syscall("open", PID, 3, [str("data/x"), i64(O.WRONLY | O.CLOEXEC), i64(0o644)]));
    expect(open.ev.fd).toMatchObject({ type: "file", name: "/srv/data/x", nameRaw: "data/x" });
    expect(open.ev.flags).toBe(O.WRONLY | O.CLOEXEC);
    expect([open.ev.fdNum, open.ev.fdNameChanged]).toEqual([3, true]);
    expect(open.fds).not.toContain(3); // added after the rules ran
    expect(fds().get(3)?.name).toBe("/srv/data/x");

    const creat = feed(syscall("creat", PID, 4, [str("/tmp/new"), i64(0o600)]));
    expect(creat.ev.flags).toBe(O.CREAT | O.WRONLY | O.TRUNC);
    expect(creat.ev.fd?.name).toBe("/tmp/new");
  });

  it("openat2: the flags come from struct open_how, a directory only when the open succeeded", () => {
    const { feed, fds } = setup();
    const dir = feed(syscall("openat2", PID, 5, [i64(-100), str("/var/log"), howWith(O.DIRECTORY), i64(24), str("")]));
    expect(dir.ev.flags).toBe(O.DIRECTORY);
    expect(dir.ev.fd?.type).toBe("directory");
    const rel = feed(syscall("openat2", PID, 6, [i64(5), str("syslog"), howWith(0), i64(24), str("")]));
    expect(rel.ev.fd?.name).toBe("/var/log/syslog");
    const failed = feed(syscall("openat2", PID, -13, [i64(-100), str("/root"), howWith(O.DIRECTORY), i64(24), str("")]));
    expect([failed.ev.fd?.type, failed.ev.fdNum]).toEqual(["file", -1]);
    const shortHow = feed(syscall("openat2", PID, 7, [i64(-100), str("/etc/hosts"), Buffer.alloc(4), i64(4), str("")]));
    expect(shortHow.ev.flags).toBe(0);
    expect([...fds().keys()]).toEqual([5, 6, 7]);
  });

  it("memfd_create: a memfd named after its name parameter", () => {
    const { feed, fds } = setup();
    const m = feed(syscall("memfd_create", PID, 9, [str("payload"), i64(1)]));
    expect(m.ev.fd).toEqual({ type: "memfd", name: "memfd:payload", flags: 1 });
    expect(fds().get(9)?.type).toBe("memfd");
  });

  it("dup3 sets close-on-exec from its flags, dup2 clears it; a failed dup changes nothing", () => {
    const { feed, fds } = setup();
    feed(syscall("open", PID, 3, [str("/etc/passwd"), i64(O.CLOEXEC), i64(0)]));
    feed(syscall("dup2", PID, 10, [i64(3), i64(10), str("")]));
    expect(fds().get(10)?.flags).toBe(0);
    const d3 = feed(syscall("dup3", PID, 11, [i64(10), i64(11), i64(O.CLOEXEC), str("")]));
    expect([d3.ev.fd?.name, d3.ev.fdNum]).toEqual(["/etc/passwd", 11]);
    expect(fds().get(11)?.flags).toBe(O.CLOEXEC);
    const failed = feed(syscall("dup3", PID, -9, [i64(99), i64(12), i64(0), str("")]));
    expect(failed.ev.fdNum).toBe(-1);
    expect(fds().has(12)).toBe(false);
    // a dup of a descriptor nobody knows: the new number is forgotten rather than misnamed
    fds().set(13, { type: "file", name: "/stale", flags: 0 });
    feed(syscall("dup2", PID, 13, [i64(98), i64(13), str("")]));
    expect(fds().has(13)).toBe(false);
  });

  it("fchmod names its descriptor from the table or the path the sensor carried", () => {
    const { feed } = setup();
    feed(syscall("open", PID, 3, [str("/etc/shadow"), i64(0), i64(0)]));
    expect(feed(syscall("fchmod", PID, 0, [i64(3), i64(0o777), str("")])).ev.fd?.name).toBe("/etc/shadow");
    const carried = feed(syscall("fchmod", PID, 0, [i64(42), i64(0o777), str("/etc/sudoers")]));
    expect([carried.ev.fd?.name, carried.ev.fdNum]).toEqual(["/etc/sudoers", 42]);
  });
});

describe("describe: network", () => {
  it("socket: the descriptor's family, type and protocol", () => {
    const { feed } = setup();
    const s = feed(syscall("socket", PID, 4, [i64(10), i64(2), i64(17)]));
    expect(s.ev.fd).toMatchObject({ type: "ipv6", family: 10, sockType: 2, protocol: 17 });
  });

  it("bind and listen on a unix socket: the path names it; addr becomes text in evt.args", () => {
    const { feed, fds } = setup();
    feed(syscall("socket", PID, 4, [i64(1), i64(1), i64(0)]));
    const bind = feed(syscall("bind", PID, 0, [i64(4), unixAddr("/run/app.sock"), i64(16), Buffer.alloc(0)]));
    expect(bind.ev.fd).toMatchObject({ type: "unix", name: "/run/app.sock" });
    expect(bind.ev.argValues[bind.ev.argNames.indexOf("addr")]).toBe("/run/app.sock");
    expect(bind.ev.fdNameChanged).toBe(true);
    const listen = feed(syscall("listen", PID, 0, [i64(4), i64(128), Buffer.alloc(0)]));
    expect([listen.ev.fd?.name, listen.ev.fdNameChanged]).toEqual(["/run/app.sock", false]);
    expect(fds().get(4)?.name).toBe("/run/app.sock");
  });

  it("accept4: the returned descriptor is the server end of the tuple", () => {
    const { feed, fds } = setup();
    const a = feed(syscall("accept4", PID, 7, [i64(4), i64(0), tuple(v4)]));
    expect(a.ev.fdNum).toBe(7);
    // the server end names the peer first, as Falco's fd.name does
    expect(a.ev.fd).toMatchObject({ type: "ipv4", role: "server", name: "10.0.0.2:443->10.0.0.1:40000" });
    expect(fds().get(7)?.role).toBe("server");
    const failed = feed(syscall("accept", PID, -11, [i64(4), Buffer.alloc(0)]));
    expect([...fds().keys()]).toEqual([7]);
    expect(failed.ev.fdNum).toBe(-11);
  });

  it("sendto on an unconnected datagram socket: the peer is the address passed; sendmsg is a client end", () => {
    const { feed } = setup();
    const unconnected = { family: 2, protocol: 17, type: 2, saddr: [10, 0, 0, 1], sport: 5353, daddr: [0, 0, 0, 0], dport: 0 };
    const s = feed(syscall("sendto", PID, 12, [i64(5), i64(12), i64(0), sockaddrIn([8, 8, 8, 8], 53), i64(16), tuple(unconnected)]));
    expect(s.ev.fd).toMatchObject({ role: "client", name: "10.0.0.1:5353->8.8.8.8:53" });
    expect(s.ev.fd?.tuple).toMatchObject({ daddr: "8.8.8.8", dport: 53 });
    const again = feed(syscall("sendto", PID, 12, [i64(5), i64(12), i64(0), sockaddrIn([8, 8, 8, 8], 53), i64(16), tuple(unconnected)]));
    expect(again.ev.fdNameChanged).toBe(false); // same peer: no new name
    const msg = feed(syscall("sendmsg", PID, 3, [i64(6), i64(0), tuple(v4)]));
    expect(msg.ev.fd).toMatchObject({ role: "client", type: "ipv4" });
  });
});

describe("describe: processes", () => {
  it("finit_module and setns name the descriptor they load or join", () => {
    const { feed } = setup();
    feed(syscall("open", PID, 3, [str("/lib/modules/evil.ko"), i64(0), i64(0)]));
    const mod = feed(syscall("finit_module", PID, 0, [i64(3), str(""), i64(0), str("")]));
    expect([mod.ev.fd?.name, mod.ev.fdNum]).toEqual(["/lib/modules/evil.ko", 3]);
    const ns = feed(syscall("setns", PID, 0, [i64(8), i64(0), str("/proc/1/ns/mnt")]));
    expect(ns.ev.fd?.name).toBe("/proc/1/ns/mnt");
  });

  it("setsid: the new session and group apply after the rules saw the event; a failure changes nothing", () => {
    const { feed, table } = setup();
    const ok = feed(syscall("setsid", PID, PID, []));
    expect(ok.ev.fd).toBeUndefined();
    expect([table.peek(PID)!.sid, table.peek(PID)!.pgid]).toEqual([PID, PID]);
    table.peek(PID)!.sid = 1;
    feed(syscall("setsid", PID, -1, []));
    expect(table.peek(PID)!.sid).toBe(1);
  });

  it("a syscall with no handler has no descriptor and leaves the tables alone", () => {
    const { feed, fds } = setup();
    const e = feed(syscall("setuid", PID, 0, [i64(0)]));
    expect([e.ev.fd, e.ev.fdNum, e.ev.fdNameChanged]).toEqual([undefined, undefined, false]);
    expect(fds().size).toBe(0);
  });
});
