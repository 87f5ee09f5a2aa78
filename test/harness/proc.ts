/**
 * Daemons the harness starts: detached, in their own process group, stdout/stderr in a log
 * file, a pid file so a later `services status|down` (another process) finds them again.
 */
import { spawn, spawnSync, type SpawnSyncOptions } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { RUN_DIR } from "./paths.js";

export class HarnessError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HarnessError";
  }
}

export function pidFile(name: string): string {
  return join(RUN_DIR, `${name}.pid`);
}

export function logFile(name: string): string {
  return join(RUN_DIR, `${name}.log`);
}

interface PidRecord {
  pid: number;
  /** A string the process's command line must contain, so a recycled pid is never taken for ours. */
  marker: string;
}

function readPid(name: string): PidRecord | undefined {
  const file = pidFile(name);
  if (!existsSync(file)) return undefined;
  try {
    const rec = JSON.parse(readFileSync(file, "utf8")) as PidRecord;
    return typeof rec.pid === "number" && typeof rec.marker === "string" ? rec : undefined;
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return undefined;
  }
}

/** The pid of the named daemon when it is alive and still the process we started. */
export function runningPid(name: string): number | undefined {
  const rec = readPid(name);
  if (!rec) return undefined;
  const cl = cmdline(rec.pid);
  if (cl === undefined || !cl.includes(rec.marker)) return undefined;
  // A zombie (exited, not yet reaped) is not running.
  try {
    const stat = readFileSync(`/proc/${rec.pid}/stat`, "utf8");
    if (/\) Z /.test(stat)) return undefined;
  } catch {
    return undefined;
  }
  return rec.pid;
}

export interface DaemonSpec {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Defaults to the command path; must appear in /proc/PID/cmdline. */
  marker?: string;
}

export function startDaemon(spec: DaemonSpec): number {
  mkdirSync(RUN_DIR, { recursive: true });
  const log = openSync(logFile(spec.name), "a");
  writeFileSync(log, `\n--- ${new Date().toISOString()} starting ${spec.command} ${spec.args.join(" ")}\n`);
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env ?? process.env,
    detached: true,
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  if (child.pid === undefined) throw new HarnessError(`${spec.name}: could not spawn ${spec.command}`);
  child.unref();
  writeFileSync(pidFile(spec.name), JSON.stringify({ pid: child.pid, marker: spec.marker ?? spec.command }));
  return child.pid;
}

/** SIGTERM the daemon's process group, then SIGKILL after `graceMs`. */
export async function stopDaemon(name: string, graceMs = 15_000): Promise<boolean> {
  const pid = runningPid(name);
  if (pid === undefined) {
    rmSync(pidFile(name), { force: true });
    return false;
  }
  signalGroup(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (runningPid(name) === undefined) break;
    await sleep(100);
  }
  if (runningPid(name) !== undefined) {
    signalGroup(pid, "SIGKILL");
    while (runningPid(name) !== undefined) await sleep(50);
  }
  rmSync(pidFile(name), { force: true });
  return true;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* already gone */
    }
  }
}

export function tailLog(name: string, lines = 30): string {
  try {
    const text = readFileSync(logFile(name), "utf8").trimEnd().split("\n");
    return text.slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

export function portOpen(port: number, host = "127.0.0.1", timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

export async function httpOk(url: string, init?: RequestInit, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** Polls `check` until it is true; on time-out throws with the daemon's last log lines. */
export async function waitUntil(
  name: string,
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (readPid(name) && runningPid(name) === undefined)
      throw new HarnessError(`${name} exited while waiting for ${what}; last log lines:\n${tailLog(name)}`);
    await sleep(200);
  }
  throw new HarnessError(`${name}: ${what} not ready after ${timeoutMs} ms; last log lines:\n${tailLog(name)}`);
}

/** Runs a provisioning command, streaming nothing; throws with its output on failure. */
export function run(command: string, args: string[], options: SpawnSyncOptions = {}): string {
  const r = spawnSync(command, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024, ...options });
  if (r.error) throw new HarnessError(`${command} could not run: ${r.error.message}`);
  if (r.status !== 0) {
    const out = `${r.stdout ?? ""}${r.stderr ?? ""}`.trim().split("\n").slice(-40).join("\n");
    throw new HarnessError(`${command} ${args.join(" ")} failed (exit ${r.status}):\n${out}`);
  }
  return `${r.stdout ?? ""}`;
}

export function commandExists(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}

/** One line on stderr about slow provisioning work, so a first run does not look stuck. */
export function note(message: string): void {
  process.stderr.write(`[harness] ${message}\n`);
}
