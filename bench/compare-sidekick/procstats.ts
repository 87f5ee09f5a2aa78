/** CPU time and memory of a process, read from /proc (Linux). */
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second of /proc/<pid>/stat; 100 on every Linux this runs on. */
const CLK_TCK = 100;

/** User + system CPU seconds the process has used so far, or undefined once it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

function statusField(pid: number, name: string): number | undefined {
  try {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Resident set size now, in bytes. */
export function rssBytes(pid: number): number | undefined {
  return statusField(pid, "VmRSS");
}

/** Peak resident set size since start (VmHWM), in bytes. */
export function peakRssBytes(pid: number): number | undefined {
  return statusField(pid, "VmHWM");
}

export function mib(bytes: number | undefined): string {
  return bytes === undefined ? "?" : `${(bytes / 1024 / 1024).toFixed(0)} MiB`;
}

/**
 * Seconds the process's threads spent runnable but waiting for a CPU (sum over
 * /proc/<pid>/task/<tid>/schedstat, field 2): high values mean other work starved it.
 * Threads that exited before the read are not counted.
 */
export function runqueueWaitSeconds(pid: number): number | undefined {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[1]);
      } catch {
        // the thread ended meanwhile
      }
    }
    return ns / 1e9;
  } catch {
    return undefined;
  }
}
