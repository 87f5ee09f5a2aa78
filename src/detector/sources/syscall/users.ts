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

  /** `path` may change (a container's files are read through one of its live processes). */
  constructor(private path: string) {
    this.names = parseIdFile(path);
    this.lastLoad = Date.now();
  }

  /** Reads through another path from now on; at once if nothing was read through the old one. */
  retarget(path: string): void {
    if (path === this.path) return;
    this.path = path;
    if (this.names.size === 0) {
      this.names = parseIdFile(path);
      this.lastLoad = Date.now();
    }
  }

  name(id: number): string | undefined {
    const n = this.names.get(id);
    if (n !== undefined) return n;
    const now = Date.now();
    if (now - this.lastLoad < RETRY_MS) return undefined;
    this.lastLoad = now;
    const fresh = parseIdFile(this.path);
    // an unreadable file (the process we read it through is gone) keeps what we knew
    if (fresh.size > 0) this.names = fresh;
    return this.names.get(id);
  }
}

export interface UserDb {
  userName(uid: number): string | undefined;
  groupName(gid: number): string | undefined;
  /**
   * Names inside a container, from its own /etc/passwd and /etc/group (read through
   * /proc/PID/root of one of its processes), as Falco resolves them per container.
   */
  containerUserName?(containerId: string, pid: number, uid: number): string | undefined;
  containerGroupName?(containerId: string, pid: number, gid: number): string | undefined;
}

// Containers whose files were read: enough for a busy node, bounded so churn cannot grow it.
const MAX_CONTAINERS = 512;

export function systemUserDb(passwd = "/etc/passwd", group = "/etc/group"): UserDb {
  const users = new IdNames(passwd);
  const groups = new IdNames(group);
  const containers = new Map<string, { users: IdNames; groups: IdNames }>();
  const inContainer = (containerId: string, pid: number) => {
    const root = `/proc/${pid}/root/etc`;
    let c = containers.get(containerId);
    if (!c) {
      if (containers.size >= MAX_CONTAINERS) containers.delete(containers.keys().next().value!);
      c = { users: new IdNames(`${root}/passwd`), groups: new IdNames(`${root}/group`) };
      containers.set(containerId, c);
    } else {
      c.users.retarget(`${root}/passwd`);
      c.groups.retarget(`${root}/group`);
    }
    return c;
  };
  return {
    userName: (uid) => users.name(uid),
    groupName: (gid) => groups.name(gid),
    containerUserName: (containerId, pid, uid) => inContainer(containerId, pid).users.name(uid),
    containerGroupName: (containerId, pid, gid) => inContainer(containerId, pid).groups.name(gid),
  };
}
