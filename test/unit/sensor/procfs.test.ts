/** /proc seeding, checked against what this very process knows about itself. */
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parentFromProc, readProc, scanProcs } from "../../../src/detector/sources/syscall/procfs.js";
import { systemUserDb } from "../../../src/detector/sources/syscall/users.js";

describe("procfs", () => {
  it("reads this process as the process table will hold it", () => {
    const p = readProc(process.pid)!;
    expect(p.pid).toBe(process.pid);
    expect(p.ppid).toBe(process.ppid);
    expect(p.exepath).toBe(process.execPath);
    expect(p.cwd).toBe(process.cwd());
    expect(p.args).toEqual(process.argv.slice(1).length > 0 ? expect.any(Array) : []);
    expect(p.uid).toBe(process.getuid!());
    expect(p.euid).toBe(process.geteuid!());
    expect(p.startNs).toBeGreaterThan(0);
    expect(p.exeIno).toBeGreaterThan(0);
    expect(p.fds.get(0)).toBeDefined();
    // the environment this process was started with (/proc/PID/environ)
    expect(p.env.some((v) => v.startsWith("PATH="))).toBe(true);
    expect(["host", expect.stringMatching(/^[0-9a-f]{12}$/)]).toContainEqual(p.containerId);
  });

  it("the current parent of a process, from its stat line (a name with spaces and parentheses too)", async () => {
    expect(parentFromProc(process.pid)).toBe(process.ppid);
    expect(parentFromProc(2 ** 22 + 12345)).toBeUndefined();
    const odd = join(mkdtempSync(join(tmpdir(), "pg-stat-")), "we) (ird 1 2");
    copyFileSync("/bin/sleep", odd);
    chmodSync(odd, 0o755);
    const child = spawn(odd, ["5"], { stdio: "ignore" });
    try {
      await new Promise((r) => setTimeout(r, 100));
      expect(readFileSync(`/proc/${child.pid}/stat`, "utf8")).toContain("(we) (ird 1 2)");
      expect(parentFromProc(child.pid!)).toBe(process.pid);
    } finally {
      child.kill();
    }
  });

  it("a vanished process is undefined, and a scan finds pid 1 and us", () => {
    expect(readProc(2 ** 22 + 12345)).toBeUndefined();
    const pids = new Set(scanProcs().map((p) => p.pid));
    expect(pids.has(1)).toBe(true);
    expect(pids.has(process.pid)).toBe(true);
  });

  it("a container's names are read through one of its processes; a gone one is replaced at once", () => {
    const db = systemUserDb();
    const gone = 2 ** 22 + 4321;
    expect(db.containerUserName!("c0ffee", gone, 0)).toBeUndefined(); // nothing readable yet
    expect(db.containerUserName!("c0ffee", process.pid, 0)).toBe("root"); // our root is /: root
    expect(db.containerGroupName!("c0ffee", process.pid, 0)).toBe("root");
    expect(db.containerUserName!("c0ffee", gone, 0)).toBe("root"); // what was read is kept
  });

  it("user and group names come from passwd/group files", () => {
    const dir = mkdtempSync(join(tmpdir(), "pg-users-"));
    writeFileSync(join(dir, "passwd"), "root:x:0:0:root:/root:/bin/sh\n# comment\nalice:x:1000:1000::/home/alice:/bin/sh\n");
    writeFileSync(join(dir, "group"), "root:x:0:\nstaff:x:50:alice\n");
    const db = systemUserDb(join(dir, "passwd"), join(dir, "group"));
    expect(db.userName(0)).toBe("root");
    expect(db.userName(1000)).toBe("alice");
    expect(db.userName(4242)).toBeUndefined();
    expect(db.groupName(50)).toBe("staff");
  });
});
