/**
 * Puts an image of the docker service's engine (peregrine:local, from `npm run image:build`)
 * where the harness's kubelet finds it: containerd's `k8s.io` namespace, which the CRI plugin
 * serves. Pods then use it with `imagePullPolicy: Never` (or IfNotPresent), no registry.
 *
 *   docker save peregrine:local | ctr -n k8s.io images import -
 *
 * through a file (both run as children of this process, asynchronously).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { docker, IMAGE_TAG } from "./image.js";
import { HarnessError } from "./proc.js";
import { runCommand } from "./run-command.js";
import { CONTAINERD_NAMESPACE, CONTAINERD_SOCKET } from "./services/containerd.js";

/** The name containerd records for a short docker reference (peregrine:local → docker.io/library/peregrine:local). */
export function fullImageRef(tag: string): string {
  const [name] = tag.split(":");
  if (name!.includes(".") || name!.includes("localhost")) return tag;
  return `docker.io/${name!.includes("/") ? "" : "library/"}${tag}`;
}

/** Copies `tag` from the docker engine into the kubelet's containerd; returns containerd's name for it. */
export async function importImageIntoKubelet(tag = IMAGE_TAG): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "peregrine-kube-image-"));
  try {
    const tar = join(dir, "image.tar");
    const saved = await docker(["save", "-o", tar, tag], 10 * 60_000);
    if (saved.status !== 0) throw new HarnessError(`docker save ${tag} failed: ${saved.stderr.trim()}`);
    const ctr = await runCommand("ctr", ["--address", CONTAINERD_SOCKET, "--namespace", CONTAINERD_NAMESPACE, "images", "import", tar], { timeoutMs: 10 * 60_000 });
    if (ctr.status !== 0) throw new HarnessError(`ctr images import ${tag} failed: ${(ctr.stdout + ctr.stderr).trim()}`);
    const ref = fullImageRef(tag);
    const ls = await runCommand("ctr", ["--address", CONTAINERD_SOCKET, "--namespace", CONTAINERD_NAMESPACE, "images", "ls", "-q"]);
    if (!ls.stdout.split("\n").includes(ref)) throw new HarnessError(`ctr images import ${tag}: ${ref} is not listed afterwards:\n${ls.stdout}`);
    return ref;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
