/**
 * The sensor's wire format, mirrored from sensor/wire.h (the C header is the source of
 * truth; test/unit/sensor/wire.test.ts compares every offset and table here with what the C
 * compiler reports). Frames are little-endian and length-prefixed:
 *   header (HDR.size bytes) | u16 length table (nparams entries) | parameters.
 */
import { PeregrineError } from "../../../errors.js";

export const WIRE_VERSION = 4;
export const MAX_PARAMS = 16;
/** Largest frame the sensor can produce (its per-CPU scratch buffer). */
export const MAX_FRAME = 32744;

export const HDR = {
  size: 48,
  len: 0,
  type: 4,
  nparams: 6,
  ts: 8,
  tgid: 16,
  tid: 20,
  ret: 24,
  sc: 32,
  cpu: 34,
  uid: 36,
  gid: 40,
} as const;

export const EV = { HELLO: 1, SYSCALL: 2, EXEC: 3, FORK: 4, EXIT: 5, STATS: 6 } as const;
export const KIND = { NONE: 0, INT: 1, STR: 2, SADDR: 3, HOW: 4 } as const;
export const EXTRA = { NONE: 0, SOCK_ARG0: 1, SOCK_RET: 2, FD_PATH_ARG0: 3, FD_PATH_ARG1: 4, FD_PATH_ARG0_ARG2: 5 } as const;
export const CAT = { FILE: 0, NET: 1, PROC: 2, OTHER: 3, COUNT: 4 } as const;
export const CATEGORY_NAMES = ["file", "net", "proc", "other"] as const;
export const EXE_FLAG = { FROM_MEMFD: 1, UPPER_LAYER: 2, WRITABLE: 4 } as const;

/** PG_EV_EXEC parameters, in order. */
export const EXEC_PARAM = { info: 0, exepath: 1, filename: 2, args: 3, cwd: 4, comm: 5, cgroup: 6, env: 7 } as const;
export const EXEC_NPARAMS = 8;

export const EXEC_INFO = {
  size: 104,
  ppid: 0,
  sid: 4,
  pgid: 8,
  vpid: 12,
  vpgid: 16,
  loginuid: 20,
  uid: 24,
  gid: 28,
  euid: 32,
  egid: 36,
  tty: 40,
  flags: 44,
  cap_effective: 48,
  start_ns: 56,
  exe_ino: 64,
  exe_ctime_ns: 72,
  exe_mtime_ns: 80,
  cap_permitted: 88,
  cap_inheritable: 96,
} as const;

export const FORK_INFO = { size: 24, child_tgid: 0, ppid: 4, vpid: 8, start_ns: 16 } as const;

export const SOCK_TUPLE = {
  size: 44,
  family: 0,
  type: 2,
  protocol: 4,
  sport: 6,
  dport: 8,
  saddr: 12,
  daddr: 28,
} as const;

export const HELLO = { size: 24, version: 0, ncpu: 4, boot_offset_ns: 8, ring_bytes: 16 } as const;
export const STATS = { size: 96, events: 0, drops: 32, filtered: 64 } as const;

export interface SyscallSpec {
  name: string;
  id: number;
  /** Parameter kind of each of the six syscall arguments (KIND). */
  args: readonly [number, number, number, number, number, number];
  extra: number;
  category: number;
  /** Falco's names for the parameters the frame carries (non-NONE arguments, then the extra). */
  paramNames: readonly string[];
  /**
   * Path parameters Falco resolves for evt.arg (its PT_FSPATH and PT_FSRELPATH): a relative
   * one is joined to the directory of the descriptor parameter named by `dirfd`, or to the
   * cwd when there is none or it is AT_FDCWD.
   */
  paths: readonly { param: string; dirfd?: string }[];
}

/** How many parameters an extra adds after the arguments. */
export function extraParamCount(extra: number): number {
  return extra === EXTRA.NONE ? 0 : extra === EXTRA.FD_PATH_ARG0_ARG2 ? 2 : 1;
}

const N = KIND.NONE;
const I = KIND.INT;
const S = KIND.STR;
const A = KIND.SADDR;
const H = KIND.HOW;

function sc(
  name: string,
  id: number,
  args: SyscallSpec["args"],
  extra: number,
  category: number,
  paramNames: string[],
  paths: SyscallSpec["paths"] = [],
): SyscallSpec {
  return { name, id, args, extra, category, paramNames, paths };
}

const { FILE, NET, PROC, OTHER } = CAT;
const { SOCK_ARG0, SOCK_RET, FD_PATH_ARG0, FD_PATH_ARG1, FD_PATH_ARG0_ARG2 } = EXTRA;

/** Mirrors PG_SYSCALLS in wire.h, with the parameter names rules use (evt.arg.NAME). */
export const SYSCALLS: readonly SyscallSpec[] = [
  sc("open", 1, [S, I, I, N, N, N], 0, FILE, ["name", "flags", "mode"], [{ param: "name" }]),
  sc("openat", 2, [I, S, I, I, N, N], FD_PATH_ARG0, FILE, ["dirfd", "name", "flags", "mode", "fdpath"], [{ param: "name", dirfd: "dirfd" }]),
  sc("openat2", 3, [I, S, H, I, N, N], FD_PATH_ARG0, FILE, ["dirfd", "name", "how", "size", "fdpath"], [{ param: "name", dirfd: "dirfd" }]),
  sc("creat", 4, [S, I, N, N, N, N], 0, FILE, ["name", "mode"], [{ param: "name" }]),
  sc("execve", 5, [S, N, N, N, N, N], 0, PROC, ["filename"]),
  sc("execveat", 6, [I, S, N, N, I, N], 0, PROC, ["dirfd", "pathname", "flags"]),
  sc("connect", 7, [I, A, I, N, N, N], SOCK_ARG0, NET, ["fd", "addr", "addrlen", "tuple"]),
  sc("accept", 8, [I, N, N, N, N, N], SOCK_RET, NET, ["fd", "tuple"]),
  sc("accept4", 9, [I, N, N, I, N, N], SOCK_RET, NET, ["fd", "flags", "tuple"]),
  sc("bind", 10, [I, A, I, N, N, N], SOCK_ARG0, NET, ["fd", "addr", "addrlen", "tuple"]),
  sc("listen", 11, [I, I, N, N, N, N], SOCK_ARG0, NET, ["fd", "backlog", "tuple"]),
  sc("socket", 12, [I, I, I, N, N, N], 0, NET, ["domain", "type", "proto"]),
  sc("sendto", 13, [I, N, I, I, A, I], SOCK_ARG0, NET, ["fd", "size", "flags", "addr", "addrlen", "tuple"]),
  sc("sendmsg", 14, [I, N, I, N, N, N], SOCK_ARG0, NET, ["fd", "flags", "tuple"]),
  sc("symlink", 15, [S, S, N, N, N, N], 0, FILE, ["target", "linkpath"], [{ param: "linkpath" }]),
  sc("symlinkat", 16, [S, I, S, N, N, N], FD_PATH_ARG1, FILE, ["target", "linkdirfd", "linkpath", "fdpath"], [{ param: "linkpath", dirfd: "linkdirfd" }]),
  sc("link", 17, [S, S, N, N, N, N], 0, FILE, ["oldpath", "newpath"], [{ param: "oldpath" }, { param: "newpath" }]),
  sc("linkat", 18, [I, S, I, S, I, N], FD_PATH_ARG0_ARG2, FILE, ["olddir", "oldpath", "newdir", "newpath", "flags", "fdpath", "fdpath2"], [
    { param: "oldpath", dirfd: "olddir" },
    { param: "newpath", dirfd: "newdir" },
  ]),
  sc("unlink", 19, [S, N, N, N, N, N], 0, FILE, ["path"], [{ param: "path" }]),
  sc("unlinkat", 20, [I, S, I, N, N, N], FD_PATH_ARG0, FILE, ["dirfd", "name", "flags", "fdpath"], [{ param: "name", dirfd: "dirfd" }]),
  sc("rename", 21, [S, S, N, N, N, N], 0, FILE, ["oldpath", "newpath"], [{ param: "oldpath" }, { param: "newpath" }]),
  sc("renameat", 22, [I, S, I, S, N, N], FD_PATH_ARG0_ARG2, FILE, ["olddirfd", "oldpath", "newdirfd", "newpath", "fdpath", "fdpath2"], [
    { param: "oldpath", dirfd: "olddirfd" },
    { param: "newpath", dirfd: "newdirfd" },
  ]),
  sc("renameat2", 23, [I, S, I, S, I, N], FD_PATH_ARG0_ARG2, FILE, ["olddirfd", "oldpath", "newdirfd", "newpath", "flags", "fdpath", "fdpath2"], [
    { param: "oldpath", dirfd: "olddirfd" },
    { param: "newpath", dirfd: "newdirfd" },
  ]),
  sc("mkdir", 24, [S, I, N, N, N, N], 0, FILE, ["path", "mode"], [{ param: "path" }]),
  sc("mkdirat", 25, [I, S, I, N, N, N], FD_PATH_ARG0, FILE, ["dirfd", "path", "mode", "fdpath"], [{ param: "path", dirfd: "dirfd" }]),
  sc("chmod", 26, [S, I, N, N, N, N], 0, FILE, ["filename", "mode"], [{ param: "filename" }]),
  sc("fchmod", 27, [I, I, N, N, N, N], FD_PATH_ARG0, FILE, ["fd", "mode", "fdpath"]),
  sc("fchmodat", 28, [I, S, I, N, N, N], FD_PATH_ARG0, FILE, ["dirfd", "filename", "mode", "fdpath"], [{ param: "filename", dirfd: "dirfd" }]),
  sc("dup", 29, [I, N, N, N, N, N], FD_PATH_ARG0, FILE, ["oldfd", "fdpath"]),
  sc("dup2", 30, [I, I, N, N, N, N], FD_PATH_ARG0, FILE, ["oldfd", "newfd", "fdpath"]),
  sc("dup3", 31, [I, I, I, N, N, N], FD_PATH_ARG0, FILE, ["oldfd", "newfd", "flags", "fdpath"]),
  sc("ptrace", 32, [I, I, N, N, N, N], 0, PROC, ["request", "pid"]),
  sc("init_module", 33, [N, I, S, N, N, N], 0, PROC, ["length", "uargs"]),
  sc("finit_module", 34, [I, S, I, N, N, N], FD_PATH_ARG0, PROC, ["fd", "uargs", "flags", "fdpath"]),
  sc("mount", 35, [S, S, S, I, N, N], 0, FILE, ["dev", "dir", "type", "flags"], [{ param: "dir" }]),
  sc("umount2", 36, [S, I, N, N, N, N], 0, FILE, ["name", "flags"], [{ param: "name" }]),
  sc("setuid", 37, [I, N, N, N, N, N], 0, PROC, ["uid"]),
  sc("setgid", 38, [I, N, N, N, N, N], 0, PROC, ["gid"]),
  sc("setreuid", 39, [I, I, N, N, N, N], 0, PROC, ["ruid", "euid"]),
  sc("setregid", 40, [I, I, N, N, N, N], 0, PROC, ["rgid", "egid"]),
  sc("setresuid", 41, [I, I, I, N, N, N], 0, PROC, ["ruid", "euid", "suid"]),
  sc("setresgid", 42, [I, I, I, N, N, N], 0, PROC, ["rgid", "egid", "sgid"]),
  sc("memfd_create", 43, [S, I, N, N, N, N], 0, FILE, ["name", "flags"]),
  sc("clone", 44, [I, N, N, N, N, N], 0, PROC, ["flags"]),
  sc("clone3", 45, [N, N, N, N, N, N], 0, PROC, []),
  sc("fork", 46, [N, N, N, N, N, N], 0, PROC, []),
  sc("vfork", 47, [N, N, N, N, N, N], 0, PROC, []),
  sc("close", 48, [I, N, N, N, N, N], 0, FILE, ["fd"]),
  sc("chdir", 49, [S, N, N, N, N, N], 0, FILE, ["path"]),
  sc("fchdir", 50, [I, N, N, N, N, N], FD_PATH_ARG0, FILE, ["fd", "fdpath"]),
  sc("setsid", 51, [N, N, N, N, N, N], 0, PROC, []),
  sc("rmdir", 52, [S, N, N, N, N, N], 0, FILE, ["path"], [{ param: "path" }]),
  sc("umount", 53, [S, N, N, N, N, N], 0, FILE, ["name"], [{ param: "name" }]),
  sc("setns", 54, [I, I, N, N, N, N], FD_PATH_ARG0, PROC, ["fd", "nstype", "fdpath"]),
  sc("unshare", 55, [I, N, N, N, N, N], 0, PROC, ["flags"]),
  sc("bpf", 56, [I, N, N, N, N, N], 0, OTHER, ["cmd"]),
];

export const SYSCALL_BY_ID: readonly (SyscallSpec | undefined)[] = (() => {
  const t: (SyscallSpec | undefined)[] = new Array(64).fill(undefined);
  for (const s of SYSCALLS) t[s.id] = s;
  return t;
})();

export const SYSCALL_BY_NAME: ReadonlyMap<string, SyscallSpec> = new Map(SYSCALLS.map((s) => [s.name, s]));

/** One decoded frame: the header, and where each parameter lies in `buf`. */
export interface Frame {
  type: number;
  sc: number;
  /** Nanoseconds since boot. */
  ts: number;
  tgid: number;
  tid: number;
  ret: number;
  cpu: number;
  uid: number;
  gid: number;
  buf: Buffer;
  /** Start of parameter i is offs[i], its length lens[i]. */
  offs: number[];
  lens: number[];
}

export class WireError extends PeregrineError {
  constructor(message: string) {
    super("SENSOR_WIRE", message);
    this.name = "WireError";
  }
}

/** Reads a little-endian signed 64-bit integer as a number (exact up to 2^53). */
export function readI64(buf: Buffer, at: number): number {
  const lo = buf.readUInt32LE(at);
  const hi = buf.readInt32LE(at + 4);
  return hi * 4294967296 + lo;
}

export function readU64(buf: Buffer, at: number): number {
  return buf.readUInt32LE(at + 4) * 4294967296 + buf.readUInt32LE(at);
}

export function paramInt(f: Frame, i: number): number | undefined {
  return f.lens[i] === 8 ? readI64(f.buf, f.offs[i]!) : undefined;
}

/** A STR parameter without its trailing NUL; undefined when the sensor could not read it. */
export function paramStr(f: Frame, i: number): string | undefined {
  const len = f.lens[i];
  if (!len) return undefined;
  const start = f.offs[i]!;
  let end = start + len;
  if (f.buf[end - 1] === 0) end--;
  return f.buf.toString("utf8", start, end);
}

export function paramBytes(f: Frame, i: number): Buffer | undefined {
  const len = f.lens[i];
  if (!len) return undefined;
  return f.buf.subarray(f.offs[i]!, f.offs[i]! + len);
}

/** NUL-separated argv as a list of strings. */
export function paramArgs(f: Frame, i: number): string[] {
  const b = paramBytes(f, i);
  if (!b) return [];
  const out: string[] = [];
  let start = 0;
  for (let k = 0; k < b.length; k++) {
    if (b[k] === 0) {
      out.push(b.toString("utf8", start, k));
      start = k + 1;
    }
  }
  if (start < b.length) out.push(b.toString("utf8", start)); // truncated last argument
  return out;
}

/**
 * Splits a byte stream into frames. Chunks may cut frames anywhere; the incomplete tail is
 * kept until the next chunk. Throws WireError on a corrupt stream (a bad length).
 *
 * With `reuse`, one Frame object is refilled for every frame (no allocation per frame): the
 * callback must copy what it keeps, because the next frame overwrites it.
 */
export class FrameDecoder {
  private rest: Buffer | undefined;
  private readonly shared: Frame | undefined;

  constructor(
    private readonly onFrame: (f: Frame) => void,
    options: { reuse?: boolean } = {},
  ) {
    if (options.reuse) this.shared = newFrame();
  }

  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    let off = 0;
    const end = buf.length;
    while (off + 4 <= end) {
      const len = buf.readUInt32LE(off);
      if (len < HDR.size || len > MAX_FRAME)
        throw new WireError(`corrupt sensor stream: frame length ${len} at byte ${off} of a chunk`);
      if (off + len > end) break;
      this.onFrame(decodeFrame(buf, off, len, this.shared));
      off += len;
    }
    if (off < end) this.rest = buf.subarray(off);
  }

  /** Bytes held back waiting for the rest of a frame. */
  get pending(): number {
    return this.rest?.length ?? 0;
  }
}

function newFrame(): Frame {
  return { type: 0, sc: 0, ts: 0, tgid: 0, tid: 0, ret: 0, cpu: 0, uid: 0, gid: 0, buf: Buffer.alloc(0), offs: [], lens: [] };
}

export function decodeFrame(buf: Buffer, at: number, len: number, into?: Frame): Frame {
  const nparams = buf.readUInt16LE(at + HDR.nparams);
  if (nparams > MAX_PARAMS) throw new WireError(`corrupt sensor frame: ${nparams} parameters`);
  const f = into ?? newFrame();
  const offs = f.offs;
  const lens = f.lens;
  if (offs.length !== nparams) {
    offs.length = nparams;
    lens.length = nparams;
  }
  let p = at + HDR.size + 2 * nparams;
  for (let i = 0; i < nparams; i++) {
    const l = buf.readUInt16LE(at + HDR.size + 2 * i);
    offs[i] = p;
    lens[i] = l;
    p += l;
  }
  if (p > at + len) throw new WireError(`corrupt sensor frame: parameters overrun the frame (${p - at} > ${len})`);
  f.type = buf.readUInt16LE(at + HDR.type);
  f.sc = buf.readUInt16LE(at + HDR.sc);
  f.ts = readU64(buf, at + HDR.ts);
  f.tgid = buf.readUInt32LE(at + HDR.tgid);
  f.tid = buf.readUInt32LE(at + HDR.tid);
  f.ret = readI64(buf, at + HDR.ret);
  f.cpu = buf.readUInt16LE(at + HDR.cpu);
  f.uid = buf.readUInt32LE(at + HDR.uid);
  f.gid = buf.readUInt32LE(at + HDR.gid);
  f.buf = buf;
  return f;
}

export interface SockTuple {
  family: number;
  type: number;
  protocol: number;
  sport: number;
  dport: number;
  saddr: string;
  daddr: string;
}

export function formatIp(b: Buffer, at: number, family: number): string {
  if (family === 2) return `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
  const groups: string[] = [];
  for (let i = 0; i < 8; i++) groups.push(b.readUInt16BE(at + 2 * i).toString(16));
  return compressV6(groups);
}

/** Eight hex groups as an IPv6 address, the longest run of zeros as "::". */
export function compressV6(groups: string[]): string {
  // the longest run of zero groups becomes "::"
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

/** ::ffff:a.b.c.d, or :: (an unbound end), the forms Falco folds to IPv4. */
function v4MappedOrZero(b: Buffer, at: number): boolean {
  for (let i = 0; i < 10; i++) if (b[at + i] !== 0) return false;
  return (b[at + 10] === 0xff && b[at + 11] === 0xff) || b.readUInt32BE(at + 12) === 0;
}

/**
 * A socket tuple. As in Falco, an IPv6 socket whose ends are both IPv4-mapped (a dual-stack
 * socket talking IPv4, Java's default) is an IPv4 socket, so `fd.sip = 169.254.169.254`
 * and `fd.snet in (rfc_1918_addresses)` see the address.
 */
export function readSockTuple(b: Buffer, at: number): SockTuple {
  let family = b.readUInt16LE(at + SOCK_TUPLE.family);
  let saddrAt = at + SOCK_TUPLE.saddr;
  let daddrAt = at + SOCK_TUPLE.daddr;
  if (family === 10 && v4MappedOrZero(b, saddrAt) && v4MappedOrZero(b, daddrAt)) {
    family = 2;
    saddrAt += 12;
    daddrAt += 12;
  }
  return {
    family,
    type: b.readUInt16LE(at + SOCK_TUPLE.type),
    protocol: b.readUInt16LE(at + SOCK_TUPLE.protocol),
    sport: b.readUInt16LE(at + SOCK_TUPLE.sport),
    dport: b.readUInt16LE(at + SOCK_TUPLE.dport),
    saddr: formatIp(b, saddrAt, family),
    daddr: formatIp(b, daddrAt, family),
  };
}

/** A struct sockaddr as passed to connect/bind/sendto. */
export interface SockAddr {
  family: number;
  addr?: string;
  port?: number;
  path?: string;
}

export function readSockAddr(b: Buffer): SockAddr | undefined {
  if (b.length < 2) return undefined;
  const family = b.readUInt16LE(0);
  if (family === 2 && b.length >= 8) return { family, port: b.readUInt16BE(2), addr: formatIp(b, 4, 2) };
  if (family === 10 && b.length >= 24) return { family, port: b.readUInt16BE(2), addr: formatIp(b, 8, 10) };
  if (family === 1) {
    // abstract sockets start with a NUL; shown with a leading @ as ss does
    const abstract = b.length > 2 && b[2] === 0;
    const end = abstract ? b.length : b.indexOf(0, 2) >= 0 ? b.indexOf(0, 2) : b.length;
    const path = abstract ? `@${b.toString("utf8", 3, end).replace(/\0+$/, "")}` : b.toString("utf8", 2, end);
    return { family, path };
  }
  return { family };
}

export interface Hello {
  version: number;
  ncpu: number;
  bootOffsetNs: bigint;
  ringBytes: number;
}

export function readHello(f: Frame): Hello {
  const at = f.offs[0]!;
  return {
    version: f.buf.readUInt32LE(at + HELLO.version),
    ncpu: f.buf.readUInt32LE(at + HELLO.ncpu),
    bootOffsetNs: f.buf.readBigInt64LE(at + HELLO.boot_offset_ns),
    ringBytes: readU64(f.buf, at + HELLO.ring_bytes),
  };
}

export interface SensorCounters {
  events: number[];
  drops: number[];
  /** Events left in the kernel because no loaded rule can match them (the open filter). */
  filtered: number[];
}

export function readStats(f: Frame): SensorCounters {
  const at = f.offs[0]!;
  const events: number[] = [];
  const drops: number[] = [];
  const filtered: number[] = [];
  for (let i = 0; i < CAT.COUNT; i++) {
    events.push(readU64(f.buf, at + STATS.events + 8 * i));
    drops.push(readU64(f.buf, at + STATS.drops + 8 * i));
    filtered.push(readU64(f.buf, at + STATS.filtered + 8 * i));
  }
  return { events, drops, filtered };
}
