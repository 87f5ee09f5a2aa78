/**
 * What a syscall does to the process's descriptors and state, one handler per syscall,
 * grouped by family (files, network, processes). A handler fills the event's descriptor
 * (`fd`, `fdNum`, `fdNameChanged`, `flags`) and asks for the state change to apply once the
 * rules have seen the event. Handlers read parameters by Falco's names (wire.ts gives each
 * syscall's), never by position.
 */
import { AT_FDCWD, O } from "./flags.js";
import type { ArgValue, SyscallEvent } from "./event.js";
import { resolvePath, tupleName, type FdInfo, type FdType, type Proc } from "./state.js";
import { KIND, readSockAddr, type SockTuple, type SyscallSpec } from "./wire.js";

/** State changes applied after the rules have seen the event (no closure per event). */
export const Pending = { None: 0, SetFd: 1, DeleteFd: 2, Chdir: 3, Fchdir: 4, Setsid: 5 } as const;
export type Pending = (typeof Pending)[keyof typeof Pending];

/** What a handler may ask of the tracker. */
export interface DescribeContext {
  /** Applies `kind` to `p` once the rules have seen the event (one change per event). */
  later(kind: Pending, p: Proc, fdNum?: number, fd?: FdInfo): void;
}

/** Fills `ev`'s descriptor; `tuple` is the socket tuple the sensor read, for socket calls. */
export type DescribeHandler = (ev: SyscallEvent, p: Proc, tuple: SockTuple | undefined, ctx: DescribeContext) => void;

const FAMILY_TYPE: Record<number, FdType> = { 1: "unix", 2: "ipv4", 10: "ipv6", 16: "netlink", 17: "packet" };

/** The parameter named `name`; undefined when the syscall has none (or the sensor sent none). */
function param(ev: SyscallEvent, name: string): ArgValue {
  const i = ev.argNames.indexOf(name);
  return i < 0 ? undefined : ev.argValues[i];
}

function intParam(ev: SyscallEvent, name: string): number | undefined {
  return param(ev, name) as number | undefined;
}

function strParam(ev: SyscallEvent, name: string): string | undefined {
  return param(ev, name) as string | undefined;
}

/** The syscall argument position (0-5) of parameter `paramIndex`. */
export function argPosition(spec: SyscallSpec, paramIndex: number): number {
  let seen = -1;
  for (let a = 0; a < 6; a++) {
    if (spec.args[a] === KIND.NONE) continue;
    if (++seen === paramIndex) return a;
  }
  return -1;
}

/**
 * The descriptor in parameter `name`. When the kernel-side filter kept the open that made
 * it, the table has no entry and the sensor sent its path with the event instead.
 */
function argFd(p: Proc, ev: SyscallEvent, name: string): FdInfo | undefined {
  const i = ev.argNames.indexOf(name);
  const n = i < 0 ? undefined : (ev.argValues[i] as number | undefined);
  const carried = i < 0 || !ev.spec ? undefined : ev.fdPaths?.[argPosition(ev.spec, i)];
  if (carried) return { type: "file", name: carried, flags: 0 };
  return n === undefined || n < 0 ? undefined : p.fds.get(n);
}

function isUnspecified(ip: string): boolean {
  return ip === "0.0.0.0" || ip === "::";
}

// ---- files

/** A new descriptor for the file `name` (relative to `dirfd`, or the cwd) opened with `flags`. */
function opened(ev: SyscallEvent, p: Proc, flags: number, ctx: DescribeContext): void {
  const ret = ev.ret;
  const nameIndex = ev.argNames.indexOf("name");
  const raw = (ev.argValues[nameIndex] as string | undefined) ?? "";
  ev.flags = flags;
  // a failed open is a file whatever it asked for, as Falco types it: the stable rule on
  // directory traversal (open_file_failed) looks for fd.typechar='f'
  const type: FdType = ret >= 0 && flags & O.DIRECTORY && !(flags & O.TMPFILE) ? "directory" : "file";
  const dirfd = intParam(ev, "dirfd");
  const dir = dirfd === undefined || dirfd === AT_FDCWD ? p.cwd : (argFd(p, ev, "dirfd")?.name ?? p.cwd);
  // a relative name was already joined to the same directory for evt.arg (resolveArgs)
  const fd: FdInfo = { type, name: ev.resolvedArgs?.[nameIndex] ?? resolvePath(dir, raw), nameRaw: raw, flags };
  ev.fd = fd;
  ev.fdNum = ret >= 0 ? ret : -1;
  ev.fdNameChanged = true;
  if (ret >= 0) ctx.later(Pending.SetFd, p, ret, fd);
}

/** open(name, flags, mode), openat(dirfd, name, flags, mode). */
const openWithFlags: DescribeHandler = (ev, p, _tuple, ctx) => opened(ev, p, intParam(ev, "flags") ?? 0, ctx);

/** openat2(dirfd, name, how, size): the flags are the first field of `struct open_how`. */
const openat2: DescribeHandler = (ev, p, _tuple, ctx) => {
  const how = param(ev, "how") as Buffer | undefined;
  opened(ev, p, how && how.length >= 8 ? how.readUInt32LE(0) : 0, ctx);
};

/** creat(name, mode) is open(name, O_CREAT|O_WRONLY|O_TRUNC, mode). */
const creat: DescribeHandler = (ev, p, _tuple, ctx) => opened(ev, p, O.CREAT | O.WRONLY | O.TRUNC, ctx);

const memfdCreate: DescribeHandler = (ev, p, _tuple, ctx) => {
  const ret = ev.ret;
  const fd: FdInfo = { type: "memfd", name: `memfd:${strParam(ev, "name") ?? ""}`, flags: intParam(ev, "flags") ?? 0 };
  ev.fd = fd;
  ev.fdNum = ret >= 0 ? ret : -1;
  if (ret >= 0) ctx.later(Pending.SetFd, p, ret, fd);
};

/** dup(oldfd), dup2(oldfd, newfd), dup3(oldfd, newfd, flags): the new descriptor is the return value. */
const dup: DescribeHandler = (ev, p, _tuple, ctx) => {
  const ret = ev.ret;
  const old = argFd(p, ev, "oldfd");
  ev.fd = old;
  ev.fdNum = ret >= 0 ? ret : -1;
  if (ret < 0) return;
  if (!old) {
    ctx.later(Pending.DeleteFd, p, ret);
    return;
  }
  // dup and dup2 clear close-on-exec; dup3 sets it from its flags (none for the others)
  const cloexec = (intParam(ev, "flags") ?? 0) & O.CLOEXEC;
  ctx.later(Pending.SetFd, p, ret, { ...old, flags: cloexec ? O.CLOEXEC : old.flags & ~O.CLOEXEC });
};

const close: DescribeHandler = (ev, p, _tuple, ctx) => {
  const n = intParam(ev, "fd") ?? -1;
  ev.fd = p.fds.get(n);
  ev.fdNum = n;
  if (ev.ret === 0) ctx.later(Pending.DeleteFd, p, n);
};

/** A call on the descriptor in its `fd` parameter (fchmod, finit_module, setns). */
const onFd: DescribeHandler = (ev, p) => {
  ev.fd = argFd(p, ev, "fd");
  ev.fdNum = intParam(ev, "fd") ?? -1;
};

const fchdir: DescribeHandler = (ev, p, tuple, ctx) => {
  onFd(ev, p, tuple, ctx);
  if (ev.ret === 0) ctx.later(Pending.Fchdir, p, ev.fdNum, ev.fd);
};

const chdir: DescribeHandler = (ev, p, _tuple, ctx) => {
  if (ev.ret === 0) ctx.later(Pending.Chdir, p, 0, { type: "directory", name: resolvePath(p.cwd, strParam(ev, "path") ?? ""), flags: 0 });
};

const FILES: Record<string, DescribeHandler> = {
  open: openWithFlags,
  openat: openWithFlags,
  openat2,
  creat,
  memfd_create: memfdCreate,
  dup,
  dup2: dup,
  dup3: dup,
  close,
  fchmod: onFd,
  fchdir,
  chdir,
};

// ---- network

const socket: DescribeHandler = (ev, p, _tuple, ctx) => {
  const ret = ev.ret;
  const family = intParam(ev, "domain") ?? 0;
  const fd: FdInfo = { type: FAMILY_TYPE[family] ?? "unknown", name: "", flags: 0, family, sockType: intParam(ev, "type") ?? 0, protocol: intParam(ev, "proto") ?? 0 };
  ev.fd = fd;
  ev.fdNum = ret >= 0 ? ret : -1;
  if (ret >= 0) ctx.later(Pending.SetFd, p, ret, fd);
};

/**
 * A call that names a socket's ends: connect, bind, listen, sendto, sendmsg on the socket in
 * `fd`; accept and accept4 on the socket they return. `addr` (a struct sockaddr) becomes
 * its text form in evt.args.
 */
const socketEnds: DescribeHandler = (ev, p, tuple, ctx) => {
  const ret = ev.ret;
  const accepting = ev.type === "accept" || ev.type === "accept4";
  const n = accepting ? ret : intParam(ev, "fd");
  const old = n !== undefined ? p.fds.get(n) : undefined;
  const fd: FdInfo = old ? { ...old } : { type: "unknown", name: "", flags: 0 };
  const ai = ev.argNames.indexOf("addr");
  const addr = ai >= 0 ? (ev.argValues[ai] as Buffer | undefined) : undefined;
  const sa = addr ? readSockAddr(addr) : undefined;
  if (ai >= 0) ev.argValues[ai] = sa?.addr !== undefined ? `${sa.addr}:${sa.port}` : sa?.path;
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
  if (n !== undefined && n >= 0 && !(accepting && ret < 0)) ctx.later(Pending.SetFd, p, n, fd);
};

const NETWORK: Record<string, DescribeHandler> = {
  socket,
  connect: socketEnds,
  bind: socketEnds,
  listen: socketEnds,
  sendto: socketEnds,
  sendmsg: socketEnds,
  accept: socketEnds,
  accept4: socketEnds,
};

// ---- processes

const setsid: DescribeHandler = (ev, p, _tuple, ctx) => {
  if (ev.ret > 0) ctx.later(Pending.Setsid, p, ev.ret);
};

const PROCESSES: Record<string, DescribeHandler> = {
  finit_module: onFd,
  setns: onFd,
  setsid,
};

/** The handlers by family; a syscall in none changes no state and has no descriptor. */
export const DESCRIBE_FAMILIES: Readonly<Record<"files" | "network" | "processes", Readonly<Record<string, DescribeHandler>>>> = {
  files: FILES,
  network: NETWORK,
  processes: PROCESSES,
};

/** The handler of each syscall, by name. */
export const DESCRIBE: ReadonlyMap<string, DescribeHandler> = new Map(Object.values(DESCRIBE_FAMILIES).flatMap((family) => Object.entries(family)));
