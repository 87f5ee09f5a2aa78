/**
 * The CRI engine against a real containerd with its CRI plugin (the harness's `containerd`
 * service): a pod sandbox and a privileged container made through the CRI API itself (as the
 * kubelet makes them, host network), then the engine's answer compared with what was asked
 * for and with the engine's own status: container name, image, privileged flag, labels, the
 * pod's name, namespace, uid, labels and sandbox id, and the host namespaces.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerExtractor, podExtractor } from "../../src/detector/metadata/container-fields.js";
import { CriEngine } from "../../src/detector/metadata/cri.js";
import { pb, UnixGrpcClient } from "../../src/detector/metadata/grpc.js";
import { ContainerMetadata } from "../../src/detector/metadata/manager.js";
import type { ContainerInfo } from "../../src/detector/metadata/types.js";
import { services } from "../harness/services.js";
import { CONTAINERD_SOCKET } from "../harness/services/containerd.js";
import { TESTBASE } from "../harness/images/images.js";
import { isRoot, waitFor } from "../unit/sensor/helpers.js";

const RT = "/runtime.v1.RuntimeService";
const NODE = 2;

describe.skipIf(!isRoot)("container metadata from containerd's CRI API (root)", () => {
  let client: UnixGrpcClient;
  let dir: string;
  const sandboxes: string[] = [];
  let pod = { name: "", namespace: "pg-ns", uid: "", labels: { app: "probe", "app.kubernetes.io/name": "pg" } };

  /** PodSandboxConfig, as the kubelet sends it for a host-network, privileged pod. */
  const sandboxConfig = () =>
    Buffer.concat([
      pb.msg(1, pb.str(1, pod.name), pb.str(2, pod.uid), pb.str(3, pod.namespace)),
      // no hostname: a host-network pod keeps the host's (runc refuses one without its own UTS namespace)
      pb.str(3, dir),
      pb.map(6, pod.labels),
      pb.msg(8, pb.msg(2, pb.msg(1, pb.int(1, NODE), pb.int(2, 0), pb.int(3, NODE)), pb.int(6, true))),
    ]);

  beforeAll(async () => {
    await services.start("containerd");
    client = new UnixGrpcClient(CONTAINERD_SOCKET, 60_000);
    dir = mkdtempSync(join(tmpdir(), "pg-cri-"));
  });

  afterAll(async () => {
    for (const id of sandboxes) {
      await client.call(`${RT}/StopPodSandbox`, pb.str(1, id)).catch(() => undefined);
      await client.call(`${RT}/RemovePodSandbox`, pb.str(1, id)).catch(() => undefined);
    }
    client?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("answers the container.* and k8s.pod.* fields of a pod's privileged container as the CRI API reports them", async () => {
    // a new pod per try: the engine keeps a pod's name reserved until it is removed
    pod = { ...pod, name: `pg-pod-${randomBytes(3).toString("hex")}`, uid: randomUUID() };
    const sb = (await client.call(`${RT}/RunPodSandbox`, pb.msg(1, sandboxConfig()))).str(1);
    sandboxes.push(sb);
    const container = Buffer.concat([
      pb.msg(1, pb.str(1, "shell")),
      pb.msg(2, pb.str(1, TESTBASE.fullRef)),
      pb.strs(3, ["sleep", "600"]),
      pb.map(9, { tier: "backend" }),
      pb.str(11, "shell.log"),
      pb.msg(15, pb.msg(2, pb.int(2, true), pb.msg(3, pb.int(1, NODE), pb.int(2, 0), pb.int(3, NODE)))),
    ]);
    const cid = (await client.call(`${RT}/CreateContainer`, Buffer.concat([pb.str(1, sb), pb.msg(2, container), pb.msg(3, sandboxConfig())]))).str(1);
    await client.call(`${RT}/StartContainer`, pb.str(1, cid));

    const meta = new ContainerMetadata({ engines: [new CriEngine(CONTAINERD_SOCKET)], logger: pino({ level: "warn" }) });
    const id = cid.slice(0, 12);
    const info = await waitFor("the CRI lookup", () => meta.get(id), 30_000);
    const view = { containerId: () => id, info: (x: ContainerInfo) => x, timeNs: () => BigInt(Date.now()) * 1_000_000n };
    const field = (name: string, arg?: string) => (containerExtractor(name, arg, view) ?? podExtractor(name, arg, (x: ContainerInfo) => x))!(info);

    expect(field("container.full_id")).toBe(cid);
    expect(field("container.name")).toBe("shell");
    expect(field("container.type")).toBe("containerd");
    expect(field("container.image")).toBe(TESTBASE.fullRef);
    expect(field("container.image.repository")).toBe("docker.io/peregrine/testbase");
    expect(field("container.image.tag")).toBe("bookworm");
    expect(String(field("container.image.id"))).toMatch(/^[0-9a-f]{12}$/);
    expect(field("container.privileged")).toBe(true);
    expect(field("container.label", "tier")).toBe("backend");
    expect(field("container.host_network")).toBe(true);
    expect(field("container.host_ipc")).toBe(true);
    expect(field("container.host_pid")).toBe(false);
    expect(Number(field("container.start_ts"))).toBeGreaterThan(0);
    expect(field("k8s.pod.name")).toBe(pod.name);
    expect(field("k8s.ns.name")).toBe(pod.namespace);
    expect(field("k8s.pod.uid")).toBe(pod.uid);
    expect(field("k8s.pod.label", "app")).toBe("probe");
    expect(field("k8s.pod.label", "app.kubernetes.io/name")).toBe("pg");
    expect(field("k8s.pod.full_sandbox_id")).toBe(sb);
    expect(field("k8s.pod.sandbox_id")).toBe(sb.slice(0, 12));

    // the pod's own sandbox id (its pause process): the pod's fields, no container's
    const pause = await waitFor("the sandbox lookup", () => meta.get(sb.slice(0, 12)), 30_000);
    expect(pause.pod?.name).toBe(pod.name);
    expect(pause.name).toBe("");
    // an id the engine does not know
    expect(await meta.resolve("0123456789ab")).toBeUndefined();
    meta.close();
  });
});
