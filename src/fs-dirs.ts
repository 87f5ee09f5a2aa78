/**
 * Creates a directory and its missing parents, one level at a time.
 *
 * Why not `mkdirSync(dir, { recursive: true })`: Node's recursive mkdir retries forever when
 * the kernel answers ENOENT for a directory whose parent exists (any path under /proc or
 * /sys), so a mistyped storage path would hang the process instead of failing.
 */
import { mkdirSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";

export function makeDirs(dir: string): void {
  const target = resolve(dir);
  const missing: string[] = [];
  for (let p = target; ; p = dirname(p)) {
    let isDir: boolean;
    try {
      isDir = statSync(p).isDirectory();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      missing.push(p);
      if (dirname(p) === p) break;
      continue;
    }
    if (!isDir) {
      const e = new Error(`ENOTDIR: not a directory, mkdir '${p}'`) as NodeJS.ErrnoException;
      e.code = "ENOTDIR";
      throw e;
    }
    break;
  }
  for (const p of missing.reverse()) {
    try {
      mkdirSync(p);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err; // created meanwhile by someone else
    }
  }
}
