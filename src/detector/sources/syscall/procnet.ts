/**
 * Sockets that existed before the detector started: /proc/PID/fd names them only as
 * "socket:[INODE]". The network namespace's tables (/proc/PID/net/tcp, tcp6, udp, udp6,
 * unix) map the inode to its addresses, as Falco's /proc scan does, so a descriptor
 * inherited or dup'd later (a reverse shell's socket on stdin) is still an IPv4 socket with
 * its tuple, not an unknown descriptor.
 */
import { readFileSync, readlinkSync } from "node:fs";
import type { FdInfo } from "./state.js";
import { tupleName } from "./state.js";
import { compressV6, type SockTuple } from "./wire.js";

const TCP_LISTEN = 0x0a;
const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;

/** A /proc/net address: "0100007F:1F90" (IPv4, little-endian words) or 32 hex digits for IPv6. */
export function parseProcNetAddress(text: string): { ip: string; port: number; v6: boolean } | undefined {
  const colon = text.indexOf(":");
  if (colon < 0) return undefined;
  const hex = text.slice(0, colon);
  const port = Number.parseInt(text.slice(colon + 1), 16);
  if (!Number.isInteger(port)) return undefined;
  const word = (i: number) => {
    const w = hex.slice(i * 8, i * 8 + 8);
    // each 32-bit word is printed in host (little-endian) order
    return [w.slice(6, 8), w.slice(4, 6), w.slice(2, 4), w.slice(0, 2)].map((b) => Number.parseInt(b, 16));
  };
  if (hex.length === 8) return { ip: word(0).join("."), port, v6: false };
  if (hex.length !== 32) return undefined;
  const bytes = [0, 1, 2, 3].flatMap(word);
  // IPv4-mapped (or unspecified) ends are named as IPv4 by the caller when both ends are
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return { ip: compressV6(groups), port, v6: true };
}

/** ::ffff:a.b.c.d as a.b.c.d, :: as 0.0.0.0; undefined for any other IPv6 address. */
function asV4(ip: string): string | undefined {
  if (ip === "::") return "0.0.0.0";
  const m = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(ip);
  if (!m) return undefined;
  const hi = Number.parseInt(m[1]!, 16);
  const lo = Number.parseInt(m[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/**
 * Parses one of /proc/net/{tcp,tcp6,udp,udp6} into `out` (inode -> descriptor). A TCP
 * connection whose local port is listening in the same table is the server's end.
 */
export function parseInetTable(text: string, protocol: 6 | 17, out: Map<number, FdInfo>): void {
  const rows: { local: NonNullable<ReturnType<typeof parseProcNetAddress>>; remote: NonNullable<ReturnType<typeof parseProcNetAddress>>; state: number; inode: number }[] = [];
  const listening = new Set<number>();
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const local = parseProcNetAddress(f[1]!);
    const remote = parseProcNetAddress(f[2]!);
    const state = Number.parseInt(f[3]!, 16);
    const inode = Number(f[9]);
    if (!local || !remote || !Number.isInteger(inode) || inode === 0) continue;
    rows.push({ local, remote, state, inode });
    if (protocol === 6 && state === TCP_LISTEN) listening.add(local.port);
  }
  for (const r of rows) {
    let family = r.local.v6 ? 10 : 2;
    let saddr = r.local.ip;
    let daddr = r.remote.ip;
    if (family === 10) {
      const s4 = asV4(saddr);
      const d4 = asV4(daddr);
      if (s4 !== undefined && d4 !== undefined) {
        family = 2;
        saddr = s4;
        daddr = d4;
      }
    }
    const sockType = protocol === 6 ? SOCK_STREAM : SOCK_DGRAM;
    const tuple: SockTuple = { family, type: sockType, protocol, sport: r.local.port, dport: r.remote.port, saddr, daddr };
    const server = protocol === 6 && r.state !== TCP_LISTEN && listening.has(r.local.port);
    out.set(r.inode, {
      type: family === 2 ? "ipv4" : "ipv6",
      name: tupleName(tuple, server),
      flags: 0,
      tuple,
      family,
      sockType,
      protocol,
      ...(r.remote.port !== 0 ? { role: server ? ("server" as const) : ("client" as const) } : {}),
    });
  }
}

/** Parses /proc/net/unix into `out`: a socket's path, or "" when it has none. */
export function parseUnixTable(text: string, out: Map<number, FdInfo>): void {
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 7) continue;
    const inode = Number(f[6]);
    if (!Number.isInteger(inode) || inode === 0) continue;
    out.set(inode, { type: "unix", name: f[7] ?? "", flags: 0, family: 1, sockType: Number.parseInt(f[4]!, 16) });
  }
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/**
 * Socket tables per network namespace, read once each and only when a process holding a
 * socket is read. One instance serves one /proc scan (or one late read): tables change.
 */
export class SocketTables {
  private readonly byNetns = new Map<string, Map<number, FdInfo>>();

  /** The descriptor for socket `inode` of process `pid`, or undefined when no table has it. */
  lookup(pid: number, inode: number): FdInfo | undefined {
    let ns: string;
    try {
      ns = readlinkSync(`/proc/${pid}/ns/net`);
    } catch {
      return undefined;
    }
    let table = this.byNetns.get(ns);
    if (!table) {
      table = new Map();
      for (const [file, proto] of [
        ["tcp", 6],
        ["tcp6", 6],
        ["udp", 17],
        ["udp6", 17],
      ] as const) {
        const text = read(`/proc/${pid}/net/${file}`);
        if (text) parseInetTable(text, proto, table);
      }
      const unix = read(`/proc/${pid}/net/unix`);
      if (unix) parseUnixTable(unix, table);
      this.byNetns.set(ns, table);
    }
    const fd = table.get(inode);
    if (!fd) return undefined;
    const copy: FdInfo = { ...fd };
    if (fd.tuple) copy.tuple = { ...fd.tuple };
    return copy;
  }
}
