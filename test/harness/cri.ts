/**
 * Pods made through the CRI API of the harness's `containerd-solo` (no kubelet attached, which
 * would kill pods the API server does not know), as the kubelet makes them (host
 * network, no CNI needed), for tests that need a container of a pod without a kubelet.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pb, UnixGrpcClient } from "../../src/detector/metadata/grpc.js";
import { TESTBASE } from "./images/images.js";
import { CONTAINERD_SOLO_SOCKET } from "./services/containerd.js";

const RT = "/runtime.v1.RuntimeService";
/** NamespaceMode.NODE: share the host's namespace. */
const NODE = 2;

export interface PodSpec {
  namespace?: string;
  labels?: Record<string, string>;
  containerName?: string;
  containerLabels?: Record<string, string>;
  command: string[];
  privileged?: boolean;
  /** Cgroup parent of the pod (cgroupfs): the container's cgroup is <parent>/<id>. */
  cgroupParent?: string;
}

export interface CriPod {
  name: string;
  namespace: string;
  uid: string;
  labels: Record<string, string>;
  sandboxId: string;
  containerId: string;
  remove(): Promise<void>;
}

export async function runPod(spec: PodSpec): Promise<CriPod> {
  const client = new UnixGrpcClient(CONTAINERD_SOLO_SOCKET, 60_000);
  const logDir = mkdtempSync(join(tmpdir(), "pg-cri-logs-"));
  const pod = {
    name: `pg-pod-${randomBytes(3).toString("hex")}`,
    namespace: spec.namespace ?? "pg-ns",
    uid: randomUUID(),
    labels: spec.labels ?? {},
  };
  const privileged = spec.privileged ?? false;
  // no hostname: a host-network pod keeps the host's (runc refuses one without its own UTS namespace)
  const sandboxConfig = Buffer.concat([
    pb.msg(1, pb.str(1, pod.name), pb.str(2, pod.uid), pb.str(3, pod.namespace)),
    pb.str(3, logDir),
    pb.map(6, pod.labels),
    pb.msg(8, pb.str(1, spec.cgroupParent), pb.msg(2, pb.msg(1, pb.int(1, NODE), pb.int(2, 0), pb.int(3, NODE)), pb.int(6, privileged))),
  ]);
  let sandboxId = "";
  const remove = async () => {
    if (sandboxId) {
      await client.call(`${RT}/StopPodSandbox`, pb.str(1, sandboxId)).catch(() => undefined);
      await client.call(`${RT}/RemovePodSandbox`, pb.str(1, sandboxId)).catch(() => undefined);
    }
    client.close();
    rmSync(logDir, { recursive: true, force: true });
  };
  try {
    sandboxId = (await client.call(`${RT}/RunPodSandbox`, pb.msg(1, sandboxConfig))).str(1);
    const container = Buffer.concat([
      pb.msg(1, pb.str(1, spec.containerName ?? "main")),
      pb.msg(2, pb.str(1, TESTBASE.fullRef)),
      pb.strs(3, spec.command),
      pb.map(9, spec.containerLabels),
      pb.str(11, "main.log"),
      pb.msg(15, pb.msg(2, pb.int(2, privileged), pb.msg(3, pb.int(1, NODE), pb.int(2, 0), pb.int(3, NODE)))),
    ]);
    const containerId = (await client.call(`${RT}/CreateContainer`, Buffer.concat([pb.str(1, sandboxId), pb.msg(2, container), pb.msg(3, sandboxConfig)]))).str(1);
    await client.call(`${RT}/StartContainer`, pb.str(1, containerId));
    return { ...pod, sandboxId, containerId, remove };
  } catch (err) {
    await remove();
    throw err;
  }
}
