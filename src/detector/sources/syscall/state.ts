/**
 * The process table and per-process fd tables, kept by applying the sensor's events, so
 * fields such as proc.aname[2], proc.pcmdline or fd.name resolve from memory on the hot path.
 * Seeded from /proc at start (procfs.ts); a process the table has never seen is read from
 * /proc on first sight.
 */
import { posix } from "node:path";
import type { SockTuple } from "./wire.js";

export type FdType =
  | "file"
  | "directory"
  | "ipv4"
  | "ipv6"
  | "unix"
  | "pipe"
  | "event"
  | "signalfd"
  | "eventpoll"
  | "inotify"
  | "timerfd"
  | "netlink"
  | "memfd"
  | "packet"
  | "unknown";

const TYPECHAR: Record<FdType, string> = {
  file: "f",
  directory: "d",
  ipv4: "4",
  ipv6: "6",
  unix: "u",
  pipe: "p",
  event: "e",
  signalfd: "s",
  eventpoll: "l",
  inotify: "i",
  timerfd: "t",
  netlink: "n",
  memfd: "m",
  packet: "k",
  unknown: "o",
};

export function typeChar(t: FdType): string {
  return TYPECHAR[t];
}

export interface FdInfo {
  type: FdType;
  /** Resolved name: an absolute path, or "lip:lport->rip:rport" for a connected socket. */
  name: string;
  /** The name as passed to the syscall, before resolution. */
  nameRaw?: string;
  /** open(2) flags; O_CLOEXEC descriptors are dropped at exec. */
  flags: number;
  tuple?: SockTuple;
  /** Which end we are: "client" after connect, "server" after accept. */
  role?: "client" | "server";
  /** Socket created by socket(2) and not yet connected/bound: family/type/protocol. */
  family?: number;
  sockType?: number;
  protocol?: number;
}

export interface Proc {
  pid: number;
  ppid: number;
  vpid: number;
  sid: number;
  pgid: number;
  vpgid: number;
  /** comm: the kernel's 15-character process name. */
  comm: string;
  /** argv[0]. */
  exe: string;
  exepath: string;
  /** argv[1..]. */
  args: string[];
  /** The environment at exec, NAME=value (the first 4 KiB the kernel holds). */
  env: string[];
  cwd: string;
  /** tty number in /proc/PID/stat's encoding (0 = none). */
  tty: number;
  /** -1 when unset. */
  loginuid: number;
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  capEffective: bigint;
  capPermitted: bigint;
  capInheritable: bigint;
  /** Start, ns since boot. */
  startNs: number;
  exeFlags: number;
  exeIno: number;
  exeCtimeNs?: bigint;
  exeMtimeNs?: bigint;
  containerId: string;
  fds: Map<number, FdInfo>;
  /** Set when the process exited; the entry lingers briefly for late lookups. */
  exitedAt?: number;
  /** Set once the process created another: only such an exit has children to reparent. */
  forked?: boolean;
}

/** Encodes a tty as /proc/PID/stat's tty_nr does (new_encode_dev). */
export function ttyNumber(major: number, minor: number): number {
  return (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);
}

/** Resolves a path against a directory, normalizing "." and ".." (no symlinks). */
export function resolvePath(base: string, path: string): string {
  if (path === "") return base;
  // the common case, an already clean absolute path, skips the normalizer
  if (path.charCodeAt(0) === 47 && !path.includes("/.") && !path.includes("//")) return path;
  return posix.resolve(path.startsWith("/") ? "/" : base || "/", path);
}

export interface ProcReader {
  /** Reads one process from /proc; undefined when it is gone. */
  read(pid: number): Proc | undefined;
  /** The current parent of a process (after a reparenting); undefined when it is gone. */
  parentOf?(pid: number): number | undefined;
}

const EXITED_LINGER_MS = 5000;

export class ProcessTable {
  readonly procs = new Map<number, Proc>();
  private readonly exited: number[] = [];
  /** Processes read from /proc because an event arrived before we knew them. */
  lateReads = 0;

  constructor(private readonly reader: ProcReader) {}

  /** The process, read from /proc the first time it is seen. */
  get(pid: number): Proc | undefined {
    let p = this.procs.get(pid);
    if (p) return p;
    p = this.reader.read(pid);
    if (p) {
      this.lateReads++;
      this.procs.set(pid, p);
    }
    return p;
  }

  /** Reads the process from /proc again (its cwd after fchdir to an unknown descriptor). */
  reread(pid: number): Proc | undefined {
    return this.reader.read(pid);
  }

  /** The known process only (no /proc read). */
  peek(pid: number): Proc | undefined {
    return this.procs.get(pid);
  }

  add(p: Proc): void {
    this.procs.set(p.pid, p);
  }

  /** Ancestor n of a process: 0 itself, 1 its parent, ... */
  ancestor(p: Proc, n: number): Proc | undefined {
    let cur: Proc | undefined = p;
    for (let i = 0; i < n && cur; i++) {
      if (cur.ppid === 0 || cur.ppid === cur.pid) return undefined;
      cur = this.get(cur.ppid);
    }
    return cur;
  }

  /** Parent first, up to `max` ancestors. */
  ancestors(p: Proc, max = 16): Proc[] {
    const out: Proc[] = [];
    let cur: Proc | undefined = p;
    for (let i = 0; i < max; i++) {
      if (!cur || cur.ppid === 0 || cur.ppid === cur.pid) break;
      cur = this.get(cur.ppid);
      if (cur) out.push(cur);
    }
    return out;
  }

  /** A new process: a copy of its creator (same image, cwd and descriptors). */
  fork(creator: Proc | undefined, child: number, ppid: number, vpid: number, startNs: number): Proc {
    const base: Proc = creator ?? this.reader.read(child) ?? emptyProc(child);
    const p: Proc = { ...base, pid: child, ppid, vpid, startNs, fds: new Map(base.fds), exitedAt: undefined, forked: false };
    const parent = this.procs.get(ppid);
    if (parent) parent.forked = true;
    if (creator) creator.forked = true;
    this.procs.set(child, p);
    return p;
  }

  /** Marks a process exited; it is removed a few seconds later (late events still resolve). */
  exit(pid: number, now: number): void {
    const p = this.procs.get(pid);
    if (!p) return;
    p.exitedAt = now;
    // The kernel has given its children a new parent (the namespace's init or a subreaper):
    // /proc says which, so proc.pname and proc.aname follow it, as in Falco.
    if (p.forked !== false && this.reader.parentOf) {
      for (const c of this.procs.values()) {
        if (c.ppid !== pid || c.exitedAt !== undefined) continue;
        const parent = this.reader.parentOf(c.pid);
        if (parent !== undefined && parent !== pid) c.ppid = parent;
      }
    }
    this.exited.push(pid);
    this.sweep(now);
  }

  sweep(now: number): void {
    while (this.exited.length > 0) {
      const pid = this.exited[0]!;
      const p = this.procs.get(pid);
      if (p && p.exitedAt !== undefined && now - p.exitedAt < EXITED_LINGER_MS) break;
      this.exited.shift();
      if (p && p.exitedAt !== undefined) this.procs.delete(pid);
    }
  }

  /**
   * Marks exited the processes that are gone from the system without an exit event (lost
   * when a ring buffer overflowed), so the table cannot grow without bound.
   */
  reconcile(alive: (pid: number) => boolean, now: number): number {
    let gone = 0;
    for (const [pid, p] of this.procs) {
      if (p.exitedAt === undefined && !alive(pid)) {
        this.exit(pid, now);
        gone++;
      }
    }
    return gone;
  }

  get size(): number {
    return this.procs.size;
  }
}

export function emptyProc(pid: number): Proc {
  return {
    pid,
    ppid: 0,
    vpid: pid,
    sid: 0,
    pgid: 0,
    vpgid: 0,
    comm: "<NA>",
    exe: "<NA>",
    exepath: "<NA>",
    args: [],
    env: [],
    cwd: "/",
    tty: 0,
    loginuid: -1,
    uid: 0,
    gid: 0,
    euid: 0,
    egid: 0,
    capEffective: 0n,
    capPermitted: 0n,
    capInheritable: 0n,
    startNs: 0,
    exeFlags: 0,
    exeIno: 0,
    containerId: "host",
    fds: new Map(),
  };
}

/**
 * A socket's fd.name: "client:port->server:port", as Falco names both ends of a connection
 * (the tuple is local->remote, so a server's accepted socket reads it backwards), or the
 * local end alone when there is no peer. IPv6 addresses are bracketed.
 */
export function tupleName(t: SockTuple, server = false): string {
  const host = (a: string) => (t.family === 10 ? `[${a}]` : a);
  if (t.dport === 0 && (t.daddr === "0.0.0.0" || t.daddr === "::")) return `${host(t.saddr)}:${t.sport}`;
  if (server) return `${host(t.daddr)}:${t.dport}->${host(t.saddr)}:${t.sport}`;
  return `${host(t.saddr)}:${t.sport}->${host(t.daddr)}:${t.dport}`;
}
