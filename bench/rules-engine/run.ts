/**
 * Rule engine throughput: events/s on one thread, evaluating Falco's stable ruleset over a
 * synthetic syscall mix (about 60 % open*, 20 % execve, 10 % connect, 10 % other syscalls).
 *
 * Side by side in one run:
 *   events_per_cpu_s  — Ruleset.evaluate, alerts built (the number that matters)
 *   match only, indexed vs unindexed — the same compiled rules reached through the event-type
 *                       index, or every enabled rule tried on every event; no alerts built
 *   match only, closures — the same rules compiled by the closure-only backend (no generated
 *                       code), through the index: what generating one function per rule buys
 *
 * Usage: node --import tsx bench/rules-engine/run.ts [--seconds N] [--json FILE]
 *        (pin to one core with: taskset -c 0 node --import tsx bench/rules-engine/run.ts)
 * The rules corpus is read in place from ../shared/corpus/falco-rules/ next to the repository.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { EventSource } from "../../src/detector/event.js";
import { compileConditionClosures } from "../../src/detector/compiler/compile.js";
import { loadRules } from "../../src/detector/load.js";
import { normalizeReplayEvent, replaySource, type ReplayEvent } from "../../src/detector/sources/replay.js";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const rulesFile = resolve(repo, "../shared/corpus/falco-rules/falco_rules.yaml");

const args = process.argv.slice(2);
const seconds = Number(args[args.indexOf("--seconds") + 1] ?? 3) || 3;
const jsonOut = args.includes("--json") ? args[args.indexOf("--json") + 1] : undefined;

// deterministic PRNG so every run sees the same mix
let seed = 0x2545f491;
function rand(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 4294967296;
}
function pick<T>(xs: readonly T[]): T {
  return xs[Math.floor(rand() * xs.length)]!;
}

const PROCS = ["nginx", "java", "python3", "node", "postgres", "bash", "cat", "ls", "sshd", "systemd", "containerd", "kubelet"];
const PARENTS = [["systemd"], ["bash", "sshd", "systemd"], ["containerd-shim", "systemd"], ["runc", "containerd-shim", "systemd"]];
const PATHS = [
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/etc/ld.so.cache",
  "/proc/self/status",
  "/var/lib/postgresql/data/base/1/1259",
  "/etc/nginx/nginx.conf",
  "/tmp/upload-1234",
  "/var/log/nginx/access.log",
  "/home/alice/.bashrc",
  "/etc/hosts",
];
const OTHER = ["read", "write", "close", "mmap", "futex", "epoll_wait", "recvfrom", "fstat", "ptrace", "dup2"];

function container(): Record<string, unknown> {
  return rand() < 0.5 ? { "container.id": "host" } : { "container.id": "3ad7b26ded6d", "container.image.repository": "docker.io/library/nginx" };
}

function makeEvent(i: number): ReplayEvent {
  const r = rand();
  const proc = pick(PROCS);
  const common = { "proc.name": proc, "proc.aname": pick(PARENTS), "user.name": rand() < 0.999 ? "root" : "www-data", "user.uid": 0, "evt.num": i, ...container() };
  let fields: Record<string, unknown>;
  if (r < 0.6) {
    // about one open in a thousand reads a sensitive file, so some events alert
    const path = rand() < 0.001 ? "/etc/shadow" : pick(PATHS);
    const write = rand() < 0.2;
    fields = {
      ...common,
      "evt.type": pick(["openat", "openat", "openat", "open", "openat2"]),
      "evt.is_open_read": !write,
      "evt.is_open_write": write,
      "evt.arg.flags": write ? "O_WRONLY|O_CREAT" : "O_RDONLY|O_CLOEXEC",
      "fd.typechar": "f",
      "fd.num": 3 + (i % 50),
      "fd.name": path,
      "fd.nameraw": path,
      "fd.directory": path.slice(0, path.lastIndexOf("/")),
      "fd.filename": path.slice(path.lastIndexOf("/") + 1),
      "proc.duration": 60_000_000_000,
    };
  } else if (r < 0.8) {
    const name = pick(["bash", "ls", "cat", "grep", "python3", "curl", "sh", "find"]);
    fields = {
      ...common,
      "evt.type": "execve",
      "proc.name": name,
      "proc.exe": `/usr/bin/${name}`,
      "proc.exepath": `/usr/bin/${name}`,
      "proc.cmdline": `${name} -la /srv/app`,
      "proc.args": "-la /srv/app",
      "proc.cwd": "/srv/app/",
      "proc.tty": 0,
      "proc.is_exe_upper_layer": false,
      "proc.is_exe_from_memfd": false,
    };
  } else if (r < 0.9) {
    const ip = `10.0.${i % 256}.${(i >> 8) % 256}`;
    fields = {
      ...common,
      "evt.type": "connect",
      "evt.rawres": 0,
      "evt.res": "SUCCESS",
      "fd.typechar": "4",
      "fd.l4proto": "tcp",
      "fd.ip": ip,
      "fd.net": ip,
      "fd.snet": ip,
      "fd.sip": ip,
      "fd.sport": pick([80, 443, 5432, 6379]),
      "fd.sip.name": "db.internal",
      "proc.exe": "/usr/bin/curl",
    };
  } else {
    fields = { ...common, "evt.type": pick(OTHER), "evt.rawres": 0, "fd.type": "file", "evt.arg.request": "PTRACE_PEEKDATA" };
  }
  return normalizeReplayEvent({ time: "2026-01-01T00:00:00Z", fields }, i + 1);
}

const source = replaySource();
const { ruleset, results } = loadRules({ files: [rulesFile], sources: [source as unknown as EventSource<never>], hostname: "bench" });
if (!results.ok) throw new Error(`rules failed to load: ${results.errors.map((e) => e.message).join("; ")}`);

const N = Number(process.env.BENCH_EVENTS ?? 16384);
const events = Array.from({ length: N }, (_, i) => makeEvent(i));

/**
 * Runs `step` over the events for about `ms` of CPU time. Rates use this process's CPU time
 * (user + system), not wall time: the machine is shared, and CPU time is what "events/s on
 * one core" means when other work competes for the cores.
 */
function runFor(ms: number, step: (e: ReplayEvent) => number): { events: number; alerts: number; seconds: number; wallSeconds: number } {
  let count = 0;
  let alerts = 0;
  const cpu0 = process.cpuUsage();
  const wall0 = process.hrtime.bigint();
  let cpuMs = 0;
  while (cpuMs < ms) {
    for (let i = 0; i < N; i++) alerts += step(events[i]!);
    count += N;
    const d = process.cpuUsage(cpu0);
    cpuMs = (d.user + d.system) / 1000;
  }
  return { events: count, alerts, seconds: cpuMs / 1000, wallSeconds: Number(process.hrtime.bigint() - wall0) / 1e9 };
}

const indexed = (e: ReplayEvent): number => ruleset.evaluate(source, e).length;
type Matcher = { match: (e: ReplayEvent) => boolean };
const active = ruleset.rules.filter((r) => r.enabled && r.source === "syscall") as unknown as Matcher[];
const matchIndexed = (e: ReplayEvent): number => {
  const rules = ruleset.rulesFor("syscall", source.eventType(e)) as unknown as Matcher[];
  for (let i = 0; i < rules.length; i++) if (rules[i]!.match(e)) return 1;
  return 0;
};
const matchUnindexed = (e: ReplayEvent): number => {
  for (let i = 0; i < active.length; i++) if (active[i]!.match(e)) return 1;
  return 0;
};
// the same rules through the closure-only backend (no generated code), behind the same kind
// of per-type index (one Map lookup per event, as Ruleset.evaluate does)
const closureOf = new Map(ruleset.rules.map((r) => [r, compileConditionClosures(r.ast, source)] as const));
const closureIndex = new Map<string | undefined, ((e: ReplayEvent) => boolean)[]>();
for (const e of events) {
  const t = source.eventType(e);
  if (!closureIndex.has(t)) closureIndex.set(t, ruleset.rulesFor("syscall", t).map((r) => closureOf.get(r)!));
}
const matchClosures = (e: ReplayEvent): number => {
  const preds = closureIndex.get(source.eventType(e))!;
  for (let i = 0; i < preds.length; i++) if (preds[i]!(e)) return 1;
  return 0;
};

// warm up every path (JIT), then measure each
for (const f of [indexed, matchIndexed, matchUnindexed, matchClosures]) runFor(500, f);
const full = runFor(seconds * 1000, indexed);
const mi = runFor(seconds * 1000, matchIndexed);
const mu = runFor(seconds * 1000, matchUnindexed);
const mc = runFor(seconds * 1000, matchClosures);
const rate = (x: { events: number; seconds: number }) => Math.round(x.events / x.seconds);

const byRule = new Map<string, number>();
for (const e of events) for (const a of ruleset.evaluate(source, e)) byRule.set(a.rule, (byRule.get(a.rule) ?? 0) + 1);

const report = {
  node: process.version,
  rules: active.length,
  distinct_events: N,
  mix: "60% open*, 20% execve, 10% connect, 10% other",
  events_per_cpu_s: rate(full),
  wall_events_per_s: Math.round(full.events / full.wallSeconds),
  match_only_indexed_events_per_cpu_s: rate(mi),
  match_only_unindexed_events_per_cpu_s: rate(mu),
  index_speedup: Number((rate(mi) / rate(mu)).toFixed(2)),
  match_only_closures_indexed_events_per_cpu_s: rate(mc),
  generated_code_speedup: Number((rate(mi) / rate(mc)).toFixed(2)),
  alerts_per_1000_events: Number(((full.alerts / full.events) * 1000).toFixed(2)),
  alerts_by_rule: Object.fromEntries(byRule),
  goal_events_per_s: 1_000_000,
};
console.log(JSON.stringify(report, null, 2));
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(report, null, 2) + "\n");
