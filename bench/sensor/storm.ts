/**
 * Sensor storm benchmark: a C program opens and closes a file in a loop (two syscalls per
 * iteration) with and without the detector (sensor + rule engine with Falco's stable rules),
 * interleaved in one run so the ratios compare like with like on a shared machine. The
 * detector runs twice: with the kernel-side open filter (the default; no stable rule can
 * match the storm's file, so its opens and closes stay in the kernel) and without it (every
 * event crosses into userspace and is evaluated).
 *
 *   npx tsx bench/sensor/storm.ts [--iterations N] [--rate EVENTS_PER_S] [--rounds R] [--ring-bytes N]
 *
 * Reported per mode: the storm's wall and CPU time per syscall, the slowdown ratio against
 * the baseline of the same round, events the detector processed per second, kernel drops,
 * and the CPU used by the sensor process and by the detector (Node) process. Must run as root.
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pino from "pino";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector, type SyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { buildStorm, flag, root, RULES, runStorm, type StormResult } from "./common.js";

const ITERATIONS = flag("iterations", 500_000);
const RATE = flag("rate", 200_000);
const ROUNDS = flag("rounds", 2);
const RING_BYTES = flag("ring-bytes", 8 * 1024 * 1024);

function procCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

function sum(o: Record<string, number>): number {
  return Object.values(o).reduce((a, b) => a + b, 0);
}

interface Measured {
  mode: string;
  storm: StormResult;
  eventsProcessed?: number;
  processSeconds?: number;
  kernelEvents?: number;
  kernelDrops?: number;
  kernelFiltered?: number;
  sensorCpu?: number;
  detectorCpu?: number;
}

let markers = 0;
const markerWaiters = new Map<string, () => void>();

function onAlert(a: DetectorAlert): void {
  const cmd = String(a.output_fields["proc.cmdline"] ?? "");
  for (const [m, done] of markerWaiters) if (cmd.includes(m)) done();
}

/**
 * Events come out of the sensor in time order, so once an alert raised by a command run
 * after the storm arrives, every storm event before it has been evaluated.
 */
async function drained(d: SyscallDetector): Promise<number> {
  const m = `storm-marker-${process.pid}-${++markers}`;
  const seen = new Promise<void>((resolve) => markerWaiters.set(m, resolve));
  // the marker's own events can be among those a full ring drops: repeat it until seen
  for (let attempt = 0; ; attempt++) {
    execFileSync("sh", ["-c", `cat /etc/shadow /nonexistent-${m} > /dev/null 2>&1; true`]);
    const ok = await Promise.race([seen.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
    if (ok) break;
    if (attempt === 5) throw new Error(`marker ${m} never raised its alert; detector stats: ${JSON.stringify(d.stats())}`);
  }
  markerWaiters.delete(m);
  return Date.now();
}

async function withDetector(d: SyscallDetector, mode: string, run: () => Promise<StormResult>): Promise<Measured> {
  await drained(d);
  await new Promise((r) => setTimeout(r, 1100)); // a fresh sensor stats frame
  const before = d.stats();
  const sensorCpu0 = procCpuSeconds(d.sensorPid());
  const nodeCpu0 = process.cpuUsage();
  const t0 = Date.now();
  const storm = await run();
  const done = await drained(d);
  const nodeCpu = process.cpuUsage(nodeCpu0);
  const sensorCpu = procCpuSeconds(d.sensorPid()) - sensorCpu0;
  await new Promise((r) => setTimeout(r, 1100)); // the sensor's counters after the storm
  const after = d.stats();
  const processSeconds = (done - t0) / 1000;
  return {
    mode,
    storm,
    eventsProcessed: after.eventsEvaluated - before.eventsEvaluated,
    processSeconds,
    kernelEvents: sum(after.sensorEvents) - sum(before.sensorEvents),
    kernelDrops: sum(after.sensorDrops) - sum(before.sensorDrops),
    kernelFiltered: sum(after.sensorFiltered) - sum(before.sensorFiltered),
    sensorCpu,
    detectorCpu: (nodeCpu.user + nodeCpu.system) / 1e6,
  };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the storm benchmark loads the eBPF sensor: run it as root");
  execFileSync(process.execPath, [join(root, "scripts", "build-sensor.mjs")], { stdio: "inherit" });
  const { bin, file } = buildStorm();
  const sensorBin = join(root, "sensor", "build", "peregrine-sensor");

  const results: Measured[] = [];
  const logger = pino({ level: "warn" });
  for (let round = 0; round < ROUNDS; round++) {
    for (const rate of [0, RATE]) {
      const label = rate === 0 ? "unpaced" : `paced ${RATE / 1000}k/s`;
      results.push({ mode: `baseline, ${label}`, storm: await runStorm(bin, file, ITERATIONS, rate) });

      // the sensor attached with an interest set that excludes the storm's syscalls
      const idle = spawn(sensorBin, ["--syscalls", "execve"], { stdio: ["ignore", "ignore", "inherit"] });
      await new Promise((r) => setTimeout(r, 1500));
      const idleCpu0 = procCpuSeconds(idle.pid);
      const attached = await runStorm(bin, file, ITERATIONS, rate);
      results.push({ mode: `sensor attached (storm not in interest set), ${label}`, storm: attached, sensorCpu: procCpuSeconds(idle.pid) - idleCpu0 });
      idle.kill("SIGTERM");
      await new Promise((r) => idle.once("close", r));

      for (const kernelFilter of [true, false]) {
        const d = await startSyscallDetector({ rulesFiles: [RULES], logger, onAlert, ringBufferBytes: RING_BYTES, kernelFilter });
        await d.ready;
        const mode = `detector (sensor + stable rules), kernel filter ${kernelFilter ? "on" : "off"}, ${label}`;
        results.push(await withDetector(d, mode, () => runStorm(bin, file, ITERATIONS, rate)));
        await d.stop();
      }
    }
  }

  const rows: string[] = [];
  rows.push(
    "| mode | syscalls/s (storm) | storm CPU µs/syscall | slowdown (CPU) | slowdown (wall) | events processed/s | kernel drops | filtered in kernel | sensor CPU | detector CPU |",
  );
  rows.push("|---|---|---|---|---|---|---|---|---|---|");
  let base: StormResult | undefined;
  for (const r of results) {
    if (r.mode.startsWith("baseline")) base = r.storm;
    const s = r.storm;
    const cpuPer = (s.cpu / s.syscalls) * 1e6;
    const slowCpu = base ? (s.cpu / s.syscalls) / (base.cpu / base.syscalls) : 1;
    const slowWall = base ? s.wall / base.wall : 1;
    const evps = r.eventsProcessed !== undefined && r.processSeconds ? Math.round(r.eventsProcessed / r.processSeconds) : undefined;
    const drops = r.kernelEvents !== undefined ? `${r.kernelDrops} (${((100 * (r.kernelDrops ?? 0)) / Math.max(1, (r.kernelEvents ?? 0) + (r.kernelDrops ?? 0))).toFixed(2)} %)` : "—";
    const pct = (cpu: number | undefined) => (cpu === undefined ? "—" : `${cpu.toFixed(2)} s (${((100 * cpu) / s.wall).toFixed(0)} % of a core)`);
    rows.push(
      `| ${r.mode} | ${Math.round(s.syscalls / s.wall).toLocaleString("en")} | ${cpuPer.toFixed(2)} | ${slowCpu.toFixed(3)} | ${slowWall.toFixed(3)} | ${evps?.toLocaleString("en") ?? "—"} | ${drops} | ${r.kernelFiltered?.toLocaleString("en") ?? "—"} | ${pct(r.sensorCpu)} | ${pct(r.detectorCpu)} |`,
    );
  }
  console.log(rows.join("\n"));
  console.log(JSON.stringify({ iterations: ITERATIONS, rate: RATE, rounds: ROUNDS, results }));
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
