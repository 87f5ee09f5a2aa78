/**
 * What no rule can override: the allowlist of targets no action may touch, and the rate limit
 * per actionner. Both are checked after a target is resolved and before it is recorded.
 */
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import type { ActionTarget } from "./actionner.js";
import { TokenBucket } from "../delivery/policy.js";

/** Namespaces of the cluster's own machinery. */
export const BUILTIN_NAMESPACES = ["kube-system", "kube-public", "kube-node-lease"] as const;

export interface AllowlistConfig {
  namespaces: readonly string[];
  pods: readonly string[];
  processes: readonly string[];
  containers: readonly string[];
  nodes: readonly string[];
}

/** Where the router itself runs, found once at start. */
export interface Self {
  pid: number;
  /** The router's ancestors (its parent, the container's init, ...): killing one may kill it. */
  ancestors: number[];
  pod?: { namespace: string; name: string };
  containerId?: string;
}

export function readSelf(env: NodeJS.ProcessEnv = process.env): Self {
  const self: Self = { pid: process.pid, ancestors: ancestorsOf(process.pid) };
  const containerId = ownContainerId();
  if (containerId) self.containerId = containerId;
  const pod = ownPod(env);
  if (pod) self.pod = pod;
  return self;
}

/** The parent pid of a process from /proc/PID/stat, undefined when it is gone. */
export function parentPid(pid: number): number | undefined {
  const stat = readStat(pid);
  return stat?.ppid;
}

export interface ProcStat {
  comm: string;
  state: string;
  ppid: number;
  /** Start time in clock ticks since boot (field 22). */
  startTicks: string;
}

/** /proc/PID/stat, parsed past the command name (which may hold spaces and parentheses). */
export function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < 0) return undefined;
  const rest = text.slice(close + 2).split(" ");
  // rest[0] is field 3 (state); field 4 ppid; field 22 starttime
  return { comm: text.slice(open + 1, close), state: rest[0] ?? "", ppid: Number(rest[1]), startTicks: rest[19] ?? "" };
}

function ancestorsOf(pid: number): number[] {
  const out: number[] = [];
  let p = parentPid(pid);
  for (let i = 0; i < 64 && p !== undefined && p > 0; i++) {
    out.push(p);
    p = p === 1 ? undefined : parentPid(p);
  }
  return out;
}

function ownContainerId(): string | undefined {
  try {
    const m = /([0-9a-f]{64})/.exec(readFileSync("/proc/self/cgroup", "utf8"));
    if (m) return m[1];
  } catch {
    /* not Linux, or no cgroup file */
  }
  return undefined;
}

function ownPod(env: NodeJS.ProcessEnv): { namespace: string; name: string } | undefined {
  let namespace = env.POD_NAMESPACE;
  if (!namespace && env.KUBERNETES_SERVICE_HOST) {
    try {
      namespace = readFileSync("/var/run/secrets/kubernetes.io/serviceaccount/namespace", "utf8").trim();
    } catch {
      /* no service account mounted */
    }
  }
  if (!namespace) return undefined;
  return { namespace, name: env.POD_NAME ?? hostname() };
}

export class Allowlist {
  private readonly namespaces: Set<string>;
  private readonly pods: Set<string>;
  private readonly processes: Set<string>;
  private readonly nodes: Set<string>;

  constructor(
    private readonly config: AllowlistConfig,
    private readonly self: Self,
  ) {
    this.namespaces = new Set([...BUILTIN_NAMESPACES, ...config.namespaces]);
    if (self.pod) this.namespaces.add(self.pod.namespace);
    this.pods = new Set(config.pods);
    if (self.pod) this.pods.add(`${self.pod.namespace}/${self.pod.name}`);
    this.processes = new Set(config.processes);
    this.nodes = new Set(config.nodes);
  }

  /** Why the target may not be touched, or undefined when it may. */
  refusal(target: ActionTarget): string | undefined {
    const id = target.identity;
    const ns = id.namespace;
    if (ns !== undefined && this.namespaces.has(ns)) return `namespace ${ns} is allowlisted (${(BUILTIN_NAMESPACES as readonly string[]).includes(ns) ? "built in" : this.self.pod?.namespace === ns ? "the router's own namespace" : "response.allowlist.namespaces"})`;
    if (target.kind === "namespace" && id.name !== undefined && this.namespaces.has(id.name)) return `namespace ${id.name} is allowlisted: it cannot be deleted or changed`;
    if (target.kind === "pod" && ns !== undefined && id.name !== undefined && this.pods.has(`${ns}/${id.name}`))
      return `pod ${ns}/${id.name} is allowlisted${this.self.pod && this.self.pod.namespace === ns && this.self.pod.name === id.name ? " (the router's own pod)" : ""}`;
    if (target.kind === "node" && id.name !== undefined && this.nodes.has(id.name)) return `node ${id.name} is allowlisted (response.allowlist.nodes)`;
    if (id.pid !== undefined) {
      const why = this.processRefusal(Number(id.pid), id.name);
      if (why) return why;
    }
    const container = id.container_id ?? (target.kind === "container" ? id.id : undefined);
    const containerName = id.container_name ?? (target.kind === "container" ? id.name : undefined);
    if (container !== undefined || containerName !== undefined) {
      if (container && this.self.containerId && sameContainer(container, this.self.containerId)) return `container ${container.slice(0, 12)} is the router's own`;
      for (const c of this.config.containers) {
        if (containerName !== undefined && (c === containerName || `/${c}` === containerName)) return `container ${containerName} is allowlisted (response.allowlist.containers)`;
        if (container !== undefined && c.length >= 12 && sameContainer(container, c)) return `container ${container.slice(0, 12)} is allowlisted (response.allowlist.containers)`;
      }
    }
    return undefined;
  }

  private processRefusal(pid: number, name: string | undefined): string | undefined {
    if (!Number.isInteger(pid) || pid <= 0) return `pid ${pid} is not a process id`;
    if (pid === 1) return "pid 1 (the init process) is never touched";
    if (pid === 2) return "pid 2 (kthreadd) is never touched";
    if (pid === this.self.pid) return `pid ${pid} is the router itself`;
    if (this.self.ancestors.includes(pid)) return `pid ${pid} is an ancestor of the router`;
    const stat = readStat(pid);
    if (stat && stat.ppid === 2) return `pid ${pid} is a kernel thread`;
    // the router's children (the eBPF sensor, a detector it started) and their children
    let p = stat?.ppid;
    for (let i = 0; i < 64 && p !== undefined && p > 1; i++) {
      if (p === this.self.pid) return `pid ${pid} is a child of the router (its sensor or detector)`;
      p = parentPid(p);
    }
    const comm = stat?.comm ?? name;
    if (comm !== undefined && this.processes.has(comm)) return `process ${comm} is allowlisted (response.allowlist.processes)`;
    return undefined;
  }
}

function sameContainer(a: string, b: string): boolean {
  const x = a.replace(/^[a-z]+:\/\//, "");
  const y = b.replace(/^[a-z]+:\/\//, "");
  return x.startsWith(y) || y.startsWith(x);
}

export interface RateConfig {
  per_second: number;
  burst: number;
}

/** One token bucket per actionner; an action past the limit is refused, never queued. */
export class RateLimits {
  private readonly buckets = new Map<string, TokenBucket>();
  constructor(
    private readonly fallback: RateConfig,
    private readonly perActionner: Readonly<Record<string, RateConfig>>,
  ) {}

  /** True when the actionner may act now (takes a token). */
  take(actionner: string): boolean {
    let b = this.buckets.get(actionner);
    if (!b) {
      const c = this.perActionner[actionner] ?? this.fallback;
      b = new TokenBucket(c.per_second, c.burst);
      this.buckets.set(actionner, b);
    }
    return b.take() === 0;
  }

  describe(actionner: string): string {
    const c = this.perActionner[actionner] ?? this.fallback;
    return `${c.per_second}/s, burst ${c.burst}`;
  }
}
