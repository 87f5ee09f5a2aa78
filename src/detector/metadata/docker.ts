/**
 * Docker Engine API over its unix socket (also Podman's Docker-compatible socket): one
 * `GET /containers/{id}/json` per container, and `GET /images/{id}/json` once per image for
 * its registry digest.
 */
import { Agent, request } from "undici";
import { EngineDownError, splitImage, type ContainerEngine, type ContainerInfo, type ContainerMount, type EngineName } from "./types.js";

interface InspectMount {
  Source?: string;
  Destination?: string;
  Mode?: string;
  RW?: boolean;
  Propagation?: string;
}

interface Inspect {
  Id: string;
  Name?: string;
  Image?: string;
  Created?: string;
  State?: { StartedAt?: string };
  Config?: { Image?: string; Labels?: Record<string, string> | null };
  HostConfig?: { Privileged?: boolean; PidMode?: string; NetworkMode?: string; IpcMode?: string };
  Mounts?: InspectMount[] | null;
  NetworkSettings?: { IPAddress?: string; Networks?: Record<string, { IPAddress?: string }> | null };
}

const TIMEOUT_MS = 5000;

/** An RFC 3339 time with up to nanoseconds as ns since epoch; undefined for Docker's zero time. */
export function rfc3339ToNs(text: string | undefined): bigint | undefined {
  if (!text || text.startsWith("0001-")) return undefined;
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (!m) return undefined;
  const ms = Date.parse(`${m[1]}${m[3]}`);
  if (!Number.isFinite(ms)) return undefined;
  const frac = (m[2] ?? "").padEnd(9, "0").slice(0, 9);
  return BigInt(ms) * 1_000_000n + BigInt(frac);
}

export function dockerInfo(engine: EngineName, j: Inspect, digest: string | undefined): ContainerInfo {
  const image = j.Config?.Image ?? "";
  const split = splitImage(image);
  const imageId = (j.Image ?? "").replace(/^sha256:/, "").slice(0, 12);
  const mounts: ContainerMount[] = (j.Mounts ?? []).map((m) => ({
    source: m.Source ?? "",
    dest: m.Destination ?? "",
    mode: m.Mode ?? "",
    rdwr: m.RW ?? false,
    propagation: m.Propagation ?? "",
  }));
  const hc = j.HostConfig ?? {};
  let ip = j.NetworkSettings?.IPAddress || undefined;
  if (!ip) for (const n of Object.values(j.NetworkSettings?.Networks ?? {})) if (n.IPAddress) ip = ip ?? n.IPAddress;
  const startNs = rfc3339ToNs(j.State?.StartedAt);
  return {
    type: engine === "podman" ? "podman" : "docker",
    engine,
    fullId: j.Id,
    name: (j.Name ?? "").replace(/^\//, ""),
    image,
    imageId,
    imageRepository: split.repository,
    // an image named without a tag is the engine's "latest"
    imageTag: split.tag || (split.digest ? "" : "latest"),
    ...(split.digest ?? digest ? { imageDigest: split.digest ?? digest } : {}),
    privileged: hc.Privileged === true,
    mounts,
    ...(startNs !== undefined ? { startNs } : {}),
    ...(ip ? { ip } : {}),
    hostPid: hc.PidMode === "host",
    hostNetwork: hc.NetworkMode === "host",
    hostIpc: hc.IpcMode === "host",
    labels: { ...(j.Config?.Labels ?? {}) },
  };
}

export class DockerEngine implements ContainerEngine {
  private readonly agent: Agent;
  /** Registry digest by image id ("" when it has none), asked once per image. */
  private readonly digests = new Map<string, string>();

  constructor(
    readonly name: "docker" | "podman",
    readonly socket: string,
  ) {
    this.agent = new Agent({ connect: { socketPath: socket }, keepAliveTimeout: 10_000 });
  }

  private async get(path: string): Promise<{ status: number; body: string }> {
    try {
      const res = await request(`http://localhost${path}`, {
        dispatcher: this.agent,
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
      return { status: res.statusCode, body: await res.body.text() };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      throw new EngineDownError(this.name, this.socket, e.code ? `${e.code}: ${e.message}` : e.message);
    }
  }

  async inspect(id: string): Promise<ContainerInfo | undefined> {
    const r = await this.get(`/containers/${encodeURIComponent(id)}/json`);
    if (r.status === 404) return undefined;
    if (r.status !== 200) throw new EngineDownError(this.name, this.socket, `HTTP ${r.status}: ${r.body.slice(0, 200)}`);
    const j = JSON.parse(r.body) as Inspect;
    return dockerInfo(this.name, j, await this.digest(j.Image, j.Config?.Image ?? ""));
  }

  /** The image's registry digest for the repository it was named by (Falco's container.image.digest). */
  private async digest(imageId: string | undefined, image: string): Promise<string | undefined> {
    if (!imageId) return undefined;
    let d = this.digests.get(imageId);
    if (d === undefined) {
      d = "";
      const r = await this.get(`/images/${encodeURIComponent(imageId)}/json`);
      if (r.status === 200) {
        const digests = (JSON.parse(r.body) as { RepoDigests?: string[] | null }).RepoDigests ?? [];
        const repo = splitImage(image).repository;
        const hit = digests.find((x) => x.startsWith(`${repo}@`)) ?? digests[0];
        if (hit) d = hit.slice(hit.indexOf("@") + 1);
      }
      this.digests.set(imageId, d);
    }
    return d || undefined;
  }

  close(): void {
    void this.agent.close();
  }
}
