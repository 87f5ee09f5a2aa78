/**
 * The embedded syscall detector: loads the rules against the sensor-backed `syscall` source,
 * seeds the process table from /proc, starts the supervised sensor with the interest set the
 * rules need, and hands every alert to `onAlert`. `peregrine run` journals the alerts;
 * `peregrine detect --router URL` posts them.
 */
import { existsSync } from "node:fs";
import type { Logger } from "pino";
import { loadRules, defaultSources, type RuleSelectionStep } from "../../load.js";
import type { AppendOutput } from "../../loader/compile-rules.js";
import type { DetectorAlert, Ruleset } from "../../ruleset.js";
import type { Priority } from "../../../alert.js";
import { PeregrineError } from "../../../errors.js";
import { checkSensorPrerequisites, defaultSensorBinary } from "./prerequisites.js";
import { procfsReader, readProcCgroup, scanProcs } from "./procfs.js";
import { FILTERED_OPEN_TYPES, openFilter as analyzeOpenFilter } from "./open-filter.js";
import { HostNames, type ResolveAll } from "./hostnames.js";
import { createSyscallSource, type SyscallSource } from "./source.js";
import { ProcessTable } from "./state.js";
import { SensorSupervisor } from "./supervisor.js";
import { SyscallTracker } from "./tracker.js";
import { systemUserDb } from "./users.js";
import { K8sMeta, type K8sMetaStats } from "../../metadata/k8s.js";
import { kubernetesCredentials, type KubernetesConfig } from "../../metadata/k8s-config.js";
import { CATEGORY_NAMES, SYSCALLS } from "./wire.js";
import { HOST_CONTAINER_ID } from "./container.js";
import { ContainerMetadata, type ContainerMetadataStats } from "../../metadata/manager.js";
import { containerEnginesConfig, createEngines, type ContainerEnginesConfig } from "../../metadata/engines.js";
import type { Proc } from "./state.js";

export class SensorError extends PeregrineError {
  declare readonly code: "SENSOR_UNAVAILABLE" | "DETECTOR_RULES_INVALID";
  constructor(code: "SENSOR_UNAVAILABLE" | "DETECTOR_RULES_INVALID", message: string) {
    super(code, message);
    this.name = "SensorError";
  }
}

/** Syscalls the state tables need whatever the rules say (rare, cheap). */
const STATE_SYSCALLS = ["chdir", "fchdir", "setsid", "clone", "clone3", "fork", "vfork"];
/** Rules on these need the descriptor table, so descriptors' births and deaths are tracked too. */
const FD_CONSUMERS = new Set(["dup", "dup2", "dup3", "fchmod", "fchdir", "finit_module", "close"]);
const FD_LIFECYCLE = ["close", "dup", "dup2", "dup3"];
const SOCKET_LIFECYCLE = ["socket", "connect", "accept", "accept4"];
const SUPPORTED = new Set(SYSCALLS.map((s) => s.name));

/** The syscalls the sensor must send for a set of rule event types. */
export function interestSet(types: ReadonlySet<string>, all: boolean): string[] {
  if (all) return [...SUPPORTED];
  const out = new Set<string>(STATE_SYSCALLS);
  for (const t of types) if (SUPPORTED.has(t)) out.add(t);
  // only the rules' own types decide: the state set alone (fchdir) needs no descriptor table
  const usesFds = [...types].some(
    (t) => SUPPORTED.has(t) && (FD_CONSUMERS.has(t) || t.startsWith("open") || t === "creat" || t === "socket" || t === "accept" || t === "accept4" || t === "connect"),
  );
  if (usesFds) for (const t of FD_LIFECYCLE) out.add(t);
  if (types.has("dup") || types.has("dup2") || types.has("dup3")) for (const t of SOCKET_LIFECYCLE) out.add(t);
  return [...out].sort();
}

export interface SyscallDetectorOptions {
  /** Rules files or directories, in load order. */
  rulesFiles: readonly string[];
  selection?: readonly RuleSelectionStep[];
  appendOutput?: readonly AppendOutput[];
  onAlert(alert: DetectorAlert): void;
  logger: Logger;
  /** falco.yaml's rule_matching: first (default) or all. */
  ruleMatching?: "first" | "all";
  /** falco.yaml's time_format_iso_8601 (default false): the output's time prefix. */
  timeFormatIso8601?: boolean;
  /** falco.yaml's priority: less severe rules are never evaluated. */
  minimumPriority?: Priority;
  /** The kernel-side open filter (open-filter.ts). Default true. */
  kernelFilter?: boolean;
  /** Size of each per-CPU ring buffer (power of two). Default 8 MiB. */
  ringBufferBytes?: number;
  sensorBinary?: string;
  hostname?: string;
  /**
   * Resolves the names rules compare fd.*ip.name with; the system's resolver by default. A
   * host that cannot resolve cluster names (a node's resolver, not the pods') can map them.
   */
  resolveHost?: ResolveAll;
  /** Extra processes whose syscalls the sensor must not report. */
  ignorePids?: readonly number[];
  /**
   * detector.container_engines: the engines asked for container.* metadata. Default: every
   * engine at its default sockets; false: none (container.* beyond the id is <NA>).
   */
  containerEngines?: ContainerEnginesConfig | false;
  /** detector.kubernetes: pod metadata from the API server (k8smeta.* and k8s.* fields). */
  kubernetes?: KubernetesConfig | undefined;
}

export interface SyscallDetectorStats {
  framesDecoded: number;
  eventsEvaluated: number;
  alerts: number;
  evaluationErrors: number;
  processes: number;
  processesReadLate: number;
  sensorRestarts: number;
  sensorWireErrors: number;
  /** From the sensor's last stats frame: per category, events written and dropped in the kernel. */
  sensorEvents: Record<string, number>;
  sensorDrops: Record<string, number>;
  /** Events the kernel-side filter kept from the detector: no loaded rule could match them. */
  sensorFiltered: Record<string, number>;
  syscalls: readonly string[];
  /** The kernel-side filter's entries ("=exact", "^prefix", "@comm"); undefined when it is off. */
  openFilter: readonly string[] | undefined;
  /** Container metadata lookups (undefined when no engine is enabled). */
  containers?: ContainerMetadataStats & { containerEvents: number };
  /** The Kubernetes metadata caches, when detector.kubernetes is enabled. */
  kubernetes?: K8sMetaStats;
}

export interface SyscallDetector {
  readonly ruleset: Ruleset;
  readonly syscalls: readonly string[];
  readonly openFilter: readonly string[] | undefined;
  /** Resolves once the sensor streams (its hello frame arrived); rejects if it cannot run. */
  readonly ready: Promise<void>;
  stats(): SyscallDetectorStats;
  /** The running sensor process, for resource accounting. */
  sensorPid(): number | undefined;
  stop(): Promise<void>;
}

const HOST_NAMES_WAIT_MS = 2000;

export async function startSyscallDetector(opts: SyscallDetectorOptions): Promise<SyscallDetector> {
  const { logger } = opts;
  const binary = opts.sensorBinary ?? defaultSensorBinary();
  const pre = checkSensorPrerequisites({ binary });
  if (!pre.ok) throw new SensorError("SENSOR_UNAVAILABLE", pre.line);

  const table = new ProcessTable(procfsReader);
  for (const p of scanProcs()) table.add(p);
  // Only a host without the unified cgroup hierarchy needs /proc to name containers.
  const unifiedCgroups = existsSync("/sys/fs/cgroup/cgroup.controllers");
  const tracker = new SyscallTracker(table, unifiedCgroups ? undefined : readProcCgroup);
  const hostNames = new HostNames(opts.resolveHost);
  // container metadata: looked up on a container's first sight, off the event path
  const engines = opts.containerEngines === false ? [] : createEngines(opts.containerEngines ?? containerEnginesConfig(undefined));
  const firstProcs = new Map<string, Proc>();
  let containerEvents = 0;
  let emitContainerEvent: (id: string) => void = () => undefined;
  const containers =
    engines.length > 0
      ? new ContainerMetadata({ engines, logger, onFirstLookup: (id) => emitContainerEvent(id) })
      : undefined;
  let k8s: K8sMeta | undefined;
  if (opts.kubernetes?.enabled) {
    let credentials;
    try {
      credentials = kubernetesCredentials(opts.kubernetes);
    } catch (err) {
      throw new SensorError("DETECTOR_RULES_INVALID", (err as Error).message);
    }
    k8s = new K8sMeta({ credentials, nodeName: opts.kubernetes.nodeName, logger });
  }
  const source: SyscallSource = createSyscallSource({
    table,
    users: systemUserDb(),
    hostNames,
    ...(containers ? { containers } : {}),
    ...(k8s ? { k8s } : {}),
    bootOffsetNs: () => tracker.bootOffsetNs,
    ...(opts.hostname !== undefined ? { hostname: opts.hostname } : {}),
  });

  const sources = [source, ...defaultSources().filter((s) => s.name !== "syscall")];
  const { ruleset, results } = loadRules({
    files: opts.rulesFiles,
    sources,
    ...(opts.selection ? { selection: opts.selection } : {}),
    ...(opts.appendOutput ? { appendOutput: opts.appendOutput } : {}),
    ...(opts.hostname !== undefined ? { hostname: opts.hostname } : {}),
    ...(opts.ruleMatching ? { ruleMatching: opts.ruleMatching } : {}),
    ...(opts.timeFormatIso8601 !== undefined ? { timeFormatIso8601: opts.timeFormatIso8601 } : {}),
    ...(opts.minimumPriority ? { minimumPriority: opts.minimumPriority } : {}),
  });
  if (!results.ok) {
    const first = results.errors[0]!;
    throw new SensorError(
      "DETECTOR_RULES_INVALID",
      `${first.position.file}:${first.position.line}:${first.position.column}: ${first.code}: ${first.message}` +
        (results.errors.length > 1 ? ` (and ${results.errors.length - 1} more errors)` : ""),
    );
  }
  // names the rules compare fd.*ip.name against: resolved before events flow, if quickly
  await Promise.race([hostNames.settled(), new Promise((r) => setTimeout(r, HOST_NAMES_WAIT_MS).unref())]);
  const interest = ruleset.eventTypes("syscall");
  const syscalls = interestSet(interest.types, interest.all);
  let openFilter: string[] | undefined;
  let filterState: string; // for the start-up log: what the filter does, or why it is off
  if (opts.kernelFilter === false) filterState = "off (detector.kernel_filter: false)";
  else if (!FILTERED_OPEN_TYPES.some((t) => syscalls.includes(t))) filterState = "off: no rule asks for opens";
  else {
    const filter = analyzeOpenFilter(ruleset);
    openFilter = filter.entries;
    filterState = filter.entries ? `${filter.entries.length} entries` : `off: ${filter.off}`;
  }

  let alerts = 0;
  let evaluationErrors = 0;
  const visit = (ev: Parameters<Parameters<SyscallTracker["process"]>[1]>[0]) => {
    const cid = ev.proc.containerId;
    if (containers && cid !== HOST_CONTAINER_ID && !firstProcs.has(cid)) {
      // first sight: start the lookup; the container event follows when it completes
      firstProcs.set(cid, ev.proc);
      containers.get(cid);
    }
    try {
      const found = ruleset.evaluate(source, ev);
      for (let i = 0; i < found.length; i++) {
        alerts++;
        opts.onAlert(found[i]!);
      }
    } catch (err) {
      // one bad event must not stop detection; the count shows up in stats and the log
      if (evaluationErrors++ < 10) logger.error({ err: (err as Error).message, evt: ev.type }, "rule evaluation failed");
    }
  };

  // Falco's synthetic `container` event, once per new container, when its metadata lookup
  // completed (found or not), so rules on container_started see the engine's fields
  emitContainerEvent = (id) => {
    const p = firstProcs.get(id);
    if (!p) return;
    containerEvents++;
    const nowBoot = BigInt(Date.now()) * 1_000_000n - tracker.bootOffsetNs;
    visit({
      num: tracker.nextNum(),
      type: "container",
      spec: undefined,
      tsBoot: Number(nowBoot),
      tid: p.pid,
      ret: 0,
      uid: p.euid,
      gid: p.egid,
      proc: p,
      fd: undefined,
      fdNum: undefined,
      fdNameChanged: false,
      argNames: ["id"],
      argValues: [id],
      flags: undefined,
    });
  };

  let resolveReady!: () => void;
  let rejectReady!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => undefined); // observed through the property; never an unhandled rejection
  let lastDrops = 0;
  tracker.onStats = (c) => {
    const drops = c.drops.reduce((a, b) => a + b, 0);
    if (drops > lastDrops) logger.warn({ dropped: drops - lastDrops, total: drops }, "sensor dropped events (ring buffer full)");
    lastDrops = drops;
  };

  const args = [
    "--syscalls",
    syscalls.join(","),
    "--ring-bytes",
    String(opts.ringBufferBytes ?? 8 * 1024 * 1024),
    "--ignore-pid",
    String(process.pid),
    ...(opts.ignorePids ?? []).flatMap((p) => ["--ignore-pid", String(p)]),
    ...(openFilter ? ["--open-read-paths", openFilter.join("\n")] : []),
  ];
  let helloSeen = false;
  const supervisor = new SensorSupervisor({
    binary,
    args,
    logger,
    onFrame: (f) => {
      tracker.process(f, visit);
      if (!helloSeen && f.type === 1) {
        helloSeen = true;
        resolveReady();
      }
    },
    onFatal: (line) => {
      logger.error({ sensor: true }, line);
      rejectReady(new SensorError("SENSOR_UNAVAILABLE", line.replace(/^peregrine-sensor: /, "")));
    },
  });
  supervisor.start();
  // in the background: events flow at once, pods' fields fill in as the caches do
  k8s?.start();
  let sweeps = 0;
  const sweeper = setInterval(() => {
    const now = Date.now();
    table.sweep(now);
    // forgotten containers are looked up (and announced) again if they show up again
    if (containers && containers.sweep(now) > 0) for (const id of firstProcs.keys()) if (!containers.has(id)) firstProcs.delete(id);
    // once a minute, forget processes whose exit event was lost
    if (++sweeps % 30 === 0) {
      const gone = table.reconcile((pid) => existsSync(`/proc/${pid}`), now);
      if (gone > 0) logger.debug({ gone }, "processes gone without an exit event");
    }
  }, 2000);
  sweeper.unref();
  logger.info(
    {
      rules: ruleset.rules.filter((r) => r.enabled).length,
      syscalls,
      kernelFilter: filterState,
    },
    "syscall detector started",
  );

  return {
    ruleset,
    syscalls,
    openFilter,
    ready,
    stats(): SyscallDetectorStats {
      const c = tracker.sensorCounters;
      const byCat = (v: number[] | undefined) => Object.fromEntries(CATEGORY_NAMES.map((n, i) => [n, v?.[i] ?? 0]));
      return {
        framesDecoded: tracker.frames,
        eventsEvaluated: tracker.events,
        alerts,
        evaluationErrors,
        processes: table.size,
        processesReadLate: table.lateReads,
        sensorRestarts: supervisor.restarts,
        sensorWireErrors: supervisor.wireErrors,
        sensorEvents: byCat(c?.events),
        sensorDrops: byCat(c?.drops),
        sensorFiltered: byCat(c?.filtered),
        syscalls,
        openFilter,
        ...(containers ? { containers: { ...containers.stats(), containerEvents } } : {}),
        ...(k8s ? { kubernetes: k8s.stats() } : {}),
      };
    },
    sensorPid: () => supervisor.pid,
    async stop() {
      clearInterval(sweeper);
      await supervisor.stop();
      containers?.close();
      await k8s?.stop();
    },
  };
}
