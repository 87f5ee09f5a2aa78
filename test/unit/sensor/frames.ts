/**
 * Builds sensor frames in tests, for the tracker and extractors. The decoder itself is checked
 * against frames written by C (wire.test.ts); this encoder only has to agree with it.
 */
import { EV, EXEC_INFO, EXEC_NPARAMS, FORK_INFO, HDR, SOCK_TUPLE, SYSCALL_BY_NAME, decodeFrame, type Frame } from "../../../src/detector/sources/syscall/wire.js";

type Param = Buffer;

export function i64(v: number): Param {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(v));
  return b;
}

export function str(s: string | undefined): Param {
  return s === undefined ? Buffer.alloc(0) : Buffer.from(`${s}\0`);
}

export interface HeaderInit {
  type: number;
  sc?: number;
  tgid: number;
  tid?: number;
  ret?: number;
  ts?: number;
  uid?: number;
  gid?: number;
}

export function frame(h: HeaderInit, params: Param[]): Frame {
  const lens = Buffer.alloc(2 * params.length);
  params.forEach((p, i) => lens.writeUInt16LE(p.length, 2 * i));
  const body = Buffer.concat([lens, ...params]);
  const hdr = Buffer.alloc(HDR.size);
  hdr.writeUInt32LE(HDR.size + body.length, HDR.len);
  hdr.writeUInt16LE(h.type, HDR.type);
  hdr.writeUInt16LE(params.length, HDR.nparams);
  hdr.writeBigUInt64LE(BigInt(h.ts ?? 1_000_000_000), HDR.ts);
  hdr.writeUInt32LE(h.tgid, HDR.tgid);
  hdr.writeUInt32LE(h.tid ?? h.tgid, HDR.tid);
  hdr.writeBigInt64LE(BigInt(h.ret ?? 0), HDR.ret);
  hdr.writeUInt16LE(h.sc ?? 0, HDR.sc);
  hdr.writeUInt32LE(h.uid ?? 0, HDR.uid);
  hdr.writeUInt32LE(h.gid ?? 0, HDR.gid);
  const buf = Buffer.concat([hdr, body]);
  return decodeFrame(buf, 0, buf.length);
}

/** A syscall exit frame; args in the order of the syscall's parameter names. */
export function syscall(name: string, tgid: number, ret: number, params: Param[], extra: { uid?: number; gid?: number; ts?: number } = {}): Frame {
  const spec = SYSCALL_BY_NAME.get(name);
  if (!spec) throw new Error(`unknown syscall ${name}`);
  return frame({ type: EV.SYSCALL, sc: spec.id, tgid, ret, ...extra }, params);
}

export interface ExecInit {
  ppid: number;
  exepath: string;
  argv: string[];
  cwd: string;
  comm: string;
  uid?: number;
  loginuid?: number;
  flags?: number;
  cgroup?: string;
  tty?: number;
  env?: string[];
}

export function exec(tgid: number, e: ExecInit): Frame {
  const info = Buffer.alloc(EXEC_INFO.size);
  info.writeUInt32LE(e.ppid, EXEC_INFO.ppid);
  info.writeUInt32LE(tgid, EXEC_INFO.sid);
  info.writeUInt32LE(tgid, EXEC_INFO.pgid);
  info.writeUInt32LE(tgid, EXEC_INFO.vpid);
  info.writeUInt32LE(tgid, EXEC_INFO.vpgid);
  info.writeUInt32LE(e.loginuid ?? 0xffffffff, EXEC_INFO.loginuid);
  info.writeUInt32LE(e.uid ?? 0, EXEC_INFO.uid);
  info.writeUInt32LE(e.uid ?? 0, EXEC_INFO.euid);
  info.writeUInt32LE(e.tty ?? 0, EXEC_INFO.tty);
  info.writeUInt32LE(e.flags ?? 0, EXEC_INFO.flags);
  info.writeBigUInt64LE(1n << 21n, EXEC_INFO.cap_effective);
  info.writeBigUInt64LE((1n << 21n) | 1n, EXEC_INFO.cap_permitted);
  const argv = Buffer.from(e.argv.map((a) => `${a}\0`).join(""));
  const env = Buffer.from((e.env ?? []).map((v) => `${v}\0`).join(""));
  const params = [info, str(e.exepath), str(e.exepath), argv, str(e.cwd), str(e.comm), str(e.cgroup ?? ""), env];
  if (params.length !== EXEC_NPARAMS) throw new Error("exec params out of step");
  return frame({ type: EV.EXEC, sc: SYSCALL_BY_NAME.get("execve")!.id, tgid, uid: e.uid ?? 0 }, params);
}

export function fork(parent: number, child: number, ppid = parent): Frame {
  const b = Buffer.alloc(FORK_INFO.size);
  b.writeUInt32LE(child, FORK_INFO.child_tgid);
  b.writeUInt32LE(ppid, FORK_INFO.ppid);
  b.writeUInt32LE(child, FORK_INFO.vpid);
  return frame({ type: EV.FORK, tgid: parent }, [b]);
}

export function exit(tgid: number): Frame {
  return frame({ type: EV.EXIT, tgid }, []);
}

export function tuple(t: { family: number; protocol: number; type?: number; saddr: number[]; sport: number; daddr: number[]; dport: number }): Param {
  const b = Buffer.alloc(SOCK_TUPLE.size);
  b.writeUInt16LE(t.family, SOCK_TUPLE.family);
  b.writeUInt16LE(t.type ?? 1, SOCK_TUPLE.type);
  b.writeUInt16LE(t.protocol, SOCK_TUPLE.protocol);
  b.writeUInt16LE(t.sport, SOCK_TUPLE.sport);
  b.writeUInt16LE(t.dport, SOCK_TUPLE.dport);
  Buffer.from(t.saddr).copy(b, SOCK_TUPLE.saddr);
  Buffer.from(t.daddr).copy(b, SOCK_TUPLE.daddr);
  return b;
}

export function sockaddrIn(addr: number[], port: number): Param {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(2, 0);
  b.writeUInt16BE(port, 2);
  Buffer.from(addr).copy(b, 4);
  return b;
}
