/**
 * Container metadata benchmark, against the test harness's real engines (services `docker`,
 * `podman`, `containerd-solo`; started here when not running). Three measures:
 *
 * 1. Lookup latency per engine: a few running containers per engine, then LOOKUPS lookups on
 *    one kept client (the detector's steady state) and COLD lookups each on a new client (a
 *    new connection, the CRI engine's first PodSandboxStatus, the image digest not cached).
 * 2. Detector events/s and CPU with CHURN Docker containers started and stopped (`docker run
 *    --rm`, CONCURRENCY at a time, each reading a file and living ~1 s) during a paced syscall
 *    storm (bench/sensor/storm.c, RATE syscalls/s, kernel filter off so every event is
 *    evaluated against Falco's stable rules), with the Docker engine asked and then the same
 *    run with no engines.
 * 3. Memory of the metadata cache at CACHE containers: synthetic entries, each a deep copy of a
 *    real engine answer (Docker's, and CRI's with its pod) under its own id, name and labels;
 *    heap after a full GC, before and after. Needs --expose-gc.
 *
 *   node --expose-gc --import tsx bench/containers/run.ts [--lookups N] [--cold N] [--churn N]
 *     [--concurrency N] [--rate SYSCALLS_PER_S] [--cache N]
 *
 * Must run as root (the engines and the eBPF sensor).
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { ContainerdEngine } from "../../src/detector/metadata/containerd.js";
import { CriEngine } from "../../src/detector/metadata/cri.js";
import { DockerEngine } from "../../src/detector/metadata/docker.js";
import { containerEnginesConfig } from "../../src/detector/metadata/engines.js";
import { ContainerMetadata } from "../../src/detector/metadata/manager.js";
import type { ContainerEngine, ContainerInfo } from "../../src/detector/metadata/types.js";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector, type SyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { runPod, type CriPod } from "../../test/harness/cri.js";
import { acquireLock } from "../../test/harness/lock.js";
import { TESTBASE } from "../../test/harness/images/images.js";
import { runCommand } from "../../test/harness/run-command.js";
import { services } from "../../test/harness/services.js";
import { CONTAINERD_SOLO_SOCKET } from "../../test/harness/services/containerd.js";
import { DOCKER_HOST, DOCKER_SOCKET } from "../../test/harness/services/docker.js";
import { PODMAN_SOCKET, podmanCli } from "../../test/harness/services/podman.js";
import { buildStorm, flag, root, RULES, runStorm } from "../sensor/common.js";

const LOOKUPS = flag("lookups", 200);
const COLD = flag("cold", 20);
const CHURN = flag("churn", 100);
const CONCURRENCY = flag("concurrency", 4);
const RATE = flag("rate", 50_000);
const CACHE = flag("cache", 1000);
const PER_ENGINE = 3;
const CTR_NAMESPACE = "pg-bench";

const logger = pino({ level: "warn" });

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await runCommand(cmd, args, { timeoutMs: 180_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr || r.stdout}`);
  return r.stdout;
}

const docker = (args: string[]) => must("docker", ["--host", DOCKER_HOST, ...args]);
const ctr = (args: string[]) => must("ctr", ["--address", CONTAINERD_SOLO_SOCKET, "--namespace", CTR_NAMESPACE, ...args]);

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const ms = (n: number) => n.toFixed(2);

interface Made {
  engine: string;
  make(): ContainerEngine;
  ids: string[];
}

/** 1. Lookup latency: p50/p99 on a kept client and on a new client per lookup. */
async function latency(made: Made[]): Promise<{ rows: string[]; templates: Record<string, ContainerInfo> }> {
  const rows = ["| engine | kept client p50 ms | p99 ms | mean ms | lookups | new client p50 ms | p99 ms | lookups |", "|---|---|---|---|---|---|---|---|"];
  const templates: Record<string, ContainerInfo> = {};
  for (const m of made) {
    const kept = m.make();
    const warm: number[] = [];
    // one unmeasured lookup each: the connection and the per-image / per-pod caches
    for (const id of m.ids) {
      const info = await kept.inspect(id.slice(0, 12));
      if (!info) throw new Error(`${m.engine} does not know ${id}`);
      templates[m.engine] = info;
    }
    for (let i = 0; i < LOOKUPS; i++) {
      const t0 = performance.now();
      await kept.inspect(m.ids[i % m.ids.length]!.slice(0, 12));
      warm.push(performance.now() - t0);
    }
    kept.close?.();
    const cold: number[] = [];
    for (let i = 0; i < COLD; i++) {
      const e = m.make();
      const t0 = performance.now();
      await e.inspect(m.ids[i % m.ids.length]!.slice(0, 12));
      cold.push(performance.now() - t0);
      e.close?.();
    }
    warm.sort((a, b) => a - b);
    cold.sort((a, b) => a - b);
    const mean = warm.reduce((a, b) => a + b, 0) / warm.length;
    rows.push(`| ${m.engine} | ${ms(pct(warm, 50))} | ${ms(pct(warm, 99))} | ${ms(mean)} | ${warm.length} | ${ms(pct(cold, 50))} | ${ms(pct(cold, 99))} | ${cold.length} |`);
  }
  return { rows, templates };
}

function procCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

let markers = 0;
const markerWaiters = new Map<string, () => void>();

function onAlert(a: DetectorAlert): void {
  const cmd = String(a.output_fields["proc.cmdline"] ?? "");
  for (const [m, done] of markerWaiters) if (cmd.includes(m)) done();
}

/** Once an alert raised by a command run after the load arrives, every earlier event has been evaluated. */
async function drained(): Promise<void> {
  const m = `containers-marker-${process.pid}-${++markers}`;
  const seen = new Promise<void>((resolve) => markerWaiters.set(m, resolve));
  for (let attempt = 0; ; attempt++) {
    execFileSync("sh", ["-c", `cat /etc/shadow /nonexistent-${m} > /dev/null 2>&1; true`]);
    const ok = await Promise.race([seen.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
    if (ok) break;
    if (attempt === 5) throw new Error(`marker ${m} never raised its alert`);
  }
  markerWaiters.delete(m);
}

/** 2. One churn run: CHURN containers started and stopped during a paced storm. */
async function churnRun(withEngines: boolean, storm: { bin: string; file: string }): Promise<string> {
  const d: SyscallDetector = await startSyscallDetector({
    rulesFiles: [RULES],
    logger,
    onAlert,
    kernelFilter: false,
    containerEngines: withEngines
      ? containerEnginesConfig({
          docker: { enabled: true, sockets: [DOCKER_SOCKET] },
          podman: { enabled: false },
          containerd: { enabled: false },
          cri: { enabled: false },
        })
      : false,
  });
  await d.ready;
  await drained();
  const before = d.stats();
  const sensorCpu0 = procCpuSeconds(d.sensorPid());
  const nodeCpu0 = process.cpuUsage();
  const load0 = loadavg()[0]!;
  const t0 = performance.now();
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < CHURN) {
      next++;
      const r = await runCommand("docker", ["--host", DOCKER_HOST, "run", "--rm", "--network", "none", TESTBASE.ref, "sh", "-c", "cat /etc/hostname > /dev/null; sleep 1"], { timeoutMs: 180_000 });
      if (r.status !== 0) failed++;
    }
  };
  const churn = Promise.all(Array.from({ length: CONCURRENCY }, worker));
  let churning = true;
  void churn.then(() => (churning = false));
  let syscalls = 0;
  // storms of ~2 s each, paced, until the last container is gone
  while (churning) syscalls += (await runStorm(storm.bin, storm.file, RATE, RATE)).syscalls;
  await churn;
  const churnSeconds = (performance.now() - t0) / 1000;
  await drained();
  const seconds = (performance.now() - t0) / 1000;
  const nodeCpu = process.cpuUsage(nodeCpu0);
  const sensorCpu = procCpuSeconds(d.sensorPid()) - sensorCpu0;
  await new Promise((r) => setTimeout(r, 1100));
  const after = d.stats();
  const c = after.containers;
  await d.stop();
  const events = after.eventsEvaluated - before.eventsEvaluated;
  const drops = Object.values(after.sensorDrops).reduce((a, b) => a + b, 0) - Object.values(before.sensorDrops).reduce((a, b) => a + b, 0);
  const detCpu = (nodeCpu.user + nodeCpu.system) / 1e6;
  return `| ${withEngines ? "docker engine asked" : "no engines"} | ${CHURN - failed} in ${churnSeconds.toFixed(1)} s | ${syscalls.toLocaleString("en")} | ${events.toLocaleString("en")} | ${Math.round(events / seconds).toLocaleString("en")} | ${drops} | ${detCpu.toFixed(2)} s (${((100 * detCpu) / seconds).toFixed(0)} %) | ${((detCpu / events) * 1e6).toFixed(2)} | ${sensorCpu.toFixed(2)} s | ${c ? `${c.lookups} / ${c.found} / ${c.missing} / ${c.containerEvents}` : "—"} | ${load0.toFixed(1)} |`;
}

/** 3. Heap of the cache with `n` entries, each a deep copy of `template` under its own id. */
async function cacheMemory(template: ContainerInfo, n: number): Promise<{ bytes: number; perEntry: number }> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error("run with node --expose-gc");
  let i = 0;
  const engine: ContainerEngine = {
    name: template.engine,
    socket: "synthetic",
    inspect(id) {
      const c = structuredClone(template);
      c.fullId = `${id}${randomBytes(26).toString("hex")}`;
      c.name = `${c.name}-${i++}`;
      c.labels = { ...c.labels, "io.example/instance": String(i) };
      return Promise.resolve(c);
    },
  };
  gc();
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const meta = new ContainerMetadata({ engines: [engine], logger });
  const ids = Array.from({ length: n }, () => randomBytes(6).toString("hex"));
  for (const id of ids) meta.get(id);
  for (const id of ids) await meta.resolve(id);
  gc();
  gc();
  const bytes = process.memoryUsage().heapUsed - heap0;
  if (meta.stats().containers !== n) throw new Error("cache lost entries");
  meta.close();
  return { bytes, perEntry: bytes / n };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("the containers benchmark runs containers and the eBPF sensor: run it as root");
  execFileSync(process.execPath, [join(root, "scripts", "build-sensor.mjs")], { stdio: "inherit" });
  for (const s of ["docker", "podman", "containerd-solo"]) await services.start(s);
  // one eBPF sensor at a time on the machine (the tests that load it take the same lock)
  const release = await acquireLock("sensor", 30 * 60_000);
  const cleanups: (() => Promise<unknown>)[] = [];
  try {
    // containers per engine, each sleeping while it is looked up
    const dockerIds: string[] = [];
    const podmanIds: string[] = [];
    const ctrIds: string[] = [];
    const pods: CriPod[] = [];
    for (let i = 0; i < PER_ENGINE; i++) {
      const dn = `pg-bench-${randomBytes(4).toString("hex")}`;
      cleanups.push(() => docker(["rm", "--force", dn]));
      dockerIds.push((await docker(["run", "--detach", "--name", dn, "--network", "none", "--label", "app=bench", TESTBASE.ref, "sleep", "600"])).trim());
      const pn = `pg-bench-${randomBytes(4).toString("hex")}`;
      cleanups.push(() => podmanCli(["rm", "--force", "--time=0", pn]));
      const pr = await podmanCli(["run", "--detach", `--name=${pn}`, "--network=none", "--label=app=bench", TESTBASE.ref, "sleep", "600"]);
      if (pr.status !== 0) throw new Error(`podman run: ${pr.stderr}`);
      podmanIds.push(pr.stdout.trim());
      const pod = await runPod({ labels: { app: "bench" }, containerName: "bench", command: ["sleep", "600"] });
      cleanups.push(() => pod.remove());
      pods.push(pod);
    }
    if (!(await ctr(["images", "ls", "-q"])).split("\n").includes(TESTBASE.fullRef)) await ctr(["images", "import", TESTBASE.tarball]);
    for (let i = 0; i < PER_ENGINE; i++) {
      const id = randomBytes(32).toString("hex");
      cleanups.push(async () => {
        await ctr(["tasks", "rm", "--force", id]).catch(() => undefined);
        await ctr(["containers", "rm", id]).catch(() => undefined);
      });
      await ctr(["run", "--detach", "--label", `nerdctl/name=bench-${i}`, "--label", "app=bench", TESTBASE.fullRef, id, "sleep", "600"]);
      ctrIds.push(id);
    }

    console.log(`## lookup latency (load average ${loadavg()[0]!.toFixed(1)})`);
    const lat = await latency([
      { engine: "docker", make: () => new DockerEngine("docker", DOCKER_SOCKET), ids: dockerIds },
      { engine: "podman", make: () => new DockerEngine("podman", PODMAN_SOCKET), ids: podmanIds },
      { engine: "cri", make: () => new CriEngine(CONTAINERD_SOLO_SOCKET), ids: pods.map((p) => p.containerId) },
      { engine: "containerd", make: () => new ContainerdEngine(CONTAINERD_SOLO_SOCKET), ids: ctrIds },
    ]);
    console.log(lat.rows.join("\n"));

    console.log(`\n## cache memory at ${CACHE.toLocaleString("en")} containers (synthetic entries)`);
    console.log("| entries like | containers | heap bytes | bytes per container |\n|---|---|---|---|");
    for (const [name, t] of [["docker", lat.templates["docker"]!], ["cri (with its pod)", lat.templates["cri"]!]] as const)
      for (const n of [CACHE, CACHE * 10]) {
        const r = await cacheMemory(t, n);
        console.log(`| ${name} | ${n.toLocaleString("en")} | ${r.bytes.toLocaleString("en")} | ${Math.round(r.perEntry).toLocaleString("en")} |`);
      }

    console.log(`\n## ${CHURN} containers started and stopped during a storm paced at ${RATE.toLocaleString("en")} syscalls/s (kernel filter off)`);
    console.log("| engines | containers | storm syscalls | events evaluated | events evaluated/s | kernel drops | detector CPU | detector CPU µs/event | sensor CPU | lookups / found / missing / container events | load avg at start |\n|---|---|---|---|---|---|---|---|---|---|---|");
    const storm = buildStorm();
    for (const withEngines of [true, false, true, false]) console.log(await churnRun(withEngines, storm));
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    release();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
