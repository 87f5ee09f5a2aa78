/**
 * Container id from a cgroup path or name, the way Falco's container plugin derives it:
 * the runtimes name a container's cgroup after its 64-hex-digit id (docker-<id>.scope,
 * cri-containerd-<id>.scope, crio-<id>.scope, libpod-<id>.scope, /docker/<id>, ...);
 * the id is its first 12 digits. Anything else is the host.
 */
const ID = /(?:^|[/\-:])([0-9a-f]{64})(?:\.scope)?(?:$|\/)/;

export const HOST_CONTAINER_ID = "host";

export function containerIdFromCgroup(path: string): string {
  const m = ID.exec(path);
  return m ? m[1]!.slice(0, 12) : HOST_CONTAINER_ID;
}

/** The container id from /proc/PID/cgroup's text (any hierarchy line that names one). */
export function containerIdFromProcCgroup(text: string): string {
  for (const line of text.split("\n")) {
    const path = line.slice(line.indexOf(":", line.indexOf(":") + 1) + 1);
    const id = containerIdFromCgroup(path);
    if (id !== HOST_CONTAINER_ID) return id;
  }
  return HOST_CONTAINER_ID;
}
