/**
 * The CRI engine against a real containerd with its CRI plugin (the harness's `containerd`
 * service): a pod sandbox and a privileged container made through the CRI API itself (as the
 * kubelet makes them, host network), then the engine's answer compared with what was asked
 * for: container name, image, privileged flag, labels, the pod's name, namespace, uid,
 * labels and sandbox id, and the host namespaces.
 */
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerExtractor, podExtractor } from "../../src/detector/metadata/container-fields.js";
import { CriEngine } from "../../src/detector/metadata/cri.js";
import { ContainerMetadata } from "../../src/detector/metadata/manager.js";
import type { ContainerInfo } from "../../src/detector/metadata/types.js";
import { runPod, type CriPod } from "../harness/cri.js";
import { services } from "../harness/services.js";
import { CONTAINERD_SOLO_SOCKET } from "../harness/services/containerd.js";
import { TESTBASE } from "../harness/images/images.js";
import { isRoot, waitFor } from "../unit/sensor/helpers.js";

describe.skipIf(!isRoot)("container metadata from containerd's CRI API (root)", () => {
  const pods: CriPod[] = [];

  beforeAll(async () => {
    await services.start("containerd-solo");
  });

  afterAll(async () => {
    for (const p of pods) await p.remove();
  });

  it("answers the container.* and k8s.pod.* fields of a pod's privileged container as the CRI API reports them", async () => {
    const pod = await runPod({
      labels: { app: "probe", "app.kubernetes.io/name": "pg" },
      containerName: "shell",
      containerLabels: { tier: "backend" },
      command: ["sleep", "600"],
      privileged: true,
    });
    pods.push(pod);
    const cid = pod.containerId;
    const sb = pod.sandboxId;
    const meta = new ContainerMetadata({ engines: [new CriEngine(CONTAINERD_SOLO_SOCKET)], logger: pino({ level: "warn" }) });
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
    expect(field("k8s.ns.name")).toBe("pg-ns");
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
