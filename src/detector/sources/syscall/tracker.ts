/**
 * Turns the sensor's frames into SyscallEvents for the rule engine and keeps the process and
 * fd tables in step. Order per event, as Falco's parser does it: the event sees the state it
 * creates (an open's new descriptor, an exec's new image), and state it destroys (a closed
 * descriptor) is dropped only after the rules have seen the event.
 */
import { AT_FDCWD, O } from "./flags.js";
import { containerIdFromCgroup, containerIdFromProcCgroup, HOST_CONTAINER_ID } from "./container.js";
import {
  EV,
  EXTRA,
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
  /** Falco's parameter names, and the values in the same order (see eventArg). */
  argNames: readonly string[];
  argValues: ArgValue[];
  /** open flags of an open* event, or the exe flags of an exec. */
  flags: number | undefined;
  /**
   * Paths of descriptor arguments, by argument position, sent by the sensor when the table
   * cannot know them (the kernel-side filter kept the open that made them).
   */
  fdPaths?: (string | undefined)[] | undefined;
  /**
   * evt.arg values of relative path parameters joined to their directory (the cwd, or the
   * dirfd's path), by parameter index, as Falco resolves them; undefined where the raw
   * value stands.
   */
  resolvedArgs?: (string | undefined)[] | undefined;
}

const FAMILY_TYPE: Record<number, FdType> = { 1: "unix", 2: "ipv4", 10: "ipv6", 16: "netlink", 17: "packet" };

const EXEC_ARG_NAMES = ["filename", "exe", "args", "cwd", "comm", "pid", "ptid", "tty", "pgid", "loginuid"] as const;

/** One argument by Falco's name; undefined when the event has no such argument. */
export function eventArg(e: SyscallEvent, name: string): ArgValue {
  const i = e.argNames.indexOf(name);
  if (i >= 0) return e.argValues[i];
  if (name === "fd" && e.fdNum !== undefined) return e.fdNum;
  return undefined;
}

function isUnspecified(ip: string): boolean {
  return ip === "0.0.0.0" || ip === "::";
}

/** The syscall argument position (0-5) of parameter `paramIndex`. */
function argPosition(spec: SyscallSpec, paramIndex: number): number {
  let seen = -1;
  for (let a = 0; a < 6; a++) {
    if (spec.args[a] === KIND.NONE) continue;
    if (++seen === paramIndex) return a;
  }
  return -1;
}

// What to do to the tables once the rules have seen an event (no closure per event).
const enum Pending {
  None,
  SetFd,
  DeleteFd,
  Chdir,
  Fchdir,
  Setsid,
}

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
  /** The next evt.num, for events made here rather than by the sensor (Falco's container event). */
  nextNum(): number {
    return ++this.num;
  }
  bootOffsetNs = 0n;
  frames = 0;
  events = 0;
  sensorCounters: SensorCounters | undefined;
  onStats: ((c: SensorCounters) => void) | undefined;

  /**
   * @param readProcCgroup  /proc/PID/cgroup's text, read when an exec comes without a cgroup
   *   name: on a host without a unified (v2) hierarchy the kernel's default cgroup is the
   *   root, nameless, and the container is named in the v1 hierarchies instead.
   */
  constructor(
    readonly table: ProcessTable,
    private readonly readProcCgroup?: (pid: number) => string | undefined,
  ) {}

  /**
   * The descriptor in argument 0 of `ev`. When the kernel-side filter kept the open that
   * made it, the table has no entry and the sensor sent its path with the event instead.
   */
  private argFd(p: Proc, ev: SyscallEvent): FdInfo | undefined {
    const n = ev.argValues[0] as number | undefined;
    const carried = ev.fdPaths?.[0];
    if (carried) return { type: "file", name: carried, flags: 0 };
    return n === undefined || n < 0 ? undefined : p.fds.get(n);
  }

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
    p.capPermitted = b.readBigUInt64LE(at + EXEC_INFO.cap_permitted);
    p.capInheritable = b.readBigUInt64LE(at + EXEC_INFO.cap_inheritable);
    p.startNs = readU64(b, at + EXEC_INFO.start_ns);
    p.exeIno = readU64(b, at + EXEC_INFO.exe_ino);
    p.exeCtimeNs = b.readBigInt64LE(at + EXEC_INFO.exe_ctime_ns);
    p.exeMtimeNs = b.readBigInt64LE(at + EXEC_INFO.exe_mtime_ns);
    p.comm = comm;
    p.exe = argv[0] ?? comm;
    p.args = argv.slice(1);
    p.env = paramArgs(f, EXEC_PARAM.env);
    p.exepath = paramStr(f, EXEC_PARAM.exepath) ?? p.exepath;
    p.cwd = paramStr(f, EXEC_PARAM.cwd) ?? p.cwd;
    const cgroup = paramStr(f, EXEC_PARAM.cgroup);
    if (cgroup) {
      const id = containerIdFromCgroup(cgroup);
      if (id !== HOST_CONTAINER_ID || p.containerId === HOST_CONTAINER_ID) p.containerId = id;
    } else if (this.readProcCgroup) {
      const text = this.readProcCgroup(p.pid);
      if (text !== undefined) p.containerId = containerIdFromProcCgroup(text);
    }
    p.exitedAt = undefined;
    // descriptors opened with O_CLOEXEC do not survive the exec
    for (const [n, fd] of p.fds) if (fd.flags & O.CLOEXEC) p.fds.delete(n);
    this.table.add(p);

    const spec = SYSCALL_BY_ID[f.sc];
    const argValues: ArgValue[] = [paramStr(f, EXEC_PARAM.filename), p.exe, p.args.join(" "), p.cwd, comm, p.pid, p.ppid, p.tty, p.pgid, p.loginuid];
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
      argNames: EXEC_ARG_NAMES,
      argValues,
      flags: p.exeFlags,
    });
  }

  private pending = Pending.None;
  private pendProc: Proc | undefined;
  private pendFdNum = 0;
  private pendFd: FdInfo | undefined;

  private syscall(f: Frame, visit: (e: SyscallEvent) => void): void {
    const spec = SYSCALL_BY_ID[f.sc];
    if (!spec) return;
    const p = this.table.get(f.tgid) ?? this.table.fork(undefined, f.tgid, 0, f.tgid, 0);
    p.euid = f.uid;
    p.egid = f.gid;
    const argValues: ArgValue[] = new Array(spec.paramNames.length);
    let pi = 0;
    for (let a = 0; a < 6; a++) {
      const kind = spec.args[a]!;
      if (kind === KIND.NONE) continue;
      if (kind === KIND.INT) argValues[pi] = i32(paramInt(f, pi));
      else if (kind === KIND.STR) argValues[pi] = paramStr(f, pi);
      else argValues[pi] = paramBytes(f, pi);
      pi++;
    }
    let tuple: SockTuple | undefined;
    let fdPaths: (string | undefined)[] | undefined;
    if (spec.extra === EXTRA.FD_PATH_ARG0 || spec.extra === EXTRA.FD_PATH_ARG1) {
      // not arguments of the syscall: kept out of evt.args
      const path = paramStr(f, pi);
      argValues[pi] = undefined;
      if (path) {
        fdPaths = [];
        fdPaths[spec.extra === EXTRA.FD_PATH_ARG1 ? 1 : 0] = path;
      }
    } else if (spec.extra === EXTRA.FD_PATH_ARG0_ARG2) {
      const first = paramStr(f, pi);
      const third = paramStr(f, pi + 1);
      argValues[pi] = argValues[pi + 1] = undefined;
      if (first || third) fdPaths = [first || undefined, undefined, third || undefined];
    } else if (spec.extra !== 0) {
      if (f.lens[pi]) {
        tuple = readSockTuple(f.buf, f.offs[pi]!);
        if (tuple.family === 0) tuple = undefined;
      }
      argValues[pi] = tuple;
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
      argNames: spec.paramNames,
      argValues,
      flags: undefined,
      fdPaths,
    };
    if (spec.paths.length > 0) ev.resolvedArgs = this.resolveArgs(ev, p);
    this.pending = Pending.None;
    this.describe(ev, p, tuple);
    this.events++;
    visit(ev);
    if (this.pending !== Pending.None) this.applyPending();
  }

  /**
   * Joins each relative path parameter to its directory: the descriptor parameter's path
   * (from the table, or carried by the sensor) or the cwd, as Falco does for evt.arg. An
   * absolute path, or a directory nobody knows, leaves the raw value.
   */
  private resolveArgs(ev: SyscallEvent, p: Proc): (string | undefined)[] | undefined {
    let out: (string | undefined)[] | undefined;
    const spec = ev.spec!;
    for (const { param, dirfd } of spec.paths) {
      const i = spec.paramNames.indexOf(param);
      const raw = ev.argValues[i];
      if (typeof raw !== "string" || raw === "" || raw.charCodeAt(0) === 47) continue;
      let base: string | undefined = p.cwd;
      if (dirfd !== undefined) {
        const di = spec.paramNames.indexOf(dirfd);
        const n = ev.argValues[di] as number | undefined;
        if (n !== undefined && n !== AT_FDCWD) {
          // the parameter's position among the syscall's arguments, where fdPaths keys it
          const argPos = argPosition(spec, di);
          base = ev.fdPaths?.[argPos] ?? (n >= 0 ? p.fds.get(n)?.name : undefined);
        }
      }
      if (!base?.startsWith("/")) continue;
      (out ??= [])[i] = resolvePath(base, raw);
    }
    return out;
  }

  private later(kind: Pending, p: Proc, fdNum = 0, fd?: FdInfo): void {
    this.pending = kind;
    this.pendProc = p;
    this.pendFdNum = fdNum;
    this.pendFd = fd;
  }

  private applyPending(): void {
    const p = this.pendProc!;
    const n = this.pendFdNum;
    switch (this.pending) {
      case Pending.SetFd:
        p.fds.set(n, this.pendFd!);
        break;
      case Pending.DeleteFd:
        p.fds.delete(n);
        break;
      case Pending.Chdir:
        p.cwd = this.pendFd!.name;
        break;
      case Pending.Fchdir: {
        const dir = this.pendFd ?? p.fds.get(n);
        if (dir?.name.startsWith("/")) p.cwd = dir.name;
        else {
          const fresh = this.table.reread(p.pid);
          if (fresh) p.cwd = fresh.cwd;
        }
        break;
      }
      case Pending.Setsid:
        p.sid = n;
        p.pgid = n;
        break;
    }
    this.pending = Pending.None;
    this.pendProc = undefined;
    this.pendFd = undefined;
  }

  /** Fills the event's descriptor and notes the state change to apply once rules have run. */
  private describe(ev: SyscallEvent, p: Proc, tuple: SockTuple | undefined): void {
    const v = ev.argValues;
    const ret = ev.ret;
    switch (ev.type) {
      case "open":
      case "openat":
      case "openat2":
      case "creat": {
        // parameter positions: open(name, flags, mode) creat(name, mode) openat*(dirfd, name, flags|how, ...)
        const at = ev.type === "openat" || ev.type === "openat2";
        const raw = (v[at ? 1 : 0] as string | undefined) ?? "";
        let flags: number;
        if (ev.type === "open" || ev.type === "openat") flags = (v[at ? 2 : 1] as number | undefined) ?? 0;
        else if (ev.type === "creat") flags = O.CREAT | O.WRONLY | O.TRUNC;
        else {
          const how = v[2] as Buffer | undefined;
          flags = how && how.length >= 8 ? how.readUInt32LE(0) : 0;
        }
        ev.flags = flags;
        // a failed open is a file whatever it asked for, as Falco types it: the stable rule on
        // directory traversal (open_file_failed) looks for fd.typechar='f'
        const type: FdType = ret >= 0 && flags & O.DIRECTORY && !(flags & O.TMPFILE) ? "directory" : "file";
        const dirfd = at ? (v[0] as number | undefined) : undefined;
        const dir = dirfd === undefined || dirfd === AT_FDCWD ? p.cwd : (this.argFd(p, ev)?.name ?? p.cwd);
        // a relative name was already joined to the same directory for evt.arg (resolveArgs)
        const fd: FdInfo = { type, name: ev.resolvedArgs?.[at ? 1 : 0] ?? resolvePath(dir, raw), nameRaw: raw, flags };
        ev.fd = fd;
        ev.fdNum = ret >= 0 ? ret : -1;
        ev.fdNameChanged = true;
        if (ret >= 0) this.later(Pending.SetFd, p, ret, fd);
        return;
      }
      case "memfd_create": {
        const fd: FdInfo = { type: "memfd", name: `memfd:${(v[0] as string | undefined) ?? ""}`, flags: (v[1] as number | undefined) ?? 0 };
        ev.fd = fd;
        ev.fdNum = ret >= 0 ? ret : -1;
        if (ret >= 0) this.later(Pending.SetFd, p, ret, fd);
        return;
      }
      case "socket": {
        const family = (v[0] as number | undefined) ?? 0;
        const fd: FdInfo = { type: FAMILY_TYPE[family] ?? "unknown", name: "", flags: 0, family, sockType: (v[1] as number | undefined) ?? 0, protocol: (v[2] as number | undefined) ?? 0 };
        ev.fd = fd;
        ev.fdNum = ret >= 0 ? ret : -1;
        if (ret >= 0) this.later(Pending.SetFd, p, ret, fd);
        return;
      }
      case "connect":
      case "bind":
      case "listen":
      case "sendto":
      case "sendmsg":
      case "accept":
      case "accept4": {
        const accepting = ev.type === "accept" || ev.type === "accept4";
        const n = accepting ? ret : (v[0] as number | undefined);
        const old = n !== undefined ? p.fds.get(n) : undefined;
        const fd: FdInfo = old ? { ...old } : { type: "unknown", name: "", flags: 0 };
        const ai = ev.argNames.indexOf("addr");
        const addr = ai >= 0 ? (v[ai] as Buffer | undefined) : undefined;
        const sa = addr ? readSockAddr(addr) : undefined;
        if (ai >= 0) v[ai] = sa?.addr !== undefined ? `${sa.addr}:${sa.port}` : sa?.path;
        // An unconnected datagram socket has no peer in the kernel: the destination is the
        // address passed to sendto, which is where Falco takes it from too.
        if (tuple && ev.type === "sendto" && tuple.dport === 0 && isUnspecified(tuple.daddr) && sa?.addr !== undefined && sa.family === tuple.family) {
          tuple = { ...tuple, daddr: sa.addr, dport: sa.port ?? 0 };
        }
        if (tuple) {
          fd.type = FAMILY_TYPE[tuple.family] ?? fd.type;
          fd.tuple = tuple;
          fd.protocol = tuple.protocol;
          fd.sockType = tuple.type;
          fd.family = tuple.family;
        }
        if (sa?.path !== undefined && (fd.type === "unix" || sa.family === 1)) {
          fd.type = "unix";
          fd.name = sa.path;
        }
        if (accepting) fd.role = "server";
        else if (ev.type === "connect" || ev.type === "sendto" || ev.type === "sendmsg") fd.role = "client";
        if (tuple && (tuple.family === 2 || tuple.family === 10)) fd.name = tupleName(tuple, fd.role === "server");
        ev.fd = fd;
        ev.fdNum = n;
        // as in Falco: only when this event gave the descriptor another name (a datagram
        // socket sending to a new peer), not on every send
        ev.fdNameChanged = (old?.name ?? "") !== fd.name;
        if (n !== undefined && n >= 0 && !(accepting && ret < 0)) this.later(Pending.SetFd, p, n, fd);
        return;
      }
      case "dup":
      case "dup2":
      case "dup3": {
        const old = this.argFd(p, ev);
        ev.fd = old;
        ev.fdNum = ret >= 0 ? ret : -1;
        if (ret < 0) return;
        if (!old) {
          this.later(Pending.DeleteFd, p, ret);
          return;
        }
        const cloexec = ev.type === "dup3" && ((v[2] as number | undefined) ?? 0) & O.CLOEXEC;
        this.later(Pending.SetFd, p, ret, { ...old, flags: cloexec ? O.CLOEXEC : old.flags & ~O.CLOEXEC });
        return;
      }
      case "close": {
        const n = (v[0] as number | undefined) ?? -1;
        ev.fd = p.fds.get(n);
        ev.fdNum = n;
        if (ret === 0) this.later(Pending.DeleteFd, p, n);
        return;
      }
      case "fchmod":
      case "finit_module":
      case "setns":
      case "fchdir": {
        const n = (v[0] as number | undefined) ?? -1;
        ev.fd = this.argFd(p, ev);
        ev.fdNum = n;
        if (ev.type === "fchdir" && ret === 0) this.later(Pending.Fchdir, p, n, ev.fd);
        return;
      }
      case "chdir":
        if (ret === 0) this.later(Pending.Chdir, p, 0, { type: "directory", name: resolvePath(p.cwd, (v[0] as string | undefined) ?? ""), flags: 0 });
        return;
      case "setsid":
        if (ret > 0) this.later(Pending.Setsid, p, ret);
        return;
      default:
        return;
    }
  }

  stats(): TrackerStats {
    return { frames: this.frames, events: this.events, sensor: this.sensorCounters };
  }
}
