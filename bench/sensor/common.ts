/** What the sensor benchmarks share: where things are, and their numeric flags. */
import { execFileSync, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, "..", "..");
/** Falco's stable rules, read in place from the shared corpus beside the repository. */
export const RULES = join(root, "..", "shared", "corpus", "falco-rules", "falco_rules.yaml");

/** `--name N` from the command line, or `def`; anything but a non-negative number ends the run naming the flag. */
export function flag(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const text = process.argv[i + 1];
  const n = Number(text);
  if (text === undefined || text.trim() === "" || !Number.isFinite(n) || n < 0) {
    console.error(`error: --${name} expects a non-negative number, got ${text === undefined ? "nothing" : `"${text}"`}`);
    process.exit(2);
  }
  return n;
}

/** What `storm.c` prints: its iterations, syscalls, and wall and CPU seconds. */
export interface StormResult {
  iterations: number;
  syscalls: number;
  wall: number;
  cpu: number;
}

/** Compiles `storm.c` and writes the file it opens; returns both paths. */
export function buildStorm(): { bin: string; file: string } {
  const bin = join(tmpdir(), "peregrine-storm");
  execFileSync("cc", ["-O2", "-o", bin, join(here, "storm.c")]);
  const file = join(tmpdir(), "peregrine-storm-file");
  writeFileSync(file, "x");
  return { bin, file };
}

/** One storm of `iterations` open+close pairs, unpaced (rate 0) or paced to `rate` syscalls/s. */
export function runStorm(bin: string, file: string, iterations: number, rate: number): Promise<StormResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, [file, String(iterations), String(rate)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out) as StormResult) : reject(new Error(`storm exited ${code}`))));
  });
}

