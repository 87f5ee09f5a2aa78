/**
 * The harness's API: provision, start, stop and inspect the real services tests use.
 *
 *   import { services } from "../harness/services.js";
 *   await services.stop("kafka");   // mid-stream outage
 *   await services.start("kafka");  // resolves once the broker answers again
 */
import { alertmanager } from "./services/alertmanager.js";
import { containerd, containerdSolo } from "./services/containerd.js";
import { docker } from "./services/docker.js";
import { etcd } from "./services/etcd.js";
import { kafka } from "./services/kafka.js";
import { kubernetes } from "./services/kubernetes.js";
import { podman } from "./services/podman.js";
import { redis } from "./services/redis.js";
import { nats } from "./services/nats.js";
import { registry, registryAuth } from "./services/registry.js";
import { s3 } from "./services/s3.js";
import type { ServiceDef } from "./services/types.js";
import { victorialogs, victorialogsAuth } from "./services/victorialogs.js";
import { acquireLock, withLock } from "./lock.js";
import { HarnessError, portOpen, runningPid, stopDaemon, waitUntil } from "./proc.js";

export const SERVICES: readonly ServiceDef[] = [kafka, victorialogs, victorialogsAuth, s3, alertmanager, containerd, containerdSolo, docker, podman, registry, registryAuth, etcd, kubernetes, redis, nats];
export type ServiceName = "kafka" | "victorialogs" | "victorialogs-auth" | "s3" | "alertmanager" | "containerd" | "containerd-solo" | "docker" | "registry" | "registry-auth" | "etcd" | "kubernetes" | "redis" | "nats";
export const SERVICE_NAMES = SERVICES.map((s) => s.name) as ServiceName[];

export function serviceDef(name: string): ServiceDef {
  const def = SERVICES.find((s) => s.name === name);
  if (!def) throw new HarnessError(`unknown service "${name}"; known: ${SERVICE_NAMES.join(", ")}`);
  return def;
}

export type ServiceState = "running" | "external" | "stopped";

export interface ServiceStatus {
  name: string;
  state: ServiceState;
  pid?: number;
  summary: string;
}

/** "external": something we did not start answers on the service's port (e.g. another clone's harness). */
export async function status(name: string): Promise<ServiceStatus> {
  const def = serviceDef(name);
  const pid = runningPid(def.name);
  if (pid !== undefined) return { name, state: "running", pid, summary: def.summary };
  const open = await Promise.all(def.ports.map((p) => portOpen(p)));
  if (open.some(Boolean)) return { name, state: "external", summary: def.summary };
  return { name, state: "stopped", summary: def.summary };
}

/** Provisions (cached) and starts the service unless it already runs; resolves when it answers. */
export async function start(name: string): Promise<void> {
  const def = serviceDef(name);
  for (const r of def.requires ?? []) await start(r);
  await withLock(`service-${def.name}`, async () => {
    await def.provision();
    if (runningPid(def.name) === undefined) {
      const busy = [];
      for (const p of def.ports) if (await portOpen(p)) busy.push(p);
      if (busy.length > 0) {
        if (await def.ready()) return; // someone else's instance of the same service: use it
        throw new HarnessError(`${def.name}: port ${busy.join(", ")} is taken by another program`);
      }
      def.spawn();
    }
    await waitUntil(def.name, "readiness", () => def.ready(), def.readyTimeoutMs);
  });
}

/** Stops the service (SIGTERM, then SIGKILL after a grace period); true if it was running. */
export async function stop(name: string): Promise<boolean> {
  const def = serviceDef(name);
  return withLock(`service-${def.name}`, async () => {
    if (runningPid(def.name) === undefined && (await status(name)).state === "external")
      throw new HarnessError(`${def.name} was not started by this harness; stop it where it was started`);
    const stopped = await stopDaemon(def.name);
    // The OS frees a listening port a moment after the process exits.
    for (let i = 0; i < 100 && (await Promise.all(def.ports.map((p) => portOpen(p)))).some(Boolean); i++)
      await new Promise((r) => setTimeout(r, 100));
    return stopped;
  });
}

/** Kills the service without a graceful shutdown (SIGKILL at once), like a crash. */
export async function kill(name: string): Promise<void> {
  const def = serviceDef(name);
  await withLock(`service-${def.name}`, async () => {
    await stopDaemon(def.name, 0);
  });
}

export async function restart(name: string): Promise<void> {
  await stop(name);
  await start(name);
}

export async function ready(name: string): Promise<boolean> {
  return serviceDef(name).ready();
}

/** Starts several services; provisioning runs one at a time (two cores), starts overlap. */
export async function up(names: readonly string[] = SERVICE_NAMES): Promise<void> {
  for (const n of names) await serviceDef(n).provision();
  await Promise.all(names.map((n) => start(n)));
}

export async function down(names: readonly string[] = SERVICE_NAMES): Promise<void> {
  await Promise.all(names.map((n) => stop(n)));
}

/**
 * For a test file that stops/restarts a service or needs it up throughout: call in
 * beforeAll and release in afterAll. Files using the same service then run one at a time
 * (vitest runs files in parallel forks), so a restart in one never breaks another.
 */
export async function useExclusively(name: string): Promise<() => void> {
  serviceDef(name);
  return acquireLock(`use-${name}`);
}

export const services = { start, stop, kill, restart, status, ready, up, down, useExclusively };
