/**
 * What a container engine tells about one container: the values behind Falco's container
 * plugin fields (container.*, and the CRI pod sandbox's k8s.* fields).
 */
import { PeregrineError } from "../../errors.js";

export interface ContainerMount {
  source: string;
  dest: string;
  /** The engine's mode text (e.g. "ro", "z", "" ). */
  mode: string;
  rdwr: boolean;
  /** rprivate, rshared, ... ("" when the engine gives none). */
  propagation: string;
}

export interface PodInfo {
  name: string;
  namespace: string;
  uid: string;
  fullSandboxId: string;
  labels: Record<string, string>;
  ip?: string;
  cniJson?: string;
}

export type EngineName = "docker" | "podman" | "containerd" | "cri";

export interface ContainerInfo {
  /** container.type: docker, podman, containerd, cri-o, ... */
  type: string;
  /** The engine that answered (its config name). */
  engine: EngineName;
  fullId: string;
  name: string;
  /** As the container was created from (e.g. peregrine/testbase:bookworm). */
  image: string;
  /** 12 hex digits of the image's id. */
  imageId: string;
  imageRepository: string;
  imageTag: string;
  imageDigest?: string;
  privileged: boolean;
  mounts: ContainerMount[];
  /** Wall-clock start (ns since epoch), when the engine gives it. */
  startNs?: bigint;
  ip?: string;
  cniJson?: string;
  hostPid: boolean;
  hostNetwork: boolean;
  hostIpc: boolean;
  labels: Record<string, string>;
  pod?: PodInfo;
}

/** One engine endpoint: looks one container up by its (12-digit or full) id. */
export interface ContainerEngine {
  readonly name: EngineName;
  /** The socket it talks to, for logs. */
  readonly socket: string;
  /**
   * The container's metadata; undefined when this engine does not know the id. Throws
   * (EngineDownError) when the engine cannot be asked at all.
   */
  inspect(id: string): Promise<ContainerInfo | undefined>;
  close?(): void;
}

/** The engine cannot be asked (socket missing, refused, timed out, or an error answer). */
export class EngineDownError extends PeregrineError {
  constructor(
    readonly engine: EngineName,
    readonly socket: string,
    message: string,
  ) {
    super("CONTAINER_ENGINE_DOWN", message);
    this.name = "EngineDownError";
  }
}

/** Splits an image reference into repository and tag as Falco does ("a/b:t@sha256:..."). */
export function splitImage(ref: string): { repository: string; tag: string; digest?: string } {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  // a colon after the last slash is the tag; one before it is a registry port
  const slash = rest.lastIndexOf("/");
  const colon = rest.lastIndexOf(":");
  if (colon > slash) return { repository: rest.slice(0, colon), tag: rest.slice(colon + 1), ...(digest ? { digest } : {}) };
  return { repository: rest, tag: "", ...(digest ? { digest } : {}) };
}
