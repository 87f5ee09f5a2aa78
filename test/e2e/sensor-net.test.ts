/**
 * End to end, as root: socket events from the real sensor carry the tuples Falco would
 * give them. sensor/testprogs/net-client.c connects over IPv4 and through an IPv6 socket
 * to an IPv4-mapped address (Falco folds that socket to IPv4), accepts both, and sends two
 * datagrams from an unconnected UDP socket (the destination comes from sendto's address;
 * only the first send renames the descriptor). And a socket connected before the detector
 * started, read from /proc at start, keeps its tuple when it is dup'd later. A small rules
 * file prints the fields.
 */
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector, type SyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { buildSensor, isRoot, TESTPROGS } from "../unit/sensor/helpers.js";
import { runsTheSensor } from "../harness/sensor-lock.js";

runsTheSensor();

const RULES = `
- rule: pg test sockets
  desc: the socket events of the test program
  condition: evt.type in (connect, accept, accept4, sendto) and proc.name=net-client
  output: "%evt.type %fd.name type=%fd.typechar proto=%fd.l4proto sip=%fd.sip sport=%fd.sport cip=%fd.cip changed=%fd.name_changed"
  priority: NOTICE

- rule: pg test server names
  desc: a server name compared as Falco compares it (the name resolved, not the address reversed)
  condition: evt.type=connect and proc.name=net-client and fd.sip.name=localhost
  output: "%fd.sip.name"
  priority: NOTICE
`;

describe.skipIf(!isRoot)("socket tuples from the kernel (root)", () => {
  let detector: SyscallDetector;
  const alerts: DetectorAlert[] = [];
  let dir: string;

  beforeAll(async () => {
    buildSensor();
    dir = mkdtempSync(join(tmpdir(), "pg-net-"));
    const rules = join(dir, "net_rules.yaml");
    writeFileSync(rules, RULES);
    detector = await startSyscallDetector({ rulesFiles: [rules], ruleMatching: "all", logger: pino({ level: "warn" }), onAlert: (a) => alerts.push(a) });
    await detector.ready;
  });

  afterAll(async () => {
    await detector?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("IPv4, IPv4-mapped IPv6 and unconnected UDP: names, ends and protocol as in Falco", async () => {
    const out = execFileSync(join(TESTPROGS, "net-client"), { encoding: "utf8" });
    const [, tcp, udp] = /^tcp (\d+) udp (\d+)$/m.exec(out) ?? [];
    expect(tcp, out).toBeDefined();
    const lines = () => alerts.filter((a) => a.rule === "pg test sockets").map((a) => a.output.replace(/^\S+: \S+ /, ""));
    const until = Date.now() + 30_000;
    while (lines().length < 6 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const got = lines();
    expect(got, got.join("\n")).toHaveLength(6);

    // client ports are ephemeral: read them from the connects, then check every field
    const port = (i: number) => /^connect 127\.0\.0\.1:(\d+)->/.exec(got[i]!)?.[1];
    const [p4, p6] = [port(0), port(2)];
    const uport = /^sendto 0\.0\.0\.0:(\d+)->/.exec(got[4]!)?.[1];
    expect([p4, p6, uport], got.join("\n")).not.toContain(undefined);
    expect(got).toEqual([
      `connect 127.0.0.1:${p4}->127.0.0.1:${tcp} type=4 proto=tcp sip=127.0.0.1 sport=${tcp} cip=127.0.0.1 changed=true`,
      `accept 127.0.0.1:${p4}->127.0.0.1:${tcp} type=4 proto=tcp sip=127.0.0.1 sport=${tcp} cip=127.0.0.1 changed=true`,
      `connect 127.0.0.1:${p6}->127.0.0.1:${tcp} type=4 proto=tcp sip=127.0.0.1 sport=${tcp} cip=127.0.0.1 changed=true`,
      `accept 127.0.0.1:${p6}->127.0.0.1:${tcp} type=4 proto=tcp sip=127.0.0.1 sport=${tcp} cip=127.0.0.1 changed=true`,
      // the sender is not bound to an address: its end is 0.0.0.0, in Falco too
      `sendto 0.0.0.0:${uport}->127.0.0.1:${udp} type=4 proto=udp sip=127.0.0.1 sport=${udp} cip=0.0.0.0 changed=true`,
      `sendto 0.0.0.0:${uport}->127.0.0.1:${udp} type=4 proto=udp sip=127.0.0.1 sport=${udp} cip=0.0.0.0 changed=false`,
    ]);
    // both connects went to an address localhost resolves to
    expect(alerts.filter((a) => a.rule === "pg test server names").map((a) => a.output.replace(/^\S+: \S+ /, ""))).toEqual(["localhost", "localhost"]);
  });
});

describe.skipIf(!isRoot)("a socket from before the detector started (root)", () => {
  it("is an IPv4 socket with its tuple when dup'd later, read from the namespace's /proc tables", async () => {
    buildSensor();
    const dir = mkdtempSync(join(tmpdir(), "pg-net-"));
    const server = createServer((c) => c.on("error", () => {}));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const port = (server.address() as AddressInfo).port;
    const holder = spawn(join(TESTPROGS, "hold-socket"), [String(port)], { stdio: ["ignore", "pipe", "inherit"] });
    let detector: SyscallDetector | undefined;
    try {
      await once(holder.stdout!, "data"); // "ready": connected
      const rules = join(dir, "dup_rules.yaml");
      writeFileSync(
        rules,
        `- rule: pg test dup of an old socket
  desc: the dup2 of the test program
  condition: evt.type=dup2 and proc.name=hold-socket
  output: "%fd.name type=%fd.type proto=%fd.l4proto sport=%fd.sport"
  priority: NOTICE
`,
      );
      const alerts: DetectorAlert[] = [];
      detector = await startSyscallDetector({ rulesFiles: [rules], logger: pino({ level: "warn" }), onAlert: (a) => alerts.push(a) });
      await detector.ready;
      holder.kill("SIGUSR1");
      await once(holder, "exit");
      const until = Date.now() + 30_000;
      while (alerts.length === 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      expect(alerts.map((a) => a.output.replace(/^\S+: \S+ /, ""))).toEqual([
        expect.stringMatching(new RegExp(`^127\\.0\\.0\\.1:\\d+->127\\.0\\.0\\.1:${port} type=ipv4 proto=tcp sport=${port}$`)),
      ]);
    } finally {
      holder.kill();
      await detector?.stop();
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
