/**
 * The hook's floor: what the storm pays for a `sys_exit` program being attached at all.
 * Each round runs the same storm three ways, one after the other: nothing attached, a
 * `sys_exit` program that does nothing (`floor.bpf.c`), and the sensor with an interest
 * set that excludes the storm's syscalls (its dispatcher returns at once for them). Each
 * is compared with the baseline of its own round; many short rounds give a tight median
 * on a noisy machine.
 *
 *   npx tsx bench/sensor/floor.ts [--iterations N] [--rounds R]
 *
 * Must run as root.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildStorm, flag, here, root, runStorm, type StormResult } from "./common.js";

const ITERATIONS = flag("iterations", 300_000);
const ROUNDS = flag("rounds", 20);

const MODES = ["baseline", "empty sys_exit program", "sensor attached (storm not in interest set)"] as const;
type Mode = (typeof MODES)[number];

function cpuPerSyscall(s: StormResult): number {
  return s.cpu / s.syscalls;
}

/**
 * Starts `cmd`; resolves once it printed `ready` (the floor loader), or after `settleMs` for
 * the sensor, whose stdout is its binary event stream and is discarded here.
 */
function attach(cmd: string, args: string[], ready: "prints ready" | { settleMs: number }): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", ready === "prints ready" ? "pipe" : "ignore", "inherit"] });
    const timer = ready === "prints ready" ? undefined : setTimeout(() => resolve(child), ready.settleMs);
    child.stdout?.on("data", (d: Buffer) => {
      if (d.toString().includes("ready")) resolve(child);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${cmd} exited ${code} before the storm`));
    });
  });
}

async function detach(child: ChildProcess): Promise<void> {
  const closed = new Promise((r) => child.once("close", r));
  child.kill("SIGTERM");
  await closed;
}

function quartiles(xs: number[]): { min: number; q1: number; median: number; q3: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => {
    const pos = (s.length - 1) * q;
    const lo = Math.floor(pos);
    const hi = Math.ceil(pos);
    return s[lo]! + (s[hi]! - s[lo]!) * (pos - lo);
  };
  return { min: s[0]!, q1: at(0.25), median: at(0.5), q3: at(0.75), max: s[s.length - 1]! };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the floor benchmark loads BPF programs: run it as root");
  if (ROUNDS < 1) throw new Error("--rounds must be at least 1");
  execFileSync(process.execPath, [join(root, "scripts", "build-sensor.mjs")], { stdio: "inherit" });
  const { bin, file } = buildStorm();
  const sensorDir = join(root, "sensor");
  const arch = process.arch === "arm64" ? "arm64" : "x86";
  const floorObj = join(tmpdir(), "peregrine-floor.bpf.o");
  execFileSync("clang", ["-O2", "-g", "-target", "bpf", `-D__TARGET_ARCH_${arch}`, `-I${sensorDir}`, "-c", join(here, "floor.bpf.c"), "-o", floorObj]);
  const loader = join(tmpdir(), "peregrine-floor-load");
  execFileSync("cc", ["-O2", "-Wall", "-o", loader, join(here, "floor-load.c"), "-lbpf"]);
  const sensorBin = join(sensorDir, "build", "peregrine-sensor");

  const ratios = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
  const baselines: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const base = cpuPerSyscall(await runStorm(bin, file, ITERATIONS, 0));
    baselines.push(base);
    ratios.get("baseline")!.push(1);

    const empty = await attach(loader, [floorObj], "prints ready");
    ratios.get("empty sys_exit program")!.push(cpuPerSyscall(await runStorm(bin, file, ITERATIONS, 0)) / base);
    await detach(empty);

    const sensor = await attach(sensorBin, ["--syscalls", "execve"], { settleMs: 1500 });
    ratios.get("sensor attached (storm not in interest set)")!.push(cpuPerSyscall(await runStorm(bin, file, ITERATIONS, 0)) / base);
    await detach(sensor);
    process.stderr.write(`\rround ${round + 1}/${ROUNDS}`);
  }
  process.stderr.write("\n");

  const b = quartiles(baselines);
  console.log(`baseline: ${(b.median * 1e9).toFixed(0)} ns of CPU per syscall (median of ${ROUNDS} rounds, ${ITERATIONS.toLocaleString("en")} open+close pairs each)`);
  console.log("| mode | slowdown (CPU), median | quartiles | min–max |");
  console.log("|---|---|---|---|");
  for (const m of MODES.slice(1)) {
    const q = quartiles(ratios.get(m)!);
    console.log(`| ${m} | ${q.median.toFixed(3)} | ${q.q1.toFixed(3)}–${q.q3.toFixed(3)} | ${q.min.toFixed(3)}–${q.max.toFixed(3)} |`);
  }
  console.log(JSON.stringify({ iterations: ITERATIONS, rounds: ROUNDS, baselineSecondsPerSyscall: baselines, ratios: Object.fromEntries(ratios) }));
}

main().catch((err: unknown) => {
  console.error((err as Error).message);
  process.exit(1);
});
