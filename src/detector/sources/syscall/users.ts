/**
 * User and group names from /etc/passwd and /etc/group. Read once, and again (at most every
 * few seconds) when an id is not found, so users added while we run get their names.
 */
import { readFileSync } from "node:fs";

const RETRY_MS = 5000;

function parseIdFile(path: string): Map<number, string> {
  const out = new Map<number, string>();
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return out;
  }
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const parts = line.split(":");
    const id = Number(parts[2]);
    if (parts[0] && Number.isInteger(id) && !out.has(id)) out.set(id, parts[0]);
  }
  return out;
}

class IdNames {
  private names: Map<number, string>;
  private lastLoad: number;

  constructor(private readonly path: string) {
    this.names = parseIdFile(path);
    this.lastLoad = Date.now();
  }

  name(id: number): string | undefined {
    const n = this.names.get(id);
    if (n !== undefined) return n;
    const now = Date.now();
    if (now - this.lastLoad < RETRY_MS) return undefined;
    this.lastLoad = now;
    this.names = parseIdFile(this.path);
    return this.names.get(id);
  }
}

export interface UserDb {
  userName(uid: number): string | undefined;
  groupName(gid: number): string | undefined;
}

export function systemUserDb(passwd = "/etc/passwd", group = "/etc/group"): UserDb {
  const users = new IdNames(passwd);
  const groups = new IdNames(group);
  return { userName: (uid) => users.name(uid), groupName: (gid) => groups.name(gid) };
}
