/**
 * Falco's container plugin fields (container.*, and the k8s.* fields a CRI engine gives from
 * the pod sandbox), answered from the container metadata cache (manager.ts). container.id
 * comes from the cgroup path at once; everything else is `<NA>` until the engine lookup has
 * completed, and always for a container no engine knows. A process on the host has
 * container.id and container.name "host".
 */
import { globToRegExp } from "../compiler/values.js";
import type { ExtractedValue, FieldInfo } from "../event.js";
import type { ContainerInfo, ContainerMount } from "./types.js";

function f(name: string, type: FieldInfo["type"], description: string, extra: Partial<FieldInfo> = {}): FieldInfo {
  return { name, type, description, ...extra };
}

const ENGINES = "(docker, podman, containerd, cri)";
const MOUNT_ARG = { arg: "required" as const };

export const CONTAINER_FIELD_LIST: readonly FieldInfo[] = [
  f("container.id", "string", "Container id (12 characters) from the process's cgroup path (any engine, no lookup), or 'host'."),
  f("container.full_id", "string", `Full container id ${ENGINES}.`),
  f("container.name", "string", `Container name ${ENGINES}; for containerd, nerdctl's nerdctl/name label or else the short id; 'host' on the host.`),
  f("container.image", "string", `Image as the container was created from, e.g. repo/name:tag ${ENGINES}.`),
  f("container.image.id", "string", "Image id, 12 characters (docker, podman, cri); <NA> for containerd's own API, which keeps none."),
  f("container.image.repository", "string", `Image repository, e.g. repo/name ${ENGINES}.`),
  f("container.image.tag", "string", `Image tag (latest when the image was named without one) ${ENGINES}.`),
  f("container.image.digest", "string", `Image registry digest (sha256:...) when the image has one (for containerd, the image's target digest) ${ENGINES}.`),
  f("container.type", "string", `Container engine type: docker, podman, containerd or cri-o ${ENGINES}.`),
  f("container.privileged", "bool", `True when the container runs privileged ${ENGINES}.`),
  f("container.mounts", "string", `Mounts, space separated, each source:dest:mode:rdwr:propagation ${ENGINES}.`),
  f("container.mount", "string", `One mount (source:dest:mode:rdwr:propagation) by index (container.mount[0]) or by source path or glob; 'none' when there is no such mount ${ENGINES}.`, MOUNT_ARG),
  f("container.mount.source", "string", `A mount's source, by index or by destination path or glob ${ENGINES}.`, MOUNT_ARG),
  f("container.mount.dest", "string", `A mount's destination, by index or by source path or glob ${ENGINES}.`, MOUNT_ARG),
  f("container.mount.mode", "string", `A mount's mode, by index or by source path or glob ${ENGINES}.`, MOUNT_ARG),
  f("container.mount.rdwr", "string", `A mount's read-write flag (true/false), by index or by source path or glob ${ENGINES}.`, MOUNT_ARG),
  f("container.mount.propagation", "string", `A mount's propagation, by index or by source path or glob ${ENGINES}.`, MOUNT_ARG),
  f("container.start_ts", "abstime", `Container start, ns since the epoch, as the engine reports it (containerd: the container's creation) ${ENGINES}.`),
  f("container.duration", "reltime", `Nanoseconds from container.start_ts to the event ${ENGINES}.`),
  f("container.ip", "string", "The container's (for cri, its pod's) primary IP address (docker, podman, cri); <NA> without one (host or no network) and for containerd."),
  f("container.cni.json", "string", "The pod's CNI result as JSON, from the sandbox's verbose status (cri); <NA> for a host-network pod or another engine."),
  f("container.host_pid", "bool", `True when the container shares the host's pid namespace ${ENGINES}.`),
  f("container.host_network", "bool", `True when the container shares the host's network namespace ${ENGINES}.`),
  f("container.host_ipc", "bool", `True when the container shares the host's IPC namespace ${ENGINES}.`),
  f("container.label", "string", `One container label (container.label[foo] or container.label.foo) ${ENGINES}.`, { arg: "required", dottedArg: true }),
  f("container.labels", "string", `Container labels as key:value pairs, comma separated ${ENGINES}.`),
  f("k8s.pod.sandbox_id", "string", "Pod sandbox id, 12 characters (cri)."),
  f("k8s.pod.full_sandbox_id", "string", "Full pod sandbox id (cri)."),
  f("k8s.pod.cni.json", "string", "The pod's CNI result as JSON (cri); <NA> for a host-network pod."),
];

export const CONTAINER_FIELD_NAMES: ReadonlySet<string> = new Set(CONTAINER_FIELD_LIST.map((x) => x.name));

/** What the extractors need from an event. */
export interface ContainerView<E> {
  containerId(e: E): string;
  /** The cached metadata; never waits for a lookup. */
  info(e: E): ContainerInfo | undefined;
  /** The event's wall-clock time, ns since the epoch. */
  timeNs(e: E): bigint;
}

type X<E> = (e: E) => ExtractedValue | undefined;

const mountText = (m: ContainerMount) => `${m.source}:${m.dest}:${m.mode}:${m.rdwr}:${m.propagation}`;

/** A mount by index ("0") or by a path or glob compared with `key` of each mount. */
function findMount(mounts: readonly ContainerMount[], arg: string, key: "source" | "dest"): ContainerMount | undefined {
  if (/^\d+$/.test(arg)) return mounts[Number(arg)];
  if (/[*?[]/.test(arg)) {
    const re = globToRegExp(arg, false);
    return mounts.find((m) => re.test(m[key]));
  }
  return mounts.find((m) => m[key] === arg);
}

/** The extractor for one container field, or undefined when `field` is not one. */
export function containerExtractor<E>(field: string, arg: string | undefined, v: ContainerView<E>): X<E> | undefined {
  if (!CONTAINER_FIELD_NAMES.has(field)) return undefined;
  const HOST = "host";
  const on = (get: (c: ContainerInfo, e: E) => ExtractedValue | undefined): X<E> => (e) => {
    const c = v.info(e);
    return c ? get(c, e) : undefined;
  };
  switch (field) {
    case "container.id":
      return (e) => v.containerId(e);
    case "container.full_id":
      return on((c) => c.fullId);
    case "container.name":
      // a pod sandbox's own processes have no container name
      return (e) => (v.containerId(e) === HOST ? HOST : v.info(e)?.name || undefined);
    case "container.image":
      return on((c) => c.image || undefined);
    case "container.image.id":
      return on((c) => c.imageId || undefined);
    case "container.image.repository":
      return on((c) => c.imageRepository || undefined);
    case "container.image.tag":
      return on((c) => c.imageTag || undefined);
    case "container.image.digest":
      return on((c) => c.imageDigest);
    case "container.type":
      return on((c) => c.type);
    case "container.privileged":
      return on((c) => c.privileged);
    case "container.mounts":
      return on((c) => c.mounts.map(mountText).join(" "));
    case "container.mount":
      return on((c) => {
        const m = arg === undefined ? undefined : findMount(c.mounts, arg, "source");
        return m ? mountText(m) : "none";
      });
    case "container.mount.source":
    case "container.mount.dest":
    case "container.mount.mode":
    case "container.mount.rdwr":
    case "container.mount.propagation": {
      const part = field.slice("container.mount.".length) as "source" | "dest" | "mode" | "rdwr" | "propagation";
      // mount.source is looked up by destination, the others by source
      const key = part === "source" ? "dest" : "source";
      return on((c) => {
        const m = arg === undefined ? undefined : findMount(c.mounts, arg, key);
        return m ? String(m[part]) : undefined;
      });
    }
    case "container.start_ts":
      return on((c) => (c.startNs !== undefined ? Number(c.startNs) : undefined));
    case "container.duration":
      return on((c, e) => (c.startNs !== undefined ? Number(v.timeNs(e) - c.startNs) : undefined));
    case "container.ip":
      return on((c) => c.ip);
    case "container.cni.json":
      return on((c) => c.cniJson);
    case "container.host_pid":
      return on((c) => c.hostPid);
    case "container.host_network":
      return on((c) => c.hostNetwork);
    case "container.host_ipc":
      return on((c) => c.hostIpc);
    case "container.label":
      return on((c) => (arg === undefined ? undefined : c.labels[arg]));
    case "container.labels":
      return on((c) => Object.entries(c.labels).map(([k, val]) => `${k}:${val}`).join(","));
    case "k8s.pod.sandbox_id":
      return on((c) => c.pod?.fullSandboxId.slice(0, 12));
    case "k8s.pod.full_sandbox_id":
      return on((c) => c.pod?.fullSandboxId);
    case "k8s.pod.cni.json":
      return on((c) => c.pod?.cniJson);
  }
  return undefined;
}

/** The k8s.* fields a CRI engine answers from the pod sandbox (before the API server's). */
export function podExtractor<E>(field: string, arg: string | undefined, info: (e: E) => ContainerInfo | undefined): X<E> | undefined {
  const pod = (get: (p: NonNullable<ContainerInfo["pod"]>) => ExtractedValue | undefined): X<E> => (e) => {
    const p = info(e)?.pod;
    return p ? get(p) : undefined;
  };
  switch (field) {
    case "k8s.pod.name":
      return pod((p) => p.name);
    case "k8s.ns.name":
      return pod((p) => p.namespace);
    case "k8s.pod.uid":
    case "k8s.pod.id":
      return pod((p) => p.uid);
    case "k8s.pod.ip":
      return pod((p) => p.ip);
    case "k8s.pod.label":
      return pod((p) => (arg === undefined ? undefined : p.labels[arg]));
    case "k8s.pod.labels":
      return pod((p) => Object.entries(p.labels).map(([k, val]) => `${k}:${val}`).join(","));
  }
  return undefined;
}
