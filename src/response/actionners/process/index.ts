/**
 * `process:kill` and `process:stop`: signals to a process the detector saw on this host, bound
 * to its pid AND its start time, so a pid the kernel handed to another process is never hit.
 *
 * The start time comes from the alert: `proc.pid.ts` (epoch ns), or the alert's time minus
 * `proc.duration`. At resolve it is compared with /proc/PID/stat (within `start_tolerance_ms`);
 * the exact start in clock ticks and the boot id are recorded, and `run` signals only a process
 * with that same pid, start tick and boot.
 *
 * The router must see the host's pids (the detector's `proc.pid`): run it in the host pid
 * namespace, as the detector itself runs.
 */
import { readFileSync } from "node:fs";
import { constants } from "node:os";
import type { Alert } from "../../../alert.js";
import type { ActionParameters, ActionRequest, ActionResult, Actionner, ResolveResult } from "../../actionner.js";
import { readStat } from "../../safety.js";

/** USER_HZ: the unit of /proc/PID/stat's start time; 100 on every Linux build that matters. */
const CLOCK_TICKS = 100;
const DEFAULT_TOLERANCE_MS = 2000;

export function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "";
  }
}

/** Epoch ms the machine booted (from /proc/uptime; ±10 ms). */
function bootEpochMs(): number {
  const up = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
  return Date.now() - up * 1000;
}

function numberField(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if (typeof v === "string" && /^\d+(\.\d+)?$/.test(v.trim())) return Number(v);
  return undefined;
}

/** ns since epoch from an RFC 3339 time, keeping the digits past ms. */
function timeNs(text: string): number | undefined {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(ms)) return undefined;
  return ms * 1e6 + Number((m[2] ?? "").padEnd(9, "0").slice(0, 9));
}

/** The process's start (epoch ms) the alert tells, and which fields told it. */
export function alertStartMs(alert: Alert): { ms: number; from: string } | undefined {
  const f = alert.output_fields as Record<string, unknown>;
  const ts = numberField(f["proc.pid.ts"]);
  if (ts !== undefined && ts > 0) return { ms: ts / 1e6, from: "proc.pid.ts" };
  const duration = numberField(f["proc.duration"]);
  if (duration !== undefined) {
    const evt = numberField(f["evt.rawtime"]) ?? numberField(f["evt.time"]) ?? timeNs(alert.time);
    if (evt !== undefined && evt > 1e15) return { ms: (evt - duration) / 1e6, from: "proc.duration" };
  }
  return undefined;
}

const SIGNALS = Object.keys(constants.signals);

function signalOf(parameters: ActionParameters, fallback: NodeJS.Signals): NodeJS.Signals {
  const s = parameters.signal;
  return typeof s === "string" && SIGNALS.includes(s) ? (s as NodeJS.Signals) : fallback;
}

function processActionner(name: "process:kill" | "process:stop", signal: NodeJS.Signals, description: string): Actionner {
  return {
    name,
    description,
    // a killed process has nothing left to act on; a stopped one has (logs, a container to stop)
    continueByDefault: name !== "process:kill",
    checkParameters(parameters) {
      const problems: string[] = [];
      for (const k of Object.keys(parameters)) if (k !== "signal" && k !== "start_tolerance_ms") problems.push(`unknown parameter '${k}' (process actions take signal, start_tolerance_ms)`);
      const s = parameters.signal;
      if (s !== undefined && (typeof s !== "string" || !SIGNALS.includes(s))) problems.push(`signal: '${String(s)}' is not a signal name (SIGKILL, SIGTERM, SIGSTOP, ...)`);
      const t = parameters.start_tolerance_ms;
      if (t !== undefined && (typeof t !== "number" || t < 0 || t > 60_000)) problems.push("start_tolerance_ms: a number of ms between 0 and 60000");
      return problems;
    },
    resolve(alert, parameters): ResolveResult {
      const pid = numberField(alert.output_fields["proc.pid"]);
      if (pid === undefined || !Number.isInteger(pid) || pid <= 0)
        return { ok: false, code: "RESPONSE_TARGET_UNRESOLVED", message: "the alert has no proc.pid: add %proc.pid to the rule's output" };
      const start = alertStartMs(alert);
      if (!start)
        return {
          ok: false,
          code: "RESPONSE_TARGET_UNRESOLVED",
          message: `the alert has proc.pid ${pid} but not the process's start time (proc.pid.ts, or proc.duration): without it a reused pid could be hit; add %proc.duration to the rule's output`,
        };
      const stat = readStat(pid);
      if (!stat) return { ok: false, code: "RESPONSE_TARGET_GONE", message: `process ${pid} no longer exists` };
      const startMs = bootEpochMs() + (Number(stat.startTicks) * 1000) / CLOCK_TICKS;
      const tolerance = typeof parameters.start_tolerance_ms === "number" ? parameters.start_tolerance_ms : DEFAULT_TOLERANCE_MS;
      if (Math.abs(startMs - start.ms) > tolerance)
        return {
          ok: false,
          code: "RESPONSE_TARGET_GONE",
          message: `pid ${pid} now belongs to another process (${stat.comm}, started ${new Date(startMs).toISOString()}, the alert's started ${new Date(start.ms).toISOString()} by ${start.from})`,
        };
      return {
        ok: true,
        target: {
          kind: "process",
          description: `pid ${pid} (${stat.comm})`,
          identity: { pid: String(pid), start_ticks: stat.startTicks, boot_id: bootId(), name: stat.comm },
        },
      };
    },
    async run(request: ActionRequest): Promise<ActionResult> {
      const id = request.target.identity;
      const pid = Number(id.pid);
      if (id.boot_id && id.boot_id !== bootId()) return { status: "gone", message: `the host rebooted since pid ${pid} was recorded` };
      const stat = readStat(pid);
      if (!stat || stat.state === "Z" || stat.state === "X") return { status: "gone", message: `process ${pid} (${id.name}) is gone` };
      if (stat.startTicks !== id.start_ticks) return { status: "gone", message: `pid ${pid} now belongs to another process (${stat.comm}): the recorded one is gone, nothing was signalled` };
      const sig = signalOf(request.parameters, signal);
      try {
        process.kill(pid, sig);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ESRCH") return { status: "gone", message: `process ${pid} (${id.name}) is gone` };
        return { status: "failed", code: "RESPONSE_ACTION_FAILED", message: `${sig} to pid ${pid}: ${(err as Error).message}`, retryable: false };
      }
      return { status: "done", message: `${sig} sent to pid ${pid} (${stat.comm})` };
    },
  };
}

export const processActionners: Actionner[] = [
  processActionner("process:kill", "SIGKILL", "Kills the process of the alert (proc.pid, checked against its start time)."),
  processActionner("process:stop", "SIGSTOP", "Stops (freezes) the process of the alert with SIGSTOP, checked against its start time; SIGCONT resumes it."),
];
