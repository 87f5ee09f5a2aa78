/**
 * Userspace ceiling of the syscall detector: how many sensor events per second one Node
 * process turns into rule verdicts. A real capture (the sensor recording a storm of
 * openat/close plus whatever else the host does) is replayed from memory through
 *   decode -> decode + process/fd tables -> decode + tables + Falco's stable rules,
 * several rounds each, reporting the best and median rounds. Must run as root (to capture).
 *
 *   npx tsx bench/sensor/pipeline.ts [--iterations N] [--rounds R]
 */
import { execFileSync, spawn } from "node:child_process";
import { readFileSync, writeFileSync, openSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { EventSource } from "../../src/detector/event.js";
import { defaultSources, loadRules } from "../../src/detector/load.js";
import { interestSet } from "../../src/detector/sources/syscall/detector.js";
import { procfsReader, scanProcs } from "../../src/detector/sources/syscall/procfs.js";
import { createSyscallSource } from "../../src/detector/sources/syscall/source.js";
import { ProcessTable } from "../../src/detector/sources/syscall/state.js";
import { SyscallTracker, type SyscallEvent } from "../../src/detector/sources/syscall/tracker.js";
import { systemUserDb } from "../../src/detector/sources/syscall/users.js";
import { FrameDecoder, type Frame } from "../../src/detector/sources/syscall/wire.js";
import { flag, here, root, RULES } from "./common.js";

const ITERATIONS = flag("iterations", 200_000);
const ROUNDS = flag("rounds", 5);

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("capturing needs the eBPF sensor: run as root");
  execFileSync(process.execPath, [join(root, "scripts", "build-sensor.mjs")], { stdio: "inherit" });
  const storm = join(tmpdir(), "peregrine-storm");
  execFileSync("cc", ["-O2", "-o", storm, join(here, "storm.c")]);
  const file = join(tmpdir(), "peregrine-storm-file");
  writeFileSync(file, "x");

  // the rules decide the interest set, exactly as the detector does
  const table = new ProcessTable(procfsReader);
  for (const p of scanProcs()) table.add(p);
  const tracker = new SyscallTracker(table);
  const source = createSyscallSource({ table, users: systemUserDb(), bootOffsetNs: () => tracker.bootOffsetNs });
  const { ruleset } = loadRules({ files: [RULES], sources: [source as unknown as EventSource<never>, ...defaultSources().filter((s) => s.name !== "syscall")] });
  const interest = ruleset.eventTypes("syscall");
  const syscalls = interestSet(interest.types, interest.all);

  const capture = join(tmpdir(), "peregrine-capture.bin");
  const out = openSync(capture, "w");
  const sensor = spawn(join(root, "sensor", "build", "peregrine-sensor"), ["--syscalls", syscalls.join(","), "--ignore-pid", String(process.pid)], {
    stdio: ["ignore", out, "inherit"],
  });
  await new Promise((r) => setTimeout(r, 1500));
  execFileSync(storm, [file, String(ITERATIONS)], { stdio: "ignore" });
  sensor.kill("SIGTERM");
  await new Promise((r) => sensor.once("close", r));
  closeSync(out);
  const bytes = readFileSync(capture);

  let n = 0;
  let alerts = 0;
  const count = () => void n++;
  const evalVisit = (e: SyscallEvent) => {
    n++;
    alerts += ruleset.evaluate(source, e).length;
  };
  const stages: [string, (f: Frame) => void][] = [
    ["decode", count],
    ["decode + process/fd tables", (f) => tracker.process(f, count)],
    ["decode + tables + stable rules", (f) => tracker.process(f, evalVisit)],
  ];
  const rows = ["| stage | events/s (best) | events/s (median) | µs/event (median) |", "|---|---|---|---|"];
  for (const [name, onFrame] of stages) {
    const rates: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      n = 0;
      const t0 = process.hrtime.bigint();
      new FrameDecoder(onFrame, { reuse: true }).push(bytes);
      const ns = Number(process.hrtime.bigint() - t0);
      rates.push(n / (ns / 1e9));
    }
    rates.sort((a, b) => a - b);
    const med = rates[Math.floor(rates.length / 2)]!;
    rows.push(`| ${name} | ${Math.round(rates[rates.length - 1]!).toLocaleString("en")} | ${Math.round(med).toLocaleString("en")} | ${(1e6 / med).toFixed(2)} |`);
  }
  console.log(`capture: ${bytes.length.toLocaleString("en")} bytes, ${n.toLocaleString("en")} events, syscalls: ${syscalls.join(",")}`);
  console.log(rows.join("\n"));
  console.log(`alerts raised during replay: ${alerts}`);
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
