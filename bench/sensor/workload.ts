/**
 * Sensor cost on ordinary work, beside the storm's worst case: the same commands run with
 * nothing attached, with the sensor attached but not capturing them, and under the detector
 * (sensor + Falco's stable rules) with its kernel-side open filter on (the default) and off,
 * interleaved in one run so ratios compare like with like.
 *
 *   npx tsx bench/sensor/workload.ts [--rounds R]
 *
 * Workloads (each a shell command, timed with its children's CPU from getrusage):
 *   untar    extract a 4,000-file archive and delete the tree (open/openat/close/unlink heavy)
 *   compile  compile a small C file 20 times (exec, mmap and header opens: a build)
 *   git      git status and git log --stat over this repository (mostly stat and read, which
 *            the stable rules never ask for: the sensor's cost when it is only attached)
 * Must run as root.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { startSyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { flag, here, root, RULES } from "./common.js";

const ROUNDS = flag("rounds", 3);

interface Timed {
  wall: number;
  cpu: number;
}

/** Runs a shell command; wall time and the CPU of the whole process tree (RUSAGE_CHILDREN). */
function timed(command: string): Timed {
  const py =
    "import json,resource,subprocess,sys,time\n" +
    "t=time.perf_counter(); subprocess.run(['sh','-c',sys.argv[1]],check=True); w=time.perf_counter()-t\n" +
    "r=resource.getrusage(resource.RUSAGE_CHILDREN); print(json.dumps({'wall':w,'cpu':r.ru_utime+r.ru_stime}))";
  return JSON.parse(execFileSync("python3", ["-c", py, command]).toString()) as Timed;
}

function prepare(): Record<string, string> {
  const work = mkdtempSync(join(tmpdir(), "pg-workload-"));
  const src = join(work, "src");
  for (let d = 0; d < 40; d++) {
    mkdirSync(join(src, `d${d}`), { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(join(src, `d${d}`, `f${f}.txt`), "x".repeat(2048));
  }
  execFileSync("tar", ["cf", join(work, "files.tar"), "-C", src, "."]);
  rmSync(src, { recursive: true });
  const out = join(work, "out");
  return {
    untar: `mkdir -p ${out} && tar xf ${work}/files.tar -C ${out} && rm -rf ${out}`,
    compile: `for i in $(seq 20); do cc -O0 -c ${join(here, "storm.c")} -o ${work}/storm.o; done`,
    git: `git -C ${root} status --porcelain > /dev/null && git -C ${root} log --stat -n 300 > /dev/null`,
    cleanup: work,
  };
}

interface Row {
  round: number;
  mode: string;
  workload: string;
  t: Timed;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the workload benchmark loads the eBPF sensor: run it as root");
  execFileSync(process.execPath, [join(root, "scripts", "build-sensor.mjs")], { stdio: "inherit" });
  const { cleanup, ...workloads } = prepare();
  const sensorBin = join(root, "sensor", "build", "peregrine-sensor");
  const rows: Row[] = [];
  const events: Record<string, number[]> = {};
  const drops: Record<string, number[]> = {};
  const filtered: Record<string, number[]> = {};
  const runAll = async (round: number, mode: string, counters?: () => { events: number; drops: number; filtered: number }): Promise<void> => {
    for (const [name, command] of Object.entries(workloads)) {
      timed(command); // warm the page cache and the detector's tables for this command
      const settle = () => new Promise((r) => setTimeout(r, 1100)); // the sensor reports its counters each second
      if (counters) await settle();
      const before = counters?.();
      rows.push({ round, mode, workload: name, t: timed(command) });
      if (counters && before) {
        await settle();
        const after = counters();
        (events[`${mode}/${name}`] ??= []).push(after.events - before.events);
        (drops[`${mode}/${name}`] ??= []).push(after.drops - before.drops);
        (filtered[`${mode}/${name}`] ??= []).push(after.filtered - before.filtered);
      }
    }
  };

  for (let round = 1; round <= ROUNDS; round++) {
    await runAll(round, "baseline");

    const idle = spawn(sensorBin, ["--syscalls", "execve"], { stdio: ["ignore", "ignore", "inherit"] });
    await new Promise((r) => setTimeout(r, 1500));
    await runAll(round, "sensor attached");
    idle.kill("SIGTERM");
    await new Promise((r) => idle.once("close", r));

    for (const kernelFilter of [true, false]) {
      const d = await startSyscallDetector({ rulesFiles: [RULES], logger: pino({ level: "warn" }), onAlert: () => {}, kernelFilter });
      await d.ready;
      await runAll(round, kernelFilter ? "detector" : "detector, filter off", () => {
        const st = d.stats();
        return { events: sum(Object.values(st.sensorEvents)), drops: sum(Object.values(st.sensorDrops)), filtered: sum(Object.values(st.sensorFiltered)) };
      });
      await d.stop();
    }
  }
  rmSync(cleanup, { recursive: true, force: true });

  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
  const out: string[] = [];
  out.push(
    "| workload | baseline CPU s | sensor attached (CPU, wall) | detector (CPU, wall) | events sent / filtered per run | detector, filter off (CPU, wall) | events sent per run | kernel drops |",
  );
  out.push("|---|---|---|---|---|---|---|---|");
  for (const name of Object.keys(workloads)) {
    const ratio = (mode: string, k: keyof Timed) =>
      median(
        rows
          .filter((r) => r.workload === name && r.mode === mode)
          .map((r) => r.t[k] / rows.find((b) => b.workload === name && b.mode === "baseline" && b.round === r.round)!.t[k]),
      );
    const baseCpu = median(rows.filter((r) => r.workload === name && r.mode === "baseline").map((r) => r.t.cpu));
    const both = (mode: string) => `${ratio(mode, "cpu").toFixed(3)}×, ${ratio(mode, "wall").toFixed(3)}×`;
    const med = (m: Record<string, number[]>, mode: string) => median(m[`${mode}/${name}`] ?? [0]).toLocaleString("en");
    out.push(
      `| ${name} | ${baseCpu.toFixed(3)} | ${both("sensor attached")} | ${both("detector")} | ${med(events, "detector")} / ${med(filtered, "detector")} | ` +
        `${both("detector, filter off")} | ${med(events, "detector, filter off")} | ${sum([...(drops[`detector/${name}`] ?? []), ...(drops[`detector, filter off/${name}`] ?? [])])} |`,
    );
  }
  console.log(`medians of ${ROUNDS} rounds; ratios are against the baseline of the same round`);
  console.log(out.join("\n"));
  console.log(JSON.stringify({ rounds: ROUNDS, rows, events, drops, filtered }));
}

function sum(a: number[]): number {
  return a.reduce((x, y) => x + y, 0);
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
