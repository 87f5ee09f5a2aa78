/**
 * `detector.container_engines`: which container engines the detector asks for metadata, on
 * which sockets, like the container plugin's `engines` config. Every engine is on by default
 * at its default sockets; a socket that does not exist is simply down (one log line).
 */
import { joinPath, s } from "../../config/schema.js";
import { ContainerdEngine } from "./containerd.js";
import { CriEngine } from "./cri.js";
import { DockerEngine } from "./docker.js";
import type { ContainerEngine, EngineName } from "./types.js";

export const ENGINE_NAMES: readonly EngineName[] = ["docker", "podman", "containerd", "cri"];

export const DEFAULT_SOCKETS: Readonly<Record<EngineName, readonly string[]>> = {
  docker: ["/var/run/docker.sock"],
  podman: ["/run/podman/podman.sock"],
  containerd: ["/run/containerd/containerd.sock"],
  cri: ["/run/containerd/containerd.sock", "/run/crio/crio.sock", "/run/k3s/containerd/containerd.sock"],
};

/**
 * The order engines are asked in: cri before containerd, so a Kubernetes container (which
 * containerd's own API also lists, in its k8s.io namespace) gets its pod's fields from the CRI
 * API; containerd's own API answers for containers made outside Kubernetes (ctr, nerdctl).
 */
export const QUERY_ORDER: readonly EngineName[] = ["docker", "podman", "cri", "containerd"];

const engineSchema = (name: EngineName) =>
  s
    .object({
      enabled: s.boolean().default(true).describe(`Ask ${name} for container metadata.`),
      sockets: s
        .array(s.string())
        .optional()
        .describe(`Unix sockets to ask, in order. Default: ${DEFAULT_SOCKETS[name].join(", ")}.`),
    })
    .optional();

export const containerEnginesSchema = s
  .object({
    docker: engineSchema("docker"),
    podman: engineSchema("podman"),
    containerd: engineSchema("containerd"),
    cri: engineSchema("cri"),
  })
  .refine((v, ctx, path) => {
    for (const name of ENGINE_NAMES) {
      const e = v[name];
      for (const [i, sock] of (e?.sockets ?? []).entries())
        if (!sock.startsWith("/")) ctx.error(joinPath(joinPath(joinPath(path, name), "sockets"), String(i)), `must be an absolute socket path, got ${JSON.stringify(sock)}`);
    }
  })
  .describe("Container engines asked for container.* metadata: docker, podman (its Docker-compatible socket), containerd, cri; each {enabled, sockets}.");

export interface EngineConfig {
  enabled: boolean;
  sockets: string[];
}

export type ContainerEnginesConfig = Record<EngineName, EngineConfig>;

/** Fills defaults: engines not named are enabled at their default sockets. */
export function containerEnginesConfig(v: Partial<Record<EngineName, { enabled?: boolean; sockets?: string[] } | undefined>> | undefined): ContainerEnginesConfig {
  const out = {} as ContainerEnginesConfig;
  for (const name of ENGINE_NAMES) {
    const e = v?.[name];
    out[name] = { enabled: e?.enabled ?? true, sockets: e?.sockets ?? [...DEFAULT_SOCKETS[name]] };
  }
  return out;
}

/** One client per enabled engine socket, in QUERY_ORDER. */
export function createEngines(cfg: ContainerEnginesConfig): ContainerEngine[] {
  const out: ContainerEngine[] = [];
  for (const name of QUERY_ORDER) {
    const e = cfg[name];
    if (!e.enabled) continue;
    for (const sock of e.sockets)
      out.push(name === "cri" ? new CriEngine(sock) : name === "containerd" ? new ContainerdEngine(sock) : new DockerEngine(name, sock));
  }
  return out;
}
