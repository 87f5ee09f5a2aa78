/**
 * The /proc/net tables that name sockets found by the /proc scan: addresses in the kernel's
 * hex notation, the server's end of an accepted connection, IPv4-mapped IPv6, UDP, unix.
 */
import { describe, expect, it } from "vitest";
import { parseInetTable, parseProcNetAddress, parseUnixTable } from "../../../src/detector/sources/syscall/procnet.js";
import type { FdInfo } from "../../../src/detector/sources/syscall/state.js";

const HEAD = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n";
const row = (sl: number, local: string, remote: string, st: string, inode: number) =>
  `   ${sl}: ${local} ${remote} ${st} 00000000:00000000 00:00000000 00000000     0        0 ${inode} 1 0000000000000000 100 0 0 10 0\n`;

describe("/proc/net tables", () => {
  it("reads addresses in the kernel's notation", () => {
    expect(parseProcNetAddress("0100007F:1F90")).toEqual({ ip: "127.0.0.1", port: 8080, v6: false });
    expect(parseProcNetAddress("0000000000000000FFFF00000100007F:B1B2")).toEqual({ ip: "::ffff:7f00:1", port: 0xb1b2, v6: true });
    expect(parseProcNetAddress("B80D0120000000000000000001000000:01BB")).toEqual({ ip: "2001:db8::1", port: 443, v6: true });
    expect(parseProcNetAddress("nonsense")).toBeUndefined();
    expect(parseProcNetAddress("0100007F:zz")).toBeUndefined();
  });

  it("tcp: a listener, the server's end of a connection to it, a client's end; tcp6 with IPv4-mapped ends is IPv4", () => {
    const out = new Map<number, FdInfo>();
    parseInetTable(
      HEAD +
        row(0, "00000000:1F90", "00000000:0000", "0A", 100) + // *:8080 listening
        row(1, "0100007F:1F90", "0100007F:D431", "01", 101) + // accepted: 127.0.0.1:8080 <- :54321
        row(2, "0500000A:9C40", "07007FCB:01BB", "01", 102) + // 10.0.0.5:40000 -> 203.127.0.7:443
        row(3, "0100007F:1F90", "0100007F:D432", "06", 0), // TIME_WAIT: no inode, skipped
      6,
      out,
    );
    expect(out.get(100)).toMatchObject({ type: "ipv4", name: "0.0.0.0:8080", protocol: 6, sockType: 1 });
    expect(out.get(100)!.role).toBeUndefined();
    expect(out.get(101)).toMatchObject({ type: "ipv4", name: "127.0.0.1:54321->127.0.0.1:8080", role: "server" });
    expect(out.get(101)!.tuple).toEqual({ family: 2, type: 1, protocol: 6, saddr: "127.0.0.1", sport: 8080, daddr: "127.0.0.1", dport: 54321 });
    expect(out.get(102)).toMatchObject({ type: "ipv4", name: "10.0.0.5:40000->203.127.0.7:443", role: "client" });
    expect(out.has(0)).toBe(false);

    const v6 = new Map<number, FdInfo>();
    parseInetTable(
      HEAD +
        row(0, "0000000000000000FFFF00000100007F:B1B2", "0000000000000000FFFF00000100007F:2388", "01", 200) +
        row(1, "B80D0120000000000000000001000000:01BB", "B80D0120000000000000000002000000:C350", "01", 201),
      6,
      v6,
    );
    expect(v6.get(200)).toMatchObject({ type: "ipv4", name: "127.0.0.1:45490->127.0.0.1:9096" });
    expect(v6.get(201)).toMatchObject({ type: "ipv6", name: "[2001:db8::1]:443->[2001:db8::2]:50000" });
  });

  it("udp and unix sockets", () => {
    const out = new Map<number, FdInfo>();
    parseInetTable(HEAD + row(0, "0100007F:0035", "00000000:0000", "07", 300), 17, out);
    expect(out.get(300)).toMatchObject({ type: "ipv4", name: "127.0.0.1:53", protocol: 17, sockType: 2 });
    parseUnixTable(
      "Num       RefCount Protocol Flags    Type St Inode Path\n" +
        "0000000031986722: 00000002 00000000 00010000 0001 01  1143 /run/docker.sock\n" +
        "000000009db666b4: 00000003 00000000 00000000 0002 03  1142\n" +
        "garbage\n",
      out,
    );
    expect(out.get(1143)).toMatchObject({ type: "unix", name: "/run/docker.sock", sockType: 1 });
    expect(out.get(1142)).toMatchObject({ type: "unix", name: "", sockType: 2 });
  });
});
