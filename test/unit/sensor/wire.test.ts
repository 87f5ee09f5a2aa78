/**
 * Keeps sensor/wire.h and src/detector/sources/syscall/wire.ts in step: the C compiler's view
 * of the layout (sensor/build/wire-dump layout) must equal the decoder's constants, and the
 * sample frames written by C code decode to the values the C code put in them.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  CAT,
  EV,
  EXE_FLAG,
  EXEC_INFO,
  EXEC_NPARAMS,
  EXTRA,
  FORK_INFO,
  FrameDecoder,
  HDR,
  HELLO,
  KIND,
  MAX_PARAMS,
  SOCK_TUPLE,
  STATS,
  SYSCALLS,
  WIRE_VERSION,
  WireError,
  extraParamCount,
  paramArgs,
  paramBytes,
  paramInt,
  paramStr,
  readHello,
  readSockAddr,
  readSockTuple,
  readStats,
  type Frame,
} from "../../../src/detector/sources/syscall/wire.js";
import { buildSensor, ROOT, WIRE_DUMP } from "./helpers.js";

interface StructLayout {
  size: number;
  fields: Record<string, [number, number]>;
}
interface Layout {
  version: number;
  maxParams: number;
  scMax: number;
  pg_hdr: StructLayout;
  pg_exec_info: StructLayout;
  pg_fork_info: StructLayout;
  pg_sock_tuple: StructLayout;
  pg_hello: StructLayout;
  pg_stats: StructLayout;
  events: Record<string, number>;
  kinds: Record<string, number>;
  extras: Record<string, number>;
  categories: Record<string, number>;
  exeFlags: Record<string, number>;
  execParams: number;
  syscalls: { name: string; id: number; args: number[]; extra: number; category: number }[];
}

let layout: Layout;
let frames: Frame[];

beforeAll(() => {
  buildSensor();
  layout = JSON.parse(execFileSync(WIRE_DUMP, ["layout"], { encoding: "utf8" })) as Layout;
  const bytes = execFileSync(WIRE_DUMP, ["frames"]);
  frames = [];
  // feed the stream in awkward chunk sizes: frames must survive being cut anywhere
  const dec = new FrameDecoder((f) => frames.push(f));
  for (let i = 0; i < bytes.length; i += 7) dec.push(bytes.subarray(i, Math.min(bytes.length, i + 7)));
  expect(dec.pending).toBe(0);
});

function offsets(s: StructLayout): Record<string, number> {
  return Object.fromEntries(Object.entries(s.fields).map(([k, [off]]) => [k, off]));
}

function pick(o: Record<string, number>, keys: string[]): Record<string, number> {
  return Object.fromEntries(keys.map((k) => [k, o[k]!]));
}

describe("wire.h layout equals the decoder's", () => {
  it("versions, limits and enums", () => {
    expect(layout.version).toBe(WIRE_VERSION);
    expect(layout.maxParams).toBe(MAX_PARAMS);
    expect(layout.events).toEqual(EV);
    expect(layout.kinds).toEqual(KIND);
    expect(layout.extras).toEqual(EXTRA);
    expect(layout.categories).toEqual(CAT);
    expect(layout.exeFlags).toEqual(EXE_FLAG);
    expect(layout.execParams).toBe(EXEC_NPARAMS);
  });

  it("struct offsets and sizes", () => {
    const check = (s: StructLayout, ts: Record<string, number>) => {
      expect(s.size).toBe(ts.size);
      const { size: _size, ...fields } = ts;
      expect(offsets(s)).toEqual(pick(fields, Object.keys(s.fields)));
      expect(Object.keys(fields).sort()).toEqual(Object.keys(s.fields).sort());
    };
    check(layout.pg_hdr, HDR);
    check(layout.pg_exec_info, EXEC_INFO);
    check(layout.pg_fork_info, FORK_INFO);
    check(layout.pg_sock_tuple, SOCK_TUPLE);
    check(layout.pg_hello, HELLO);
    check(layout.pg_stats, STATS);
  });

  it("the syscall table, and a parameter name for every parameter a frame carries", () => {
    expect(layout.syscalls.map((s) => ({ ...s }))).toEqual(
      SYSCALLS.map((s) => ({ name: s.name, id: s.id, args: [...s.args], extra: s.extra, category: s.category })),
    );
    for (const s of SYSCALLS) {
      const carried = s.args.filter((k) => k !== KIND.NONE).length + extraParamCount(s.extra);
      expect(s.paramNames.length, s.name).toBe(carried);
      expect(s.id).toBeLessThan(layout.scMax);
      // a resolved path parameter is a string argument; its directory, a descriptor argument
      const kindOf = (name: string) => s.args.filter((k) => k !== KIND.NONE)[s.paramNames.indexOf(name)];
      for (const { param, dirfd } of s.paths) {
        expect(kindOf(param), `${s.name} ${param}`).toBe(KIND.STR);
        if (dirfd !== undefined) expect(kindOf(dirfd), `${s.name} ${dirfd}`).toBe(KIND.INT);
      }
    }
  });
});

describe("frames written by C decode to the values written", () => {
  it("hello", () => {
    const f = frames[0]!;
    expect(f.type).toBe(EV.HELLO);
    expect(readHello(f)).toEqual({ version: WIRE_VERSION, ncpu: 2, bootOffsetNs: 1700000000000000000n, ringBytes: 1 << 22 });
  });

  it("header fields and an openat", () => {
    const f = frames[1]!;
    expect(f).toMatchObject({ type: EV.SYSCALL, sc: 2, ts: 42e9 + 7, tgid: 4242, tid: 4243, ret: 3, cpu: 1, uid: 1000, gid: 1001 });
    expect(paramInt(f, 0)).toBe(-100);
    expect(paramStr(f, 1)).toBe("/etc/shadow");
    expect(paramInt(f, 2)).toBe(0o2000000);
    expect(paramInt(f, 3)).toBe(0);
  });

  it("a connect with its sockaddr and socket tuple", () => {
    const f = frames[2]!;
    expect(f.ret).toBe(-115);
    expect(readSockAddr(paramBytes(f, 1)!)).toEqual({ family: 2, port: 443, addr: "10.1.2.3" });
    expect(paramInt(f, 2)).toBe(16);
    expect(readSockTuple(f.buf, f.offs[3]!)).toEqual({
      family: 2, type: 1, protocol: 6, sport: 40000, dport: 443, saddr: "192.168.0.9", daddr: "10.1.2.3",
    });
  });

  it("an exec with its info struct and strings", () => {
    const f = frames[3]!;
    expect(f.type).toBe(EV.EXEC);
    const b = f.buf;
    const at = f.offs[0]!;
    expect(f.lens[0]).toBe(EXEC_INFO.size);
    expect(b.readUInt32LE(at + EXEC_INFO.ppid)).toBe(4000);
    expect(b.readUInt32LE(at + EXEC_INFO.sid)).toBe(3900);
    expect(b.readUInt32LE(at + EXEC_INFO.loginuid)).toBe(1000);
    expect(b.readUInt32LE(at + EXEC_INFO.tty)).toBe((136 << 20) | 3);
    expect(b.readUInt32LE(at + EXEC_INFO.flags)).toBe(EXE_FLAG.FROM_MEMFD);
    expect(b.readBigUInt64LE(at + EXEC_INFO.cap_effective)).toBe(0x1ffffffffffn);
    expect(b.readBigInt64LE(at + EXEC_INFO.exe_ctime_ns)).toBe(1600000000123456789n);
    expect(b.readBigInt64LE(at + EXEC_INFO.exe_mtime_ns)).toBe(-5n);
    expect(b.readBigUInt64LE(at + EXEC_INFO.exe_ino)).toBe(1234567n);
    expect(b.readBigUInt64LE(at + EXEC_INFO.cap_permitted)).toBe(0x3n);
    expect(b.readBigUInt64LE(at + EXEC_INFO.cap_inheritable)).toBe(0x400n);
    expect(paramStr(f, 1)).toBe("/usr/bin/cat");
    expect(paramStr(f, 2)).toBe("/bin/cat");
    expect(paramArgs(f, 3)).toEqual(["cat", "/etc/shadow"]);
    expect(paramStr(f, 4)).toBe("/root");
    expect(paramStr(f, 5)).toBe("cat");
    expect(paramStr(f, 6)).toBe("session-1.scope");
    expect(paramArgs(f, 7)).toEqual(["HOME=/root", "LANG=C.UTF-8"]);
  });

  it("fork, exit, an unreadable string, stats", () => {
    const fork = frames[4]!;
    expect(fork.type).toBe(EV.FORK);
    expect(fork.buf.readUInt32LE(fork.offs[0]! + FORK_INFO.child_tgid)).toBe(4243);
    expect(fork.buf.readUInt32LE(fork.offs[0]! + FORK_INFO.ppid)).toBe(4242);
    expect(fork.buf.readUInt32LE(fork.offs[0]! + FORK_INFO.vpid)).toBe(7);
    expect(frames[5]).toMatchObject({ type: EV.EXIT, tgid: 4243, offs: [] });
    const sl = frames[6]!;
    expect(paramStr(sl, 0)).toBe("/etc/shadow");
    expect(paramStr(sl, 2)).toBeUndefined();
    expect(readStats(frames[7]!)).toEqual({ events: [1000, 20, 5, 0], drops: [3, 0, 0, 0], filtered: [400, 0, 0, 0] });
    expect(frames).toHaveLength(8);
  });

  it("a corrupt length is a WireError, not a crash", () => {
    const dec = new FrameDecoder(() => undefined);
    const bad = Buffer.alloc(8);
    bad.writeUInt32LE(3, 0);
    expect(() => dec.push(bad)).toThrow(WireError);
  });
});

const UNISTD_32 = "/usr/include/x86_64-linux-gnu/asm/unistd_32.h";

describe("ia32 syscall numbers", () => {
  it.skipIf(!existsSync(UNISTD_32))("sensor/syscall_nrs_ia32.h agrees with the C library's asm/unistd_32.h", () => {
    const libc = new Map<string, number>();
    for (const m of readFileSync(UNISTD_32, "utf8").matchAll(/^#define __NR_(\w+) (\d+)$/gm)) libc.set(m[1]!, Number(m[2]));
    const ours = [...readFileSync(join(ROOT, "sensor", "syscall_nrs_ia32.h"), "utf8").matchAll(/^#define PG_NR32_(\w+) \((-?\d+)\)$/gm)];
    // every captured syscall has an entry
    expect(ours.map((m) => m[1]).sort()).toEqual(SYSCALLS.map((s) => s.name).sort());
    for (const [, name, nr] of ours) {
      // the uid and gid calls are the 32-bit-id variants
      const libcName = /^set(re|res)?[ug]id$/.test(name!) ? `${name}32` : name!;
      if (Number(nr) === -1) expect(libc.has(libcName), `${name} has an ia32 number`).toBe(false);
      else expect(libc.get(libcName), name).toBe(Number(nr));
    }
  });
});
