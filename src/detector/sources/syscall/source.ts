/**
 * The `syscall` event source backed by the sensor: an extractor for every field of the
 * syscall registry (src/detector/fields/syscall.ts), resolved once per field use when rules
 * compile. Extractors read the event and the process/fd tables; nothing here makes a syscall
 * on the hot path except the first sight of an unknown process.
 */
import { hostname as osHostname } from "node:os";
import { posix } from "node:path";
import type { LiteralAware } from "../../compiler/compile.js";
import type { EventSource, EventTypeCatalog, ExtractedValue, Extractor, FieldInfo } from "../../event.js";
import { SYSCALL_EVENT_TYPES, SYSCALL_FIELDS } from "../../fields/syscall.js";
import { positionalArg } from "../../fields/falco-params.js";
import {
  bpfCommandText,
  capsText,
  chmodModeText,
  cloneFlagsText,
  exeFlagsText,
  familyText,
  isOpenRead,
  isOpenWrite,
  l4protoText,
  O,
  octalText,
  openFlagsText,
  ptraceRequestText,
  resText,
  sockTypeText,
} from "./flags.js";
import { typeChar, tupleName, type FdInfo, type Proc, type ProcessTable } from "./state.js";
import { eventArg, type ArgValue, type SyscallEvent } from "./tracker.js";
import { HOST_CONTAINER_ID } from "./container.js";
import { CONTAINER_FIELD_NAMES, containerExtractor, podExtractor } from "../../metadata/container-fields.js";
import type { ContainerInfo } from "../../metadata/types.js";
import { HostNames } from "./hostnames.js";
import type { UserDb } from "./users.js";
import { k8sExtractor } from "../../metadata/k8s-fields.js";
import type { PodMetadata } from "../../metadata/k8s.js";
import { EXE_FLAG, type SockTuple } from "./wire.js";

export interface SyscallSourceContext {
  table: ProcessTable;
  users: UserDb;
  /** The names fd.*ip.name rules compare against, resolved in the background. */
  hostNames?: HostNames;
  /** CLOCK_REALTIME - CLOCK_BOOTTIME, from the sensor's hello frame. */
  bootOffsetNs(): bigint;
  hostname?: string;
  /** Container metadata from the engines (metadata/manager.ts): answers from its cache only. */
  containers?: { get(id: string): ContainerInfo | undefined };
  /** The API server's pod metadata (detector.kubernetes), read from its caches only. */
  k8s?: { podOfContainer(containerId: string): PodMetadata | undefined };
}

export interface SyscallSource extends EventSource<SyscallEvent>, EventTypeCatalog {
  eventTime(e: SyscallEvent): string;
}

type X = Extractor<SyscallEvent>;

function cmdline(p: Proc): string {
  return p.args.length > 0 ? `${p.comm} ${p.args.join(" ")}` : p.comm;
}

/** RFC 3339 with nanoseconds, UTC. */
export function rfc3339Ns(ns: bigint): string {
  const ms = ns / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString(); // ...SS.mmmZ
  const frac = (ns % 1_000_000_000n).toString().padStart(9, "0");
  return `${iso.slice(0, 19)}.${frac}Z`;
}

// Parameters Falco types as a user or group id (PT_UID, PT_GID) and renders by name: setregid's
// ids are typed as users there, and so here, so both spell them alike.
const UID_PARAMS: Record<string, readonly string[]> = {
  setuid: ["uid"],
  setreuid: ["ruid", "euid"],
  setresuid: ["ruid", "euid", "suid"],
  setregid: ["rgid", "egid"],
};
const GID_PARAMS: Record<string, readonly string[]> = { setgid: ["gid"], setresgid: ["rgid", "egid", "sgid"] };
const CHMOD_TYPES = new Set(["chmod", "fchmod", "fchmodat"]);
const OCTAL_MODE_TYPES = new Set(["open", "openat", "creat"]);
const HEX_MODE_TYPES = new Set(["mkdir", "mkdirat"]);

// A container's processes are named from the container's own files, as in Falco.
function userOf(users: UserDb, p: Proc, uid: number): string | undefined {
  return p.containerId !== HOST_CONTAINER_ID && users.containerUserName ? users.containerUserName(p.containerId, p.pid, uid) : users.userName(uid);
}

function groupOf(users: UserDb, p: Proc, gid: number): string | undefined {
  return p.containerId !== HOST_CONTAINER_ID && users.containerGroupName ? users.containerGroupName(p.containerId, p.pid, gid) : users.groupName(gid);
}

/** user.name and the like, as Falco gives them: unknown is "root" for id 0, else "<NA>". */
function accountName(name: string | undefined, id: number): string {
  return name ?? (id === 0 ? "root" : "<NA>");
}

/** An id argument by name, as Falco gives it: the name, `<NA>` when unknown, `<NONE>` for -1. */
function idText(id: number, lookup: (id: number) => string | undefined): string {
  return id === -1 ? "<NONE>" : (lookup(id) ?? "<NA>");
}

function argText(e: SyscallEvent, name: string, v: ArgValue, users: UserDb): string | undefined {
  if (v === undefined) return undefined;
  if (name === "flags" && e.flags !== undefined) {
    return e.type === "execve" || e.type === "execveat" ? exeFlagsText(e.flags) : openFlagsText(e.flags);
  }
  if (typeof v === "number") {
    if ((name === "flags" && (e.type === "clone" || e.type === "unshare")) || (name === "nstype" && e.type === "setns")) return cloneFlagsText(v);
    if (name === "cmd" && e.type === "bpf") return bpfCommandText(v);
    if (name === "mode") {
      if (CHMOD_TYPES.has(e.type)) return chmodModeText(v);
      if (OCTAL_MODE_TYPES.has(e.type)) return octalText(v);
      if (HEX_MODE_TYPES.has(e.type)) return v.toString(16).toUpperCase();
    }
    if (UID_PARAMS[e.type]?.includes(name)) return idText(v, (u) => userOf(users, e.proc, u));
    if (GID_PARAMS[e.type]?.includes(name)) return idText(v, (g) => groupOf(users, e.proc, g));
  }
  if (name === "request" && typeof v === "number") return ptraceRequestText(v);
  if (name === "domain" && typeof v === "number") return familyText(v);
  if (name === "type" && e.type === "socket" && typeof v === "number") return sockTypeText(v);
  if (name === "res") return resText(e.ret);
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  if (Buffer.isBuffer(v)) return v.toString("hex");
  return tupleName(v);
}

function argValue(e: SyscallEvent, name: string): ArgValue {
  if (name === "res") return e.ret;
  if (name === "flags" && e.flags !== undefined) return e.flags;
  return eventArg(e, name);
}

/** An argument by name, or by position (`evt.arg[2]`: the event's third parameter in Falco's order, [0] the result). */
function argAt(arg: string | undefined): (e: SyscallEvent) => string | undefined {
  if (arg === undefined || !/^[0-9]+$/.test(arg)) return () => arg;
  const index = Number(arg);
  return (e) => positionalArg(e.type, index);
}

/** A relative path parameter joined to its directory, as Falco's evt.arg gives it. */
function resolvedArg(e: SyscallEvent, name: string): string | undefined {
  return e.resolvedArgs?.[e.argNames.indexOf(name)];
}

function allArgs(e: SyscallEvent, users: UserDb): string {
  const parts: string[] = [`res=${resText(e.ret)}`];
  for (let i = 0; i < e.argNames.length; i++) {
    const k = e.argNames[i]!;
    const t = argText(e, k, k === "flags" ? argValue(e, k) : e.argValues[i], users);
    const resolved = e.resolvedArgs?.[i];
    // Falco's spelling: the raw path, then the resolved one in parentheses
    if (t !== undefined) parts.push(resolved === undefined ? `${k}=${t}` : `${k}=${t}(${resolved})`);
  }
  return parts.join(" ");
}

// --- socket ends, as Falco names them: client/server by role, local/remote by side ---
function ends(fd: FdInfo | undefined): { l: [string, number]; r: [string, number]; c: [string, number]; s: [string, number] } | undefined {
  const t: SockTuple | undefined = fd?.tuple;
  if (!t || (t.family !== 2 && t.family !== 10)) return undefined;
  const l: [string, number] = [t.saddr, t.sport];
  const r: [string, number] = [t.daddr, t.dport];
  const server = fd!.role === "server";
  return { l, r, c: server ? r : l, s: server ? l : r };
}

function endIp(which: "l" | "r" | "c" | "s"): X {
  return (e) => ends(e.fd)?.[which][0];
}

function endPort(which: "l" | "r" | "c" | "s"): X {
  return (e) => ends(e.fd)?.[which][1];
}

function isSocket(fd: FdInfo | undefined): boolean {
  return fd !== undefined && (fd.type === "ipv4" || fd.type === "ipv6" || fd.type === "unix" || fd.tuple !== undefined);
}

// fd.*ip.name: a literal is a host name to resolve; the field answers with the watched name
// the end's address belongs to.
const NAME_FIELDS = ["fd.cip.name", "fd.sip.name", "fd.lip.name", "fd.rip.name"];

function withNameLiterals(names: HostNames): ReadonlyMap<string, FieldInfo> {
  const fields = new Map(SYSCALL_FIELDS);
  for (const n of NAME_FIELDS) {
    const info: FieldInfo & LiteralAware = {
      ...SYSCALL_FIELDS.get(n)!,
      literal: (text) => {
        names.watch(text);
        return text;
      },
    };
    fields.set(n, info);
  }
  return fields;
}

export function createSyscallSource(ctx: SyscallSourceContext): SyscallSource {
  const { table, users } = ctx;
  const hostNames = ctx.hostNames ?? new HostNames();
  const endName = (which: "l" | "r" | "c" | "s"): X => {
    const ip = endIp(which);
    return (e) => {
      const a = ip(e);
      return typeof a === "string" ? hostNames.nameOf(a) : undefined;
    };
  };
  const host = ctx.hostname ?? osHostname();
  const parent = (e: SyscallEvent) => table.ancestor(e.proc, 1);

  const ancestorField = (arg: string | undefined, get: (p: Proc) => ExtractedValue): X => {
    if (arg === undefined) {
      return (e) => table.ancestors(e.proc).map((p) => get(p) as string | number);
    }
    const n = Number(arg);
    if (!Number.isInteger(n) || n < 0) return () => undefined;
    return (e) => {
      const p = table.ancestor(e.proc, n);
      return p ? get(p) : undefined;
    };
  };

  const fields: Record<string, (arg: string | undefined) => X> = {
    "evt.type": () => (e) => e.type,
    "evt.num": () => (e) => e.num,
    "evt.time": () => (e) => rfc3339Ns(ctx.bootOffsetNs() + BigInt(e.tsBoot)),
    "evt.hostname": () => () => host,
    "evt.res": () => (e) => resText(e.ret),
    "evt.rawres": () => (e) => e.ret,
    "evt.is_open_read": () => (e) => (e.fd && e.flags !== undefined && e.type.startsWith("open") ? isOpenRead(e.flags) : e.type === "creat" ? false : undefined),
    "evt.is_open_write": () => (e) => (e.flags !== undefined && (e.type.startsWith("open") || e.type === "creat") ? isOpenWrite(e.flags) : undefined),
    "evt.is_open_exec": () => (e) => (e.flags !== undefined && e.type.startsWith("open") ? (e.flags & O.CREAT) !== 0 && ((Number(eventArg(e, "mode") ?? 0) & 0o111) !== 0) : undefined),
    "evt.arg": (arg) => {
      const at = argAt(arg);
      return (e) => {
        const name = at(e);
        return name === undefined ? undefined : (resolvedArg(e, name) ?? argText(e, name, argValue(e, name), users));
      };
    },
    "evt.rawarg": (arg) => {
      const at = argAt(arg);
      return (e) => {
        const name = at(e);
        if (name === undefined) return undefined;
        const v = argValue(e, name);
        return typeof v === "number" || typeof v === "string" ? v : undefined;
      };
    },
    "evt.args": () => (e) => allArgs(e, users),
    "evt.dir": () => () => "<",
    "evt.source": () => () => "syscall",

    "proc.name": () => (e) => e.proc.comm,
    "proc.exe": () => (e) => e.proc.exe,
    "proc.exepath": () => (e) => e.proc.exepath,
    "proc.cmdline": () => (e) => cmdline(e.proc),
    "proc.args": () => (e) => e.proc.args.join(" "),
    "proc.pid": () => (e) => e.proc.pid,
    "proc.ppid": () => (e) => e.proc.ppid,
    "proc.vpid": () => (e) => e.proc.vpid,
    "proc.sid": () => (e) => e.proc.sid,
    "proc.vpgid": () => (e) => e.proc.vpgid,
    "proc.vpgid.name": () => (e) => table.get(e.proc.pgid)?.comm,
    "proc.vpgid.exe": () => (e) => table.get(e.proc.pgid)?.exe,
    "proc.is_vpgid_leader": () => (e) => e.proc.vpid === e.proc.vpgid,
    "proc.pname": () => (e) => parent(e)?.comm,
    "proc.pexe": () => (e) => parent(e)?.exe,
    "proc.pexepath": () => (e) => parent(e)?.exepath,
    "proc.pcmdline": () => (e) => {
      const p = parent(e);
      return p ? cmdline(p) : undefined;
    },
    "proc.ppid.duration": () => (e) => {
      const p = parent(e);
      return p && p.startNs > 0 ? Math.max(0, e.tsBoot - p.startNs) : undefined;
    },
    "proc.aname": (arg) => ancestorField(arg, (p) => p.comm),
    "proc.aexe": (arg) => ancestorField(arg, (p) => p.exe),
    "proc.aexepath": (arg) => ancestorField(arg, (p) => p.exepath),
    "proc.apid": (arg) => ancestorField(arg, (p) => p.pid),
    "proc.cwd": () => (e) => (e.proc.cwd.endsWith("/") ? e.proc.cwd : `${e.proc.cwd}/`),
    "proc.tty": () => (e) => e.proc.tty,
    "proc.sname": () => (e) => (e.proc.sid > 0 ? table.get(e.proc.sid)?.comm : undefined),
    // Falco's form: all variables separated by spaces, or one variable's value by name
    "proc.env": (arg) =>
      arg === undefined
        ? (e) => e.proc.env.join(" ")
        : (e) => {
            const prefix = `${arg}=`;
            const hit = e.proc.env.find((v) => v.startsWith(prefix));
            return hit === undefined ? undefined : hit.slice(prefix.length);
          },
    // at the event's time, as Falco measures it: a backlog in userspace must not age processes
    "proc.duration": () => (e) => (e.proc.startNs > 0 ? Math.max(0, e.tsBoot - e.proc.startNs) : undefined),
    "proc.is_exe_upper_layer": () => (e) => (e.proc.exeFlags & EXE_FLAG.UPPER_LAYER) !== 0,
    "proc.is_exe_from_memfd": () => (e) => (e.proc.exeFlags & EXE_FLAG.FROM_MEMFD) !== 0,
    "proc.exe_ino.ctime": () => (e) => (e.proc.exeCtimeNs !== undefined ? Number(e.proc.exeCtimeNs) : undefined),
    "proc.exe_ino.mtime": () => (e) => (e.proc.exeMtimeNs !== undefined ? Number(e.proc.exeMtimeNs) : undefined),
    "proc.exe_ino.ctime_duration_proc_start": () => (e) => {
      if (e.proc.exeCtimeNs === undefined || e.proc.startNs === 0) return undefined;
      const startWall = BigInt(Math.round(e.proc.startNs)) + ctx.bootOffsetNs();
      return Number(startWall - e.proc.exeCtimeNs);
    },

    "thread.tid": () => (e) => e.tid,
    "thread.cap_effective": () => (e) => capsText(e.proc.capEffective),
    "thread.cap_permitted": () => (e) => capsText(e.proc.capPermitted),
    "thread.cap_inheritable": () => (e) => capsText(e.proc.capInheritable),

    "user.uid": () => (e) => e.uid,
    "user.name": () => (e) => accountName(userOf(users, e.proc, e.uid), e.uid),
    "user.loginuid": () => (e) => e.proc.loginuid,
    "user.loginname": () => (e) => accountName(e.proc.loginuid >= 0 ? userOf(users, e.proc, e.proc.loginuid) : undefined, e.proc.loginuid),
    "group.gid": () => (e) => e.gid,
    "group.name": () => (e) => accountName(groupOf(users, e.proc, e.gid), e.gid),

    "fd.num": () => (e) => e.fdNum,
    "fd.type": () => (e) => e.fd?.type,
    "fd.typechar": () => (e) => (e.fd ? typeChar(e.fd.type) : undefined),
    "fd.name": () => (e) => e.fd?.name || undefined,
    "fd.nameraw": () => (e) => e.fd?.nameRaw ?? (e.fd?.name || undefined),
    "fd.directory": () => (e) => (e.fd && (e.fd.type === "file" || e.fd.type === "directory") ? (e.fd.type === "directory" ? e.fd.name : posix.dirname(e.fd.name)) : undefined),
    "fd.filename": () => (e) => (e.fd && e.fd.type === "file" ? posix.basename(e.fd.name) : undefined),
    "fd.types": (arg) => {
      if (arg === undefined || arg === "") return (e) => [...new Set([...e.proc.fds.values()].map((f) => f.type))];
      const n = Number(arg);
      return (e) => {
        const f = e.proc.fds.get(n);
        return f ? [f.type] : undefined;
      };
    },
    "fd.ip": () => (e) => {
      const x = ends(e.fd);
      return x ? [x.l[0], x.r[0]] : undefined;
    },
    "fd.cip": () => endIp("c"),
    "fd.sip": () => endIp("s"),
    "fd.lip": () => endIp("l"),
    "fd.rip": () => endIp("r"),
    "fd.port": () => (e) => {
      const x = ends(e.fd);
      return x ? [x.l[1], x.r[1]] : undefined;
    },
    "fd.cport": () => endPort("c"),
    "fd.sport": () => endPort("s"),
    "fd.lport": () => endPort("l"),
    "fd.rport": () => endPort("r"),
    "fd.net": () => (e) => {
      const x = ends(e.fd);
      return x ? [x.l[0], x.r[0]] : undefined;
    },
    "fd.cnet": () => endIp("c"),
    "fd.snet": () => endIp("s"),
    "fd.lnet": () => endIp("l"),
    "fd.rnet": () => endIp("r"),
    "fd.cip.name": () => endName("c"),
    "fd.sip.name": () => endName("s"),
    "fd.lip.name": () => endName("l"),
    "fd.rip.name": () => endName("r"),
    "fd.l4proto": () => (e) => (isSocket(e.fd) && e.fd!.type !== "unix" ? l4protoText(e.fd!.protocol ?? 0, e.fd!.sockType ?? 0) : undefined),
    "fd.sockfamily": () => (e) => (e.fd?.type === "unix" ? "unix" : e.fd?.type === "ipv4" || e.fd?.type === "ipv6" ? "ip" : undefined),
    "fd.connected": () => (e) => (isSocket(e.fd) ? (e.fd!.tuple?.dport ?? 0) !== 0 : undefined),
    "fd.name_changed": () => (e) => e.fdNameChanged,

  };
  // container.* and the CRI pod's k8s.* fields: from the engines' metadata cache, never waiting
  const containerInfo = (e: SyscallEvent): ContainerInfo | undefined =>
    e.proc.containerId !== HOST_CONTAINER_ID ? ctx.containers?.get(e.proc.containerId) : undefined;
  const containerView = {
    containerId: (e: SyscallEvent) => e.proc.containerId,
    info: containerInfo,
    timeNs: (e: SyscallEvent) => ctx.bootOffsetNs() + BigInt(e.tsBoot),
  };
  for (const name of CONTAINER_FIELD_NAMES) fields[name] = (arg) => containerExtractor(name, arg, containerView)!;
  for (const name of ["k8s.pod.name", "k8s.ns.name", "k8s.pod.uid", "k8s.pod.id", "k8s.pod.ip", "k8s.pod.label", "k8s.pod.labels"])
    fields[name] = (arg) => podExtractor(name, arg, containerInfo)!;

  const k8s = ctx.k8s;
  const podOf = (e: SyscallEvent): PodMetadata | undefined =>
    k8s && e.proc.containerId !== HOST_CONTAINER_ID ? k8s.podOfContainer(e.proc.containerId) : undefined;

  return {
    name: "syscall",
    fields: withNameLiterals(hostNames),
    eventTypes: SYSCALL_EVENT_TYPES,
    eventType: (e) => e.type,
    eventTime: (e) => rfc3339Ns(ctx.bootOffsetNs() + BigInt(e.tsBoot)),
    extractor(field: string, arg: string | undefined): X | undefined {
      const make = fields[field];
      const own = make ? make(arg) : undefined;
      const meta = k8sExtractor<SyscallEvent>(field, arg, podOf);
      if (!meta) return own;
      if (!own) return meta;
      // a container engine's answer (the CRI pod sandbox) first, then the API server's
      return (e) => own(e) ?? meta(e);
    },
  };
}

/** Fields of the registry this source has no extractor for (kept empty by a unit test). */
export function missingExtractors(source: SyscallSource): string[] {
  return [...source.fields.keys()].filter((f) => source.extractor(f, source.fields.get(f)?.arg === "required" ? "x" : undefined) === undefined);
}
