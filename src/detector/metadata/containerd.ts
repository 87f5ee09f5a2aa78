/**
 * containerd's own API, for containers made outside Kubernetes (`ctr run`, nerdctl): the
 * container record (containers.v1), looked for in every namespace (namespaces.v1 List), and
 * its image's target digest (images.v1), over gRPC on containerd's unix socket; the namespace
 * goes in the `containerd-namespace` request header. The field numbers are those of
 * containerd's api/services/{namespaces,containers,images}/v1 protos.
 *
 * The values follow Falco's container plugin: the OCI runtime spec in the record (JSON in a
 * protobuf Any) gives the mounts (mode from a `mode=` option, read-write unless `ro`,
 * propagation from the spec's rootfs propagation), the host namespaces (a pid, network or ipc
 * namespace the spec does not list is the host's) and the privileged flag (no masked or
 * read-only paths, no seccomp, SELinux or AppArmor confinement, and sysfs or cgroup mounted
 * read-write). The name is nerdctl's `nerdctl/name` label when there is one, else the short id,
 * as the plugin names a containerd container; container.start_ts is the record's creation time.
 * containerd keeps no image id of the kind Docker reports: container.image.id stays <NA>.
 */
import { callFailure, GRPC_NOT_FOUND, GrpcError, pb, UnixGrpcClient, type Fields } from "./grpc.js";
import { EngineDownError, splitImage, type ContainerEngine, type ContainerInfo, type ContainerMount } from "./types.js";

interface OciMount {
  destination?: string;
  type?: string;
  source?: string;
  options?: string[] | null;
}

interface OciSpec {
  process?: { selinuxLabel?: string; apparmorProfile?: string } | null;
  mounts?: OciMount[] | null;
  linux?: {
    namespaces?: { type?: string }[] | null;
    maskedPaths?: string[] | null;
    readonlyPaths?: string[] | null;
    seccomp?: unknown;
    rootfsPropagation?: string;
  } | null;
  annotations?: Record<string, string> | null;
}

/** The label nerdctl names its containers by. */
export const NERDCTL_NAME_LABEL = "nerdctl/name";

/** Falco's reading of containerd's `--privileged` spec (containerd's oci.WithPrivileged undoes exactly these). */
export function specIsPrivileged(spec: OciSpec): boolean {
  const l = spec.linux;
  const p = spec.process;
  if (!l || !p) return false;
  if (l.maskedPaths != null || l.readonlyPaths != null || l.seccomp != null) return false;
  if (p.selinuxLabel) return false;
  if (p.apparmorProfile && p.apparmorProfile !== "unconfined") return false;
  return !(spec.mounts ?? []).some((m) => (m.type === "sysfs" || m.type === "cgroup") && (m.options ?? []).includes("ro"));
}

/** The ContainerInfo of a containerd container record (containers.v1 Container) and its image's digest. */
export function containerdInfo(rec: Fields, digest: string | undefined): ContainerInfo {
  const fullId = rec.str(1);
  const labels = rec.map(2);
  const image = rec.str(3);
  let spec: OciSpec = {};
  try {
    const any = rec.msg(5);
    if (any) spec = JSON.parse(any.raw.get(2)?.filter(Buffer.isBuffer)[0]?.toString("utf8") ?? "{}") as OciSpec;
  } catch {
    // a spec that is not JSON: defaults below (unprivileged, no mounts, host namespaces unknown)
  }
  const propagation = spec.linux?.rootfsPropagation ?? "";
  const mounts: ContainerMount[] = (spec.mounts ?? []).map((m) => {
    const opts = m.options ?? [];
    const mode = opts.find((o) => o.startsWith("mode="));
    return { source: m.source ?? "", dest: m.destination ?? "", mode: mode ? mode.slice(5) : "", rdwr: !opts.includes("ro"), propagation };
  });
  const nsTypes = new Set((spec.linux?.namespaces ?? []).map((n) => n.type));
  const created = rec.msg(8);
  const startNs = created ? created.int(1) * 1_000_000_000n + created.int(2) : undefined;
  const split = splitImage(image);
  const name = labels[NERDCTL_NAME_LABEL] || fullId.slice(0, 12);
  return {
    type: "containerd",
    engine: "containerd",
    fullId,
    name,
    image,
    imageId: "",
    imageRepository: split.repository,
    imageTag: split.tag || (image && !split.digest ? "latest" : ""),
    ...((split.digest ?? digest) ? { imageDigest: split.digest ?? digest } : {}),
    privileged: specIsPrivileged(spec),
    mounts,
    ...(startNs !== undefined && startNs > 0n ? { startNs } : {}),
    hostPid: spec.linux ? !nsTypes.has("pid") : false,
    hostNetwork: spec.linux ? !nsTypes.has("network") : false,
    hostIpc: spec.linux ? !nsTypes.has("ipc") : false,
    labels,
  };
}

const NAMESPACES = "/containerd.services.namespaces.v1.Namespaces/List";
const CONTAINERS = "/containerd.services.containers.v1.Containers";
const IMAGES = "/containerd.services.images.v1.Images/Get";

export class ContainerdEngine implements ContainerEngine {
  readonly name = "containerd" as const;
  private readonly client: UnixGrpcClient;
  /** Image target digests by namespace and image name ("" when it has none), asked once per image. */
  private readonly digests = new Map<string, string>();

  constructor(readonly socket: string) {
    this.client = new UnixGrpcClient(socket);
  }

  private async call(path: string, req: Buffer, namespace?: string): Promise<Fields | undefined> {
    try {
      return await this.client.call(path, req, namespace ? { "containerd-namespace": namespace } : {});
    } catch (err) {
      if (err instanceof GrpcError && err.status === GRPC_NOT_FOUND) return undefined;
      throw new EngineDownError("containerd", this.socket, callFailure(err));
    }
  }

  /** Every namespace's container record whose id is `id` or starts with it (the cgroup gives 12 digits). */
  private async find(id: string): Promise<{ namespace: string; rec: Fields } | undefined> {
    const list = await this.call(NAMESPACES, Buffer.alloc(0));
    for (const ns of list?.msgs(1) ?? []) {
      const namespace = ns.str(1);
      if (id.length === 64) {
        const rec = (await this.call(`${CONTAINERS}/Get`, pb.str(1, id), namespace))?.msg(1);
        if (rec) return { namespace, rec };
        continue;
      }
      // a prefix: containerd's filter syntax, a regular expression on the id (hex digits only)
      if (!/^[0-9a-f]+$/.test(id)) return undefined;
      const res = await this.call(`${CONTAINERS}/List`, pb.str(1, `id~="^${id}"`), namespace);
      const rec = res?.msgs(1).find((c) => c.str(1).startsWith(id));
      if (rec) return { namespace, rec };
    }
    return undefined;
  }

  private async digest(namespace: string, image: string): Promise<string | undefined> {
    if (!image) return undefined;
    const k = `${namespace}\0${image}`;
    let d = this.digests.get(k);
    if (d === undefined) {
      const res = await this.call(IMAGES, pb.str(1, image), namespace);
      d = res?.msg(1)?.msg(3)?.str(2) ?? "";
      if (this.digests.size > 4096) this.digests.clear();
      this.digests.set(k, d);
    }
    return d || undefined;
  }

  async inspect(id: string): Promise<ContainerInfo | undefined> {
    const hit = await this.find(id);
    if (!hit) return undefined;
    return containerdInfo(hit.rec, await this.digest(hit.namespace, hit.rec.str(3)));
  }

  close(): void {
    this.client.close();
  }
}
