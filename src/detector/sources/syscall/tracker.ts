/**
 * Turns the sensor's frames into SyscallEvents for the rule engine and keeps the process and
 * fd tables in step. Order per event, as Falco's parser does it: the event sees the state it
 * creates (an open's new descriptor, an exec's new image), and state it destroys (a closed
 * descriptor) is dropped only after the rules have seen the event.
 */
import { AT_FDCWD, O } from "./flags.js";
import { containerIdFromCgroup, HOST_CONTAINER_ID } from "./container.js";
import {
  EV,
  EXEC_INFO,
  EXEC_PARAM,
  FORK_INFO,
  KIND,
  SYSCALL_BY_ID,
  paramArgs,
  paramBytes,
  paramInt,
  paramStr,
  readHello,
  readSockAddr,
  readSockTuple,
  readStats,
  readU64,
  type Frame,
  type SensorCounters,
  type SockTuple,
  type SyscallSpec,
} from "./wire.js";
import { emptyProc, resolvePath, ttyNumber, tupleName, type FdInfo, type FdType, type Proc, type ProcessTable } from "./state.js";

export type ArgValue = number | string | Buffer | SockTuple | undefined;

export interface SyscallEvent {
  /** evt.num: sequence number since the detector started. */
  num: number;
  /** evt.type: the syscall name. */
  type: string;
  spec: SyscallSpec | undefined;
  /** Nanoseconds since boot. */
  tsBoot: number;
  tid: number;
  ret: number;
  /** Effective ids of the thread at the event. */
  uid: number;
  gid: number;
  proc: Proc;
  /** The descriptor the event concerns, when it has one. */
  fd: FdInfo | undefined;
  fdNum: number | undefined;
  /** True when the event gave the descriptor its name (connect, accept, bind, open...). */
  fdNameChanged: boolean;
  /** Arguments by Falco's parameter name. */
  args: Map<string, ArgValue>;
  /** open flags of an open* event, or the exe flags of an exec. */
  flags: number | undefined;
}

const FAMILY_TYPE: Record<number, FdType> = { 1: "unix", 2: "ipv4", 10: "ipv6", 16: "netlink", 17: "packet" };

function i32(v: number | undefined): number | undefined {
  // Most integer arguments are C ints travelling in 64-bit registers: -100 arrives as 2^32-100.
  if (v !== undefined && v >= 0x80000000 && v < 0x100000000) return v - 0x100000000;
  return v;
}

export interface TrackerStats {
  frames: number;
  events: number;
  sensor: SensorCounters | undefined;
}

export class SyscallTracker {
  private num = 0;
  bootOffsetNs = 0n;
  frames = 0;
  events = 0;
  sensorCounters: SensorCounters | undefined;
  onStats: ((c: SensorCounters) => void) | undefined;

  constructor(readonly table: ProcessTable) {}

  /**
   * Applies one frame; when it is a rule-visible event, calls `visit` with it before the
   * state it destroys is dropped.
   */
  process(f: Frame, visit: (e: SyscallEvent) => void): void {
    this.frames++;
    switch (f.type) {
      case EV.SYSCALL:
        this.syscall(f, visit);
        return;
      case EV.EXEC:
        this.exec(f, visit);
        return;
      case EV.FORK: {
        const at = f.offs[0];
        if (at === undefined) return;
        const child = f.buf.readUInt32LE(at + FORK_INFO.child_tgid);
        const ppid = f.buf.readUInt32LE(at + FORK_INFO.ppid);
        const vpid = f.buf.readUInt32LE(at + FORK_INFO.vpid);
        const start = readU64(f.buf, at + FORK_INFO.start_ns);
        this.table.fork(this.table.get(f.tgid), child, ppid, vpid, start);
        return;
      }
      case EV.EXIT:
        this.table.exit(f.tgid, Date.now());
        return;
      case EV.HELLO:
        this.bootOffsetNs = readHello(f).bootOffsetNs;
        return;
      case EV.STATS:
        this.sensorCounters = readStats(f);
        this.onStats?.(this.sensorCounters);
        return;
    }
  }

  private exec(f: Frame, visit: (e: SyscallEvent) => void): void {
    const p = this.table.peek(f.tgid) ?? emptyProc(f.tgid);
    const b = f.buf;
    const at = f.offs[EXEC_PARAM.info]!;
    const argv = paramArgs(f, EXEC_PARAM.args);
    const comm = paramStr(f, EXEC_PARAM.comm) ?? p.comm;
    p.ppid = b.readUInt32LE(at + EXEC_INFO.ppid);
    p.sid = b.readUInt32LE(at + EXEC_INFO.sid);
    p.pgid = b.readUInt32LE(at + EXEC_INFO.pgid);
    p.vpid = b.readUInt32LE(at + EXEC_INFO.vpid);
    p.vpgid = b.readUInt32LE(at + EXEC_INFO.vpgid);
    const loginuid = b.readUInt32LE(at + EXEC_INFO.loginuid);
    p.loginuid = loginuid === 0xffffffff ? -1 : loginuid;
    p.uid = b.readUInt32LE(at + EXEC_INFO.uid);
    p.gid = b.readUInt32LE(at + EXEC_INFO.gid);
    p.euid = b.readUInt32LE(at + EXEC_INFO.euid);
    p.egid = b.readUInt32LE(at + EXEC_INFO.egid);
    const tty = b.readUInt32LE(at + EXEC_INFO.tty);
    p.tty = tty === 0 ? 0 : ttyNumber(tty >>> 20, tty & 0xfffff);
    p.exeFlags = b.readUInt32LE(at + EXEC_INFO.flags);
    p.capEffective = b.readBigUInt64LE(at + EXEC_INFO.cap_effective);
    p.startNs = readU64(b, at + EXEC_INFO.start_ns);
    p.exeIno = readU64(b, at + EXEC_INFO.exe_ino);
    p.exeCtimeNs = b.readBigInt64LE(at + EXEC_INFO.exe_ctime_ns);
    p.exeMtimeNs = b.readBigInt64LE(at + EXEC_INFO.exe_mtime_ns);
    p.comm = comm;
    p.exe = argv[0] ?? comm;
    p.args = argv.slice(1);
    p.exepath = paramStr(f, EXEC_PARAM.exepath) ?? p.exepath;
    p.cwd = paramStr(f, EXEC_PARAM.cwd) ?? p.cwd;
    const cgroup = paramStr(f, EXEC_PARAM.cgroup);
    if (cgroup) {
      const id = containerIdFromCgroup(cgroup);
      if (id !== HOST_CONTAINER_ID || p.containerId === HOST_CONTAINER_ID) p.containerId = id;
    }
    p.exitedAt = undefined;
    // descriptors opened with O_CLOEXEC do not survive the exec
    for (const [n, fd] of p.fds) if (fd.flags & O.CLOEXEC) p.fds.delete(n);
    this.table.add(p);

    const spec = SYSCALL_BY_ID[f.sc];
    const args = new Map<string, ArgValue>();
    args.set("filename", paramStr(f, EXEC_PARAM.filename));
    args.set("exe", p.exe);
    args.set("args", p.args.join(" "));
    args.set("cwd", p.cwd);
    args.set("comm", comm);
    args.set("pid", p.pid);
    args.set("ptid", p.ppid);
    args.set("tty", p.tty);
    args.set("pgid", p.pgid);
    args.set("loginuid", p.loginuid);
    this.events++;
    visit({
      num: ++this.num,
      type: spec?.name ?? "execve",
      spec,
      tsBoot: f.ts,
      tid: f.tid,
      ret: 0,
      uid: f.uid,
      gid: f.gid,
      proc: p,
      fd: undefined,
      fdNum: undefined,
      fdNameChanged: false,
      args,
      flags: p.exeFlags,
    });
  }

  private syscall(f: Frame, visit: (e: SyscallEvent) => void): void {
    const spec = SYSCALL_BY_ID[f.sc];
    if (!spec) return;
    const p = this.table.get(f.tgid) ?? this.table.fork(undefined, f.tgid, 0, f.tgid, 0);
    p.euid = f.uid;
    p.egid = f.gid;
    const args = new Map<string, ArgValue>();
    let pi = 0;
    for (let a = 0; a < 6; a++) {
      const kind = spec.args[a]!;
      if (kind === KIND.NONE) continue;
      const name = spec.paramNames[pi]!;
      if (kind === KIND.INT) args.set(name, i32(paramInt(f, pi)));
      else if (kind === KIND.STR) args.set(name, paramStr(f, pi));
      else args.set(name, paramBytes(f, pi));
      pi++;
    }
    let tuple: SockTuple | undefined;
    if (spec.extra !== 0 && f.lens[pi]) {
      tuple = readSockTuple(f.buf, f.offs[pi]!);
      if (tuple.family === 0) tuple = undefined;
      args.set("tuple", tuple);
    }
    const ev: SyscallEvent = {
      num: ++this.num,
      type: spec.name,
      spec,
      tsBoot: f.ts,
      tid: f.tid,
      ret: f.ret,
      uid: f.uid,
      gid: f.gid,
      proc: p,
      fd: undefined,
      fdNum: undefined,
      fdNameChanged: false,
      args,
      flags: undefined,
    };
    const after = this.describe(ev, p, tuple);
    this.events++;
    visit(ev);
    after?.();
  }

  /** Fills the event's descriptor; returns the state change to apply once rules have run. */
  private describe(ev: SyscallEvent, p: Proc, tuple: SockTuple | undefined): (() => void) | undefined {
    const a = ev.args;
    const ret = ev.ret;
    const num = (k: string) => a.get(k) as number | undefined;
    const str = (k: string) => a.get(k) as string | undefined;
    const dirOf = (dirfd: number | undefined) =>
      dirfd === undefined || dirfd === AT_FDCWD ? p.cwd : (p.fds.get(dirfd)?.name ?? p.cwd);
    switch (ev.type) {
      case "open":
      case "openat":
      case "openat2":
      case "creat": {
        const raw = str("name") ?? "";
        let flags = num("flags") ?? 0;
        if (ev.type === "creat") flags = O.CREAT | O.WRONLY | O.TRUNC;
        if (ev.type === "openat2") {
          const how = a.get("how") as Buffer | undefined;
          flags = how && how.length >= 8 ? how.readUInt32LE(0) : 0;
          a.set("flags", flags);
        }
        ev.flags = flags;
        const type: FdType = flags & O.DIRECTORY && !(flags & O.TMPFILE) ? "directory" : "file";
        const fd: FdInfo = { type, name: resolvePath(dirOf(num("dirfd")), raw), nameRaw: raw, flags };
        ev.fd = fd;
        ev.fdNum = ret >= 0 ? ret : -1;
        ev.fdNameChanged = true;
        a.set("fd", ev.fdNum);
        return ret >= 0 ? () => void p.fds.set(ret, fd) : undefined;
      }
      case "memfd_create": {
        const fd: FdInfo = { type: "memfd", name: `memfd:${str("name") ?? ""}`, flags: num("flags") ?? 0 };
        ev.fd = fd;
        ev.fdNum = ret >= 0 ? ret : -1;
        a.set("fd", ev.fdNum);
        return ret >= 0 ? () => void p.fds.set(ret, fd) : undefined;
      }
      case "socket": {
        const family = num("domain") ?? 0;
        const sockType = num("type") ?? 0;
        const fd: FdInfo = { type: FAMILY_TYPE[family] ?? "unknown", name: "", flags: 0, family, sockType, protocol: num("proto") ?? 0 };
        ev.fd = fd;
        ev.fdNum = ret >= 0 ? ret : -1;
        a.set("fd", ev.fdNum);
        return ret >= 0 ? () => void p.fds.set(ret, fd) : undefined;
      }
      case "connect":
      case "bind":
      case "listen":
      case "sendto":
      case "sendmsg":
      case "accept":
      case "accept4": {
        const accepting = ev.type === "accept" || ev.type === "accept4";
        const n = accepting ? ret : num("fd");
        const old = n !== undefined ? p.fds.get(n) : undefined;
        const fd: FdInfo = old ? { ...old } : { type: "unknown", name: "", flags: 0 };
        const addr = a.get("addr") as Buffer | undefined;
        const sa = addr ? readSockAddr(addr) : undefined;
        if (sa?.addr !== undefined) a.set("addr", `${sa.addr}:${sa.port}`);
        else if (sa?.path !== undefined) a.set("addr", sa.path);
        if (tuple) {
          fd.type = FAMILY_TYPE[tuple.family] ?? fd.type;
          fd.tuple = tuple;
          fd.protocol = tuple.protocol;
          fd.sockType = tuple.type;
          fd.family = tuple.family;
          if (tuple.family === 2 || tuple.family === 10) fd.name = tupleName(tuple);
        }
        if (sa?.path !== undefined && (fd.type === "unix" || sa.family === 1)) {
          fd.type = "unix";
          fd.name = sa.path;
        }
        fd.role = accepting ? "server" : ev.type === "connect" || ev.type === "sendto" || ev.type === "sendmsg" ? "client" : fd.role;
        ev.fd = fd;
        ev.fdNum = n;
        ev.fdNameChanged = ev.type !== "sendmsg";
        if (n === undefined || n < 0 || (accepting && ret < 0)) return undefined;
        return () => void p.fds.set(n, fd);
      }
      case "dup":
      case "dup2":
      case "dup3": {
        const old = p.fds.get(num("oldfd") ?? -1);
        ev.fd = old;
        ev.fdNum = ret >= 0 ? ret : -1;
        a.set("fd", ev.fdNum);
        if (ret < 0 || !old) return ret >= 0 ? () => void p.fds.delete(ret) : undefined;
        const copy: FdInfo = { ...old, flags: ev.type === "dup3" && (num("flags") ?? 0) & O.CLOEXEC ? O.CLOEXEC : old.flags & ~O.CLOEXEC };
        return () => void p.fds.set(ret, copy);
      }
      case "close": {
        const n = num("fd") ?? -1;
        ev.fd = p.fds.get(n);
        ev.fdNum = n;
        return ret === 0 ? () => void p.fds.delete(n) : undefined;
      }
      case "fchmod":
      case "finit_module":
      case "fchdir": {
        const n = num("fd") ?? -1;
        ev.fd = p.fds.get(n);
        ev.fdNum = n;
        if (ev.type !== "fchdir" || ret !== 0) return undefined;
        return () => {
          const dir = p.fds.get(n);
          if (dir?.name.startsWith("/")) p.cwd = dir.name;
          else {
            const fresh = this.table.reread(p.pid);
            if (fresh) p.cwd = fresh.cwd;
          }
        };
      }
      case "chdir":
        if (ret !== 0) return undefined;
        return () => {
          p.cwd = resolvePath(p.cwd, str("path") ?? "");
        };
      case "setsid":
        if (ret <= 0) return undefined;
        return () => {
          p.sid = ret;
          p.pgid = ret;
        };
      default:
        return undefined;
    }
  }

  stats(): TrackerStats {
    return { frames: this.frames, events: this.events, sensor: this.sensorCounters };
  }
}
