/**
 * Reads processes from /proc: the seed of the process table at start, and the fallback for a
 * process first seen through an event. Every read tolerates the process vanishing midway.
 */
import { readdirSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { containerIdFromProcCgroup } from "./container.js";
import { SocketTables } from "./procnet.js";
import { EXE_FLAG } from "./wire.js";
import type { FdInfo, FdType, Proc, ProcReader } from "./state.js";

const CLOCK_TICKS = 100; // USER_HZ: what /proc/PID/stat's starttime counts in, on every Linux ABI

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function link(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

function statusField(status: string, key: string): string[] {
  const at = status.indexOf(`\n${key}:`);
  if (at < 0) return [];
  const end = status.indexOf("\n", at + 1);
  return status
    .slice(at + key.length + 2, end < 0 ? undefined : end)
    .trim()
    .split(/\s+/);
}

function fdFromLink(target: string): FdInfo {
  let type: FdType = "file";
  let name = target;
  if (target.startsWith("socket:")) type = "unknown";
  else if (target.startsWith("pipe:")) type = "pipe";
  else if (target.startsWith("anon_inode:")) {
    const kind = target.slice("anon_inode:".length);
    type = kind.includes("eventpoll")
      ? "eventpoll"
      : kind.includes("eventfd")
        ? "event"
        : kind.includes("signalfd")
          ? "signalfd"
          : kind.includes("inotify")
            ? "inotify"
            : kind.includes("timerfd")
              ? "timerfd"
              : "unknown";
  } else if (target.startsWith("/memfd:")) {
    type = "memfd";
    name = target.slice(1).replace(/ \(deleted\)$/, "");
  } else if (target.startsWith("/")) {
    try {
      if (statSync(target).isDirectory()) type = "directory";
    } catch {
      // deleted or unreachable: keep "file"
    }
  } else type = "unknown";
  return { type, name, flags: 0 };
}

function readFds(pid: number, sockets: SocketTables): Map<number, FdInfo> {
  const fds = new Map<number, FdInfo>();
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return fds;
  }
  for (const n of names) {
    const target = link(`/proc/${pid}/fd/${n}`);
    if (target === undefined) continue;
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    fds.set(Number(n), (inode !== undefined ? sockets.lookup(pid, Number(inode)) : undefined) ?? fdFromLink(target));
  }
  return fds;
}

/** Reads /proc/PID; undefined when the process is gone (or is not a process). */
export function readProc(pid: number, withFds = true, sockets = new SocketTables()): Proc | undefined {
  const stat = read(`/proc/${pid}/stat`);
  const status = read(`/proc/${pid}/status`);
  if (stat === undefined || status === undefined) return undefined;
  // comm may contain spaces and parentheses: fields start after the last ')'
  const close = stat.lastIndexOf(")");
  const f = stat.slice(close + 2).split(" ");
  const comm = stat.slice(stat.indexOf("(") + 1, close);
  const cmdline = read(`/proc/${pid}/cmdline`) ?? "";
  const argv = cmdline.split("\0");
  if (argv[argv.length - 1] === "") argv.pop();
  let exepath = link(`/proc/${pid}/exe`) ?? "";
  let exeFlags = 0;
  if (exepath.startsWith("/memfd:")) {
    exeFlags |= EXE_FLAG.FROM_MEMFD;
    exepath = exepath.slice(1);
  }
  exepath = exepath.replace(/ \(deleted\)$/, "");
  let exeIno = 0;
  let exeCtimeNs: bigint | undefined;
  let exeMtimeNs: bigint | undefined;
  try {
    const st = statSync(`/proc/${pid}/exe`, { bigint: true });
    exeIno = Number(st.ino);
    exeCtimeNs = st.ctimeNs;
    exeMtimeNs = st.mtimeNs;
    if (st.mode & 0o200n) exeFlags |= EXE_FLAG.WRITABLE;
  } catch {
    // kernel threads have no executable
  }
  const uids = statusField(status, "Uid");
  const gids = statusField(status, "Gid");
  const nspid = statusField(status, "NSpid");
  const nspgid = statusField(status, "NSpgid");
  const capEff = statusField(status, "CapEff")[0];
  const capPrm = statusField(status, "CapPrm")[0];
  const capInh = statusField(status, "CapInh")[0];
  const loginuid = Number(read(`/proc/${pid}/loginuid`) ?? "4294967295");
  return {
    pid,
    ppid: Number(f[1]),
    pgid: Number(f[2]),
    sid: Number(f[3]),
    tty: Number(f[4]),
    vpid: Number(nspid[nspid.length - 1] ?? pid),
    vpgid: Number(nspgid[nspgid.length - 1] ?? f[2]),
    comm,
    exe: argv[0] ?? comm,
    exepath,
    args: argv.slice(1),
    env: (read(`/proc/${pid}/environ`) ?? "").split("\0").filter((v) => v !== ""),
    cwd: link(`/proc/${pid}/cwd`) ?? "/",
    loginuid: loginuid === 4294967295 ? -1 : loginuid,
    uid: Number(uids[0] ?? 0),
    euid: Number(uids[1] ?? 0),
    gid: Number(gids[0] ?? 0),
    egid: Number(gids[1] ?? 0),
    capEffective: capEff ? BigInt(`0x${capEff}`) : 0n,
    capPermitted: capPrm ? BigInt(`0x${capPrm}`) : 0n,
    capInheritable: capInh ? BigInt(`0x${capInh}`) : 0n,
    startNs: (Number(f[19]) * 1e9) / CLOCK_TICKS,
    exeFlags,
    exeIno,
    exeCtimeNs,
    exeMtimeNs,
    containerId: containerIdFromProcCgroup(read(`/proc/${pid}/cgroup`) ?? ""),
    fds: withFds ? readFds(pid, sockets) : new Map(),
  };
}

/** The parent pid from /proc/PID/stat (field 4, after the parenthesized name). */
export function parentFromProc(pid: number): number | undefined {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

export const procfsReader: ProcReader = { read: (pid) => readProc(pid), parentOf: parentFromProc };

/** /proc/PID/cgroup's text; undefined when the process is gone. */
export function readProcCgroup(pid: number): string | undefined {
  return read(`/proc/${pid}/cgroup`);
}

/** Every process now in /proc. */
export function scanProcs(): Proc[] {
  const out: Proc[] = [];
  const sockets = new SocketTables(); // each namespace's tables read once for the whole scan
  for (const name of readdirSync("/proc")) {
    const pid = Number(name);
    if (!Number.isInteger(pid) || pid <= 0) continue;
    const p = readProc(pid, true, sockets);
    if (p) out.push(p);
  }
  return out;
}
