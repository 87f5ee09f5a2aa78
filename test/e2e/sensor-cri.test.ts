/**
 * End to end, as root, with containerd's CRI plugin (the harness's `containerd-solo` service) and
 * no kubelet: a pod made through the CRI API reads /etc/shadow two seconds after it starts,
 * and the alert carries the pod's name, namespace and labels and the container's name and
 * image, as the CRI API reports them, with the detector asking the CRI engine.
 */
import { mkdtempSync, readdirSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerEnginesConfig } from "../../src/detector/metadata/engines.js";
import type { DetectorAlert } from "../../src/detector/ruleset.js";
import { startSyscallDetector, type SyscallDetector } from "../../src/detector/sources/syscall/index.js";
import { runPod, type CriPod } from "../harness/cri.js";
import { TESTBASE } from "../harness/images/images.js";
import { runsTheSensor } from "../harness/sensor-lock.js";
import { services } from "../harness/services.js";
import { CONTAINERD_SOLO_SOCKET } from "../harness/services/containerd.js";
import { buildSensor, isRoot, waitFor } from "../unit/sensor/helpers.js";

const RULES = `
- rule: pg cri shadow
  desc: the test's read of /etc/shadow in a pod's container
  condition: evt.type in (open, openat, openat2) and fd.name=/etc/shadow and container.id != host and proc.name=cat
  output: "shadow read in %container.id pod=%k8s.pod.name ns=%k8s.ns.name app=%k8s.pod.label[app] labels=%k8s.pod.labels name=%container.name image=%container.image type=%container.type sandbox=%k8s.pod.sandbox_id"
  priority: NOTICE
`;

runsTheSensor();

describe.skipIf(!isRoot)("pod metadata from containerd's CRI API on alerts (root)", () => {
  let detector: SyscallDetector;
  const alerts: DetectorAlert[] = [];
  let dir: string;
  const pods: CriPod[] = [];

  beforeAll(async () => {
    buildSensor();
    await services.start("containerd-solo");
    dir = mkdtempSync(join(tmpdir(), "pg-sensor-cri-"));
    const rules = join(dir, "rules.yaml");
    writeFileSync(rules, RULES);
    detector = await startSyscallDetector({
      rulesFiles: [rules],
      containerEngines: containerEnginesConfig({
        docker: { enabled: false },
        podman: { enabled: false },
        containerd: { enabled: false },
        cri: { enabled: true, sockets: [CONTAINERD_SOLO_SOCKET] },
      }),
      logger: pino({ level: "warn" }),
      onAlert: (a) => alerts.push(a),
    });
    await detector.ready;
  });

  afterAll(async () => {
    await detector?.stop();
    for (const p of pods) await p.remove();
    // the pods' cgroup parent, empty once they are removed
    for (const ctl of readdirSync("/sys/fs/cgroup")) {
      try {
        rmdirSync(join("/sys/fs/cgroup", ctl, "pg-cri"));
      } catch {
        // not made in this hierarchy, or still busy
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("an alert from cat /etc/shadow in a pod's container carries k8s.pod.name, k8s.ns.name, the pod's labels and the container's name and image", async () => {
    const pod = await runPod({
      namespace: "pg-team",
      labels: { app: "probe", tier: "backend" },
      containerName: "reader",
      command: ["sh", "-c", "sleep 2; cat /etc/shadow > /dev/null; sleep 600"],
      // cgroupfs: the container's cgroup is /pg-cri/<id>, where the detector reads its id
      cgroupParent: "/pg-cri",
    });
    pods.push(pod);
    const id = pod.containerId.slice(0, 12);
    const alert = await waitFor(
      "the shadow read alert from the pod",
      () => alerts.find((a) => a.rule === "pg cri shadow" && a.output_fields["container.id"] === id),
      60_000,
      () => alerts.map((a) => a.output).join("\n"),
    );
    const f = alert.output_fields;
    expect(f["k8s.pod.name"]).toBe(pod.name);
    expect(f["k8s.ns.name"]).toBe("pg-team");
    expect(f["k8s.pod.label[app]"]).toBe("probe");
    expect(String(f["k8s.pod.labels"]).split(",").sort()).toEqual(["app:probe", "tier:backend"]);
    expect(f["container.name"]).toBe("reader");
    expect(f["container.image"]).toBe(TESTBASE.fullRef);
    expect(f["container.type"]).toBe("containerd");
    expect(f["k8s.pod.sandbox_id"]).toBe(pod.sandboxId.slice(0, 12));
  });
});
