/**
 * Turns the sensor's frames into SyscallEvents for the rule engine and keeps the process and
 * fd tables in step. Order per event, as Falco's parser does it: the event sees the state it
 * creates (an open's new descriptor, an exec's new image), and state it destroys (a closed
 * descriptor) is dropped only after the rules have seen the event.
 */
import { AT_FDCWD, O } from "./flags.js";
import { argPosition, DESCRIBE, Pending, type DescribeContext } from "./describe.js";
import type { ArgValue, SyscallEvent } from "./event.js";
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
  readSockTuple,
  readStats,
  readU64,
  type Frame,
  type SensorCounters,
  type SockTuple,
} from "./wire.js";
import { emptyProc, resolvePath, ttyNumber, type FdInfo, type Proc, type ProcessTable } from "./state.js";

export { eventArg, type ArgValue, type SyscallEvent } from "./event.js";

const EXEC_ARG_NAMES = ["filename", "exe", "args", "cwd", "comm", "pid", "ptid", "tty", "pgid", "loginuid"] as const;

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

  private pending: Pending = Pending.None;
  private readonly describeContext: DescribeContext = { later: (kind, p, fdNum, fd) => this.later(kind, p, fdNum, fd) };
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
    DESCRIBE.get(ev.type)?.(ev, p, tuple, this.describeContext);
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

  stats(): TrackerStats {
    return { frames: this.frames, events: this.events, sensor: this.sensorCounters };
  }
}
