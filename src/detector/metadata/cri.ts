/**
 * The CRI engine (containerd's CRI plugin, CRI-O): `ContainerStatus` (verbose, for the
 * privileged flag and the sandbox id in its info JSON) and `PodSandboxStatus` (the pod's
 * name, namespace, uid, labels, IP, host namespaces and CNI result), over the CRI gRPC API
 * (k8s.io/cri-api runtime/v1) on the engine's unix socket. A pod sandbox's own id (its pause
 * process) answers with the pod's fields only, as Falco gives it.
 */
import { callFailure, GRPC_NOT_FOUND, GrpcError, pb, UnixGrpcClient, type Fields } from "./grpc.js";
import { EngineDownError, splitImage, type ContainerEngine, type ContainerInfo, type ContainerMount, type PodInfo } from "./types.js";

const SERVICE = "/runtime.v1.RuntimeService";
/** NamespaceMode.NODE: the host's namespace. */
const NODE = 2n;
const PROPAGATION = ["private", "rslave", "rshared"];

interface Sandbox {
  pod: PodInfo;
  hostNetwork: boolean;
  hostPid: boolean;
  hostIpc: boolean;
}

interface VerboseInfo {
  sandboxID?: string;
  config?: { linux?: { security_context?: { privileged?: boolean } } };
}

export class CriEngine implements ContainerEngine {
  readonly name = "cri" as const;
  private readonly client: UnixGrpcClient;
  /** Pod sandboxes by full id: asked once per pod. */
  private readonly sandboxes = new Map<string, Sandbox>();

  constructor(readonly socket: string) {
    this.client = new UnixGrpcClient(socket);
  }

  /** containerd or cri-o, as Falco's container.type names them, from the socket's path. */
  private get type(): string {
    return /crio/.test(this.socket) ? "cri-o" : /containerd/.test(this.socket) ? "containerd" : "cri";
  }

  private async call(method: string, req: Buffer): Promise<Fields | undefined> {
    try {
      return await this.client.call(`${SERVICE}/${method}`, req);
    } catch (err) {
      if (err instanceof GrpcError && err.status === GRPC_NOT_FOUND) return undefined;
      throw new EngineDownError("cri", this.socket, callFailure(err));
    }
  }

  private async sandbox(id: string): Promise<Sandbox | undefined> {
    const hit = this.sandboxes.get(id);
    if (hit) return hit;
    const res = await this.call("PodSandboxStatus", Buffer.concat([pb.str(1, id), pb.int(2, true)]));
    const st = res?.msg(1);
    if (!res || !st) return undefined;
    const meta = st.msg(2);
    const opts = st.msg(6)?.msg(1)?.msg(2); // linux.namespaces.options
    let cniJson: string | undefined;
    try {
      const info = JSON.parse(res.map(2)["info"] ?? "{}") as { cniResult?: unknown };
      if (info.cniResult) cniJson = JSON.stringify(info.cniResult);
    } catch {
      // no verbose info: the field stays <NA>
    }
    const ip = st.msg(5)?.str(1) || undefined;
    const sb: Sandbox = {
      pod: {
        name: meta?.str(1) ?? "",
        uid: meta?.str(2) ?? "",
        namespace: meta?.str(3) ?? "",
        fullSandboxId: st.str(1),
        labels: st.map(7),
        ...(ip ? { ip } : {}),
        ...(cniJson ? { cniJson } : {}),
      },
      hostNetwork: opts?.int(1) === NODE,
      hostPid: opts?.int(2) === NODE,
      hostIpc: opts?.int(3) === NODE,
    };
    // pods come and go: a node's few hundred fit; past that, start over rather than grow
    if (this.sandboxes.size > 4096) this.sandboxes.clear();
    this.sandboxes.set(id, sb);
    if (sb.pod.fullSandboxId) this.sandboxes.set(sb.pod.fullSandboxId, sb);
    return sb;
  }

  async inspect(id: string): Promise<ContainerInfo | undefined> {
    const res = await this.call("ContainerStatus", Buffer.concat([pb.str(1, id), pb.int(2, true)]));
    const st = res?.msg(1);
    if (!res || !st) {
      // the pod sandbox's own processes (pause): the pod's fields only
      const sb = await this.sandbox(id);
      if (!sb) return undefined;
      return this.info(sb.pod.fullSandboxId, "", "", "", false, [], undefined, {}, sb);
    }
    let verbose: VerboseInfo = {};
    try {
      verbose = JSON.parse(res.map(2)["info"] ?? "{}") as VerboseInfo;
    } catch {
      // an engine without verbose info: privileged and the pod stay <NA>-free defaults
    }
    const sb = verbose.sandboxID ? await this.sandbox(verbose.sandboxID) : undefined;
    const mounts: ContainerMount[] = st.msgs(14).map((m) => ({
      source: m.str(2),
      dest: m.str(1),
      mode: "",
      rdwr: !m.bool(3),
      propagation: PROPAGATION[Number(m.int(5))] ?? "",
    }));
    const started = st.int(5);
    return this.info(
      st.str(1),
      st.msg(2)?.str(1) ?? "",
      st.msg(8)?.str(1) ?? "",
      st.str(9),
      verbose.config?.linux?.security_context?.privileged === true,
      mounts,
      started > 0n ? started : undefined,
      st.map(12),
      sb,
    );
  }

  private info(
    fullId: string,
    name: string,
    image: string,
    imageRef: string,
    privileged: boolean,
    mounts: ContainerMount[],
    startNs: bigint | undefined,
    labels: Record<string, string>,
    sb: Sandbox | undefined,
  ): ContainerInfo {
    const split = splitImage(image);
    const digest = imageRef.includes("@") ? imageRef.slice(imageRef.indexOf("@") + 1) : split.digest;
    return {
      type: this.type,
      engine: "cri",
      fullId,
      name,
      image,
      imageId: imageRef.replace(/^.*sha256:/, "").slice(0, 12),
      imageRepository: split.repository,
      imageTag: split.tag || (image && !split.digest ? "latest" : ""),
      ...(digest ? { imageDigest: digest } : {}),
      privileged,
      mounts,
      ...(startNs !== undefined ? { startNs } : {}),
      ...(sb?.pod.ip ? { ip: sb.pod.ip } : {}),
      ...(sb?.pod.cniJson ? { cniJson: sb.pod.cniJson } : {}),
      hostPid: sb?.hostPid ?? false,
      hostNetwork: sb?.hostNetwork ?? false,
      hostIpc: sb?.hostIpc ?? false,
      labels,
      ...(sb ? { pod: sb.pod } : {}),
    };
  }

  close(): void {
    this.client.close();
  }
}
