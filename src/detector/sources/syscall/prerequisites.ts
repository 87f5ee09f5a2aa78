/**
 * Can this host run the sensor? One line naming the fix when it cannot. The sensor binary's
 * own --check is the final word (it loads and attaches the programs, and mounts tracefs when
 * it is missing and we are allowed to); the checks before it only make the common failures
 * cheap and their lines precise.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
const ROOT_FROM_DIST = join(ROOT, "..");

/** sensor/build/peregrine-sensor, found from src/ (tsx) or dist/src/ (built). */
export function defaultSensorBinary(): string {
  for (const root of [ROOT, ROOT_FROM_DIST]) {
    const p = join(root, "sensor", "build", "peregrine-sensor");
    if (existsSync(p) || existsSync(join(root, "sensor", "Makefile"))) return p;
  }
  return join(ROOT, "sensor", "build", "peregrine-sensor");
}

export type PrerequisiteResult = { ok: true } | { ok: false; line: string };

function capEff(): bigint {
  try {
    const m = /\nCapEff:\s*([0-9a-f]+)/.exec(readFileSync("/proc/self/status", "utf8"));
    return m ? BigInt(`0x${m[1]}`) : 0n;
  } catch {
    return 0n;
  }
}

export interface PrerequisiteOptions {
  binary?: string;
  /** Build the sensor when its binary is missing (needs root to install the build tools). */
  build?: boolean;
}

export function checkSensorPrerequisites(options: PrerequisiteOptions = {}): PrerequisiteResult {
  if (process.platform !== "linux") return { ok: false, line: "the eBPF sensor runs on Linux only" };
  const root = process.getuid?.() === 0;
  const caps = capEff();
  if (!root && !((caps >> 38n) & 1n && (caps >> 39n) & 1n)) {
    return {
      ok: false,
      line: "the detector needs root or the CAP_BPF and CAP_PERFMON capabilities — run as root, or grant them to the sensor: setcap cap_bpf,cap_perfmon+ep sensor/build/peregrine-sensor",
    };
  }
  if (!existsSync("/sys/kernel/btf/vmlinux")) {
    return {
      ok: false,
      line: "this kernel has no BTF (/sys/kernel/btf/vmlinux is missing) — use a kernel built with CONFIG_DEBUG_INFO_BTF=y",
    };
  }
  const binary = options.binary ?? defaultSensorBinary();
  if (!existsSync(binary)) {
    const script = join(dirname(dirname(dirname(binary))), "scripts", "build-sensor.mjs");
    if (options.build !== false && root && existsSync(script)) {
      try {
        execFileSync(process.execPath, [script], { stdio: ["ignore", "ignore", "pipe"] });
      } catch (err) {
        const stderr = String((err as { stderr?: Buffer }).stderr ?? "").trim().split("\n").pop();
        return { ok: false, line: `building the sensor failed (${stderr || "see make -C sensor"}) — run: node scripts/build-sensor.mjs` };
      }
    }
    if (!existsSync(binary)) {
      return { ok: false, line: `the sensor is not built (${binary} is missing) — run: node scripts/build-sensor.mjs` };
    }
  }
  const r = spawnSync(binary, ["--check"], { encoding: "utf8", timeout: 30_000 });
  if (r.status === 0) return { ok: true };
  const line = (r.stderr ?? "").trim().split("\n").filter(Boolean).pop() ?? `sensor check failed (${r.error?.message ?? `exit ${r.status}`})`;
  return { ok: false, line: line.replace(/^peregrine-sensor: /, "") };
}
