/**
 * A cross-process lock (an exclusive file holding the owner's pid), so two test runs or a
 * test run and `npm run services` never provision or start the same service at once.
 * A lock whose owner died is taken over.
 */
import { mkdirSync, openSync, closeSync, readFileSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { RUN_DIR } from "./paths.js";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function withLock<T>(name: string, fn: () => Promise<T>, timeoutMs = 30 * 60_000): Promise<T> {
  mkdirSync(RUN_DIR, { recursive: true });
  const file = join(RUN_DIR, `${name}.lock`);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(file, "wx");
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let owner = NaN;
      try {
        owner = Number(readFileSync(file, "utf8"));
      } catch {
        /* removed meanwhile */
      }
      if (Number.isFinite(owner) && owner > 0 && !alive(owner)) {
        rmSync(file, { force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for lock ${file} (held by pid ${owner})`);
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(file, { force: true });
  }
}

/** Locks this process holds (or is acquiring) through acquireLock, shared by its callers. */
const held = new Map<string, { count: number; acquired: Promise<void>; release: () => void }>();

/**
 * Holds a lock until the returned function is called: for a test file that stops and
 * restarts a service (or cannot bear that), so two such files never overlap. Within one
 * process the lock is shared: nested holders do not wait for each other.
 */
export async function acquireLock(name: string, timeoutMs = 15 * 60_000): Promise<() => void> {
  let entry = held.get(name);
  if (!entry) {
    let release!: () => void;
    const holding = new Promise<void>((r) => (release = r));
    let ready!: () => void;
    const acquired = new Promise<void>((r) => (ready = r));
    const done = withLock(
      name,
      async () => {
        ready();
        await holding;
      },
      timeoutMs,
    );
    entry = { count: 0, acquired: Promise.race([acquired, done]), release };
    held.set(name, entry);
    entry.acquired.catch(() => held.delete(name));
  }
  entry.count++;
  try {
    await entry.acquired;
  } catch (err) {
    entry.count--;
    throw err;
  }
  let called = false;
  return () => {
    if (called) return;
    called = true;
    const h = held.get(name);
    if (h && --h.count === 0) {
      held.delete(name);
      h.release();
    }
  };
}
