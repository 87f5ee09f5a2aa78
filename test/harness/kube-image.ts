/**
 * Puts an image of the docker service's engine (peregrine:local, from `npm run image:build`)
 * where the harness's kubelet finds it: containerd's `k8s.io` namespace, which the CRI plugin
 * serves. Pods then use it with `imagePullPolicy: Never` (or IfNotPresent), no registry.
 *
 *   docker save peregrine:local | ctr -n k8s.io images import -
 *
 * (with the harness's sockets), run asynchronously.
 */
import { IMAGE_TAG } from "./image.js";
import { HarnessError } from "./proc.js";
import { runCommand } from "./run-command.js";
import { CONTAINERD_NAMESPACE, CONTAINERD_SOCKET } from "./services/containerd.js";
import { DOCKER_HOST } from "./services/docker.js";

/** The name containerd records for a short docker reference (peregrine:local → docker.io/library/peregrine:local). */
export function fullImageRef(tag: string): string {
  const [name] = tag.split(":");
  if (name!.includes(".") || name!.includes("localhost")) return tag;
  return `docker.io/${name!.includes("/") ? "" : "library/"}${tag}`;
}

/** Copies `tag` from the docker engine into the kubelet's containerd; returns containerd's name for it. */
export async function importImageIntoKubelet(tag = IMAGE_TAG): Promise<string> {
  const dockerHost = process.env.DOCKER_HOST || DOCKER_HOST;
  const ctr = ["ctr", "--address", CONTAINERD_SOCKET, "--namespace", CONTAINERD_NAMESPACE];
  // the pipe as a user types it (docs/deploy.md), failing if either side fails
  const script = 'set -o pipefail; docker save "$1" | ctr --address "$2" --namespace "$3" images import -';
  const r = await runCommand("bash", ["-c", script, "import", tag, CONTAINERD_SOCKET, CONTAINERD_NAMESPACE], { env: { ...process.env, DOCKER_HOST: dockerHost }, timeoutMs: 10 * 60_000 });
  if (r.status !== 0) throw new HarnessError(`docker save ${tag} | ctr images import - failed (exit ${r.status}): ${(r.stdout + r.stderr).trim()}`);
  const ref = fullImageRef(tag);
  const ls = await runCommand(ctr[0]!, [...ctr.slice(1), "images", "ls", "-q"]);
  if (!ls.stdout.split("\n").includes(ref)) throw new HarnessError(`ctr images import ${tag}: ${ref} is not listed afterwards:\n${ls.stdout}`);
  return ref;
}
