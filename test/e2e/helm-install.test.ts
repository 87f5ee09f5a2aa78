/**
 * The Helm chart installed for real on the harness's single-node cluster (kubernetes
 * service: API server, controller-manager, scheduler, kubelet on containerd):
 *
 * - the image built here (`npm run image:build`, peregrine:local in the docker engine) is
 *   imported into the kubelet's containerd and used with `image.pullPolicy=Never`;
 * - the router's journal claim is bound to a PersistentVolume the test makes (a hostPath on
 *   the node, in a StorageClass with no provisioner: the cluster has none);
 * - `helm install` into a fresh namespace: the router StatefulSet's pod and the detector
 *   DaemonSet's pod become Ready; a `cat /etc/shadow` on the node is detected by the detector
 *   pod (Falco's "Read sensitive file untrusted") and delivered by the router pod to a webhook
 *   receiver on the host;
 * - `helm uninstall` removes every object and process of the release; the StatefulSet's
 *   claim outlives it (as Kubernetes keeps them) until deleted.
 *
 * The cluster has no pod network (no CNI but loopback, no kube-proxy, no DNS), so both
 * workloads run with `hostNetwork: true` and the detector sends to the router on the node's
 * loopback (`detector.routerUrl`). Root here lacks CAP_SYS_RESOURCE, which a container can
 * then not be given (runc: "unable to apply caps"), so the detector gets the chart's
 * capabilities minus the ones root lacks.
 */
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage, IMAGE_TAG } from "../harness/image.js";
import { importImageIntoKubelet } from "../harness/kube-image.js";
import { REPO_ROOT } from "../harness/paths.js";
import { freePort, Receiver } from "../harness/receiver.js";
import { runCommand, type CommandRun } from "../harness/run-command.js";
import { acquireSensorLock } from "../harness/sensor-lock.js";
import { services } from "../harness/services.js";
import { ensureHelm } from "../harness/services/helm.js";
import { KUBECONFIG, KUBECTL, schedulerRuns } from "../harness/services/kubernetes.js";

const CHART = join(REPO_ROOT, "deploy", "helm", "peregrine");
const isRoot = process.getuid?.() === 0;
const NAMESPACE = `peregrine-helm-${process.pid}`;
const RELEASE = "pg";
const FULLNAME = `${RELEASE}-peregrine`;
const STORAGE_CLASS = `peregrine-test-local-${process.pid}`;
const PV = `peregrine-test-journal-${process.pid}`;
const CLAIM = `journal-${FULLNAME}-router-0`;
const ROUTER_UID = 10001;
const TOKEN = `helm-test-${process.pid}-token`;
/** The chart's default detector capabilities and their bit numbers (linux/capability.h). */
const CHART_CAPS: Record<string, number> = { BPF: 39, PERFMON: 38, SYS_RESOURCE: 24, SYS_PTRACE: 19 };

// made in beforeAll: a file collected but not run leaves nothing behind
let tmp = "";
let journalDir = "";
let spoolDir = "";
const receiver = new Receiver();
let helm = "";
let port = 0;
let installed = false;
let releaseService: (() => void) | undefined;
let releaseSensor: (() => void) | undefined;

const helmEnv = () => ({ ...process.env, KUBECONFIG, HELM_CACHE_HOME: join(tmp, "helm", "cache"), HELM_CONFIG_HOME: join(tmp, "helm", "config"), HELM_DATA_HOME: join(tmp, "helm", "data") });
const helmRun = (args: string[], timeoutMs = 5 * 60_000): Promise<CommandRun> => runCommand(helm, args, { env: helmEnv(), timeoutMs });
const kubectl = (args: string[], timeoutMs = 120_000): Promise<CommandRun> => runCommand(KUBECTL, [`--kubeconfig=${KUBECONFIG}`, ...args], { timeoutMs });

async function kubectlOk(args: string[], input?: string): Promise<string> {
  let file: string | undefined;
  if (input !== undefined) {
    file = join(tmp, `input-${Date.now()}.yaml`);
    writeFileSync(file, input);
  }
  const r = await kubectl(file ? [...args, "-f", file] : args);
  if (r.status !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${r.status}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, explain?: () => Promise<string>): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${explain ? `\n${await explain()}` : ""}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

interface Pod {
  metadata: { name: string; labels?: Record<string, string> };
  spec: { nodeName?: string; hostNetwork?: boolean; containers: { image: string }[] };
  status: { phase?: string; conditions?: { type: string; status: string }[] };
}

async function pods(): Promise<Pod[]> {
  const r = await kubectl(["get", "pods", "-n", NAMESPACE, "-o", "json"]);
  if (r.status !== 0) return [];
  return (JSON.parse(r.stdout) as { items: Pod[] }).items;
}

const isReady = (p: Pod) => p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

/** Why pods are not Ready: their state and the namespace's events (in a timeout's message). */
async function diagnose(): Promise<string> {
  const d = await kubectl(["describe", "pods", "-n", NAMESPACE]);
  const e = await kubectl(["get", "events", "-n", NAMESPACE, "--sort-by=.lastTimestamp"]);
  const pvc = await kubectl(["get", "pvc", "-n", NAMESPACE]);
  return `${d.stdout}${d.stderr}\n${e.stdout}${e.stderr}\n${pvc.stdout}${pvc.stderr}`.split("\n").slice(-120).join("\n");
}

/** The chart's detector capabilities that this machine's root holds (a container cannot get more). */
function grantableCaps(): { grant: string[]; lacking: string[] } {
  const bnd = BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"))![1]}`);
  const has = (bit: number) => ((bnd >> BigInt(bit)) & 1n) === 1n;
  const names = Object.keys(CHART_CAPS);
  return { grant: names.filter((n) => has(CHART_CAPS[n]!)), lacking: names.filter((n) => !has(CHART_CAPS[n]!)) };
}

/** Host processes whose command line names our router URL: the detector pod's, seen through hostPID. */
function detectorProcesses(): number[] {
  const url = `http://127.0.0.1:${port}`;
  const found: number[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const args = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      if (args.includes("detect") && args.includes(url)) found.push(Number(pid));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

describe.skipIf(!isRoot)("helm install of the chart on the harness cluster (root: kubelet, containerd, eBPF)", () => {
  const caps = isRoot ? grantableCaps() : { grant: [], lacking: [] };

  beforeAll(async () => {
    // cold: builds helm, Kubernetes, the docker engine's image (tens of minutes once, cached)
    await services.start("docker");
    await buildImage(IMAGE_TAG);
    releaseService = await services.useExclusively("kubernetes");
    await services.start("kubernetes");
    // an instance started before the harness ran a scheduler cannot place these pods
    if (!schedulerRuns()) await services.restart("kubernetes");
    helm = await ensureHelm();
    await importImageIntoKubelet(IMAGE_TAG);
    tmp = mkdtempSync(join(tmpdir(), "peregrine-helm-install-"));
    journalDir = join(tmp, "router-journal");
    spoolDir = join(tmp, "detector-spool");
    await receiver.start();
    port = await freePort();
    // the journal volume: a node directory the router's uid owns (a hostPath gets no fsGroup)
    mkdirSync(journalDir, { recursive: true });
    chownSync(journalDir, ROUTER_UID, ROUTER_UID);
    chmodSync(journalDir, 0o700);
    chmodSync(tmp, 0o755);
    await kubectlOk(["apply"], `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: ${STORAGE_CLASS}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: Immediate
reclaimPolicy: Retain
---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: ${PV}
spec:
  storageClassName: ${STORAGE_CLASS}
  capacity: {storage: 2Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: ${journalDir}, type: Directory}
`);
    // the detector pod loads the eBPF sensor: one such file at a time (taken after the builds)
    releaseSensor = await acquireSensorLock();
  }, 120 * 60_000);

  afterAll(async () => {
    try {
      if (installed) await helmRun(["uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "3m"]);
      if (existsSync(KUBECTL)) {
        await kubectl(["delete", "namespace", NAMESPACE, "--ignore-not-found", "--wait=true", "--timeout=180s"], 200_000);
        await kubectl(["delete", "pv", PV, "--ignore-not-found"]);
        await kubectl(["delete", "storageclass", STORAGE_CLASS, "--ignore-not-found"]);
      }
    } finally {
      await receiver.stop();
      releaseSensor?.();
      releaseService?.();
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    }
  }, 10 * 60_000);

  it("helm install: the router StatefulSet's pod and the detector DaemonSet's pod become Ready, the journal claim bound to the test's volume", async () => {
    // the flags of docs/deploy.md's Helm section; the values file adds what is the test's own
    const values = {
      auth: { token: TOKEN },
      router: { config: { outputs: [{ name: "hook", type: "webhook", url: receiver.url }] } },
      detector: { hostPath: spoolDir, capabilities: caps.grant },
    };
    const valuesFile = join(tmp, "values.yaml");
    writeFileSync(valuesFile, JSON.stringify(values, null, 2)); // JSON is YAML
    const r = await helmRun([
      "install", RELEASE, CHART, "-n", NAMESPACE, "--create-namespace",
      "--set", "image.repository=peregrine", "--set", `image.tag=${IMAGE_TAG.split(":")[1]}`, "--set", "image.pullPolicy=Never",
      "--set", `router.persistence.storageClassName=${STORAGE_CLASS}`,
      "--set", "router.hostNetwork=true", "--set", "detector.hostNetwork=true",
      "--set", `router.port=${port}`, "--set", `detector.routerUrl=http://127.0.0.1:${port}`,
      "-f", valuesFile,
    ]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("STATUS: deployed");
    expect(r.status).toBe(0);
    installed = true;

    const ready = await until(
      "the router and detector pods Ready",
      async () => {
        const ps = await pods();
        const router = ps.find((p) => p.metadata.labels?.["app.kubernetes.io/component"] === "router");
        const detector = ps.find((p) => p.metadata.labels?.["app.kubernetes.io/component"] === "detector");
        return router && detector && isReady(router) && isReady(detector) ? { router, detector } : undefined;
      },
      5 * 60_000,
      diagnose,
    );
    expect(ready.router.metadata.name).toBe(`${FULLNAME}-router-0`);
    // bound by the scheduler (neither names a node in its template), to the one node
    expect(ready.router.spec.nodeName).toBe("localhost");
    expect(ready.detector.spec.nodeName).toBe("localhost");
    expect(ready.router.spec.containers[0]!.image).toBe(IMAGE_TAG);
    const claim = JSON.parse(await kubectlOk(["get", "pvc", CLAIM, "-n", NAMESPACE, "-o", "json"])) as { spec: { volumeName: string }; status: { phase: string } };
    expect(claim.status.phase).toBe("Bound");
    expect(claim.spec.volumeName).toBe(PV);
    // the DaemonSet and StatefulSet controllers report them as they should
    const ds = JSON.parse(await kubectlOk(["get", "daemonset", `${FULLNAME}-detector`, "-n", NAMESPACE, "-o", "json"])) as { status: { desiredNumberScheduled: number; numberReady: number } };
    expect(ds.status).toMatchObject({ desiredNumberScheduled: 1, numberReady: 1 });
  }, 10 * 60_000);

  it("cat /etc/shadow on the node is detected by the detector pod and delivered by the router pod to the webhook", async () => {
    const marker = join(tmp, `pg-helm-marker-${process.pid}`);
    const ours = (a: Record<string, unknown>) =>
      a.rule === "Read sensitive file untrusted" && String((a.output_fields as Record<string, unknown>)["proc.cmdline"]).includes(marker);
    // repeated until seen: the pod is Ready once its process runs, the sensor attaches a moment later
    const alert = await until(
      "the shadow read's alert at the webhook",
      async () => {
        await runCommand("cat", ["/etc/shadow", marker]); // the marker does not exist: cat exits 1 after reading /etc/shadow
        return receiver.alerts().find(ours);
      },
      3 * 60_000,
      async () => {
        const logs = await kubectl(["logs", "-n", NAMESPACE, "-l", "app.kubernetes.io/component=detector", "--tail=40"]);
        const rlogs = await kubectl(["logs", "-n", NAMESPACE, `${FULLNAME}-router-0`, "--tail=40"]);
        return `detector:\n${logs.stdout}${logs.stderr}\nrouter:\n${rlogs.stdout}${rlogs.stderr}\nreceived: ${receiver.requests.length} requests`;
      },
    );
    expect(alert.output_fields).toMatchObject({ "proc.name": "cat", "fd.name": "/etc/shadow" });
    expect(alert.source).toBe("syscall");
    // the detector's process is the pod's (host PID namespace), the router's journal on the volume
    expect(detectorProcesses().length).toBeGreaterThan(0);
    expect(existsSync(spoolDir) && readdirSync(spoolDir).length).toBeGreaterThan(0);
    expect(readdirSync(journalDir).length).toBeGreaterThan(0);
  }, 5 * 60_000);

  it("helm uninstall removes the release's objects, pods and processes; the journal claim stays until deleted", async () => {
    const r = await helmRun(["uninstall", RELEASE, "-n", NAMESPACE, "--wait", "--timeout", "3m"]);
    expect(r.stdout).toContain(`release "${RELEASE}" uninstalled`);
    expect(r.status).toBe(0);
    installed = false;
    await until("the release's pods gone", async () => ((await pods()).length === 0 ? true : undefined), 3 * 60_000, diagnose);
    const left = await kubectlOk(["get", "all,configmap,secret,pvc", "-n", NAMESPACE, "-l", `app.kubernetes.io/instance=${RELEASE}`, "-o", "name"]);
    // StatefulSet claims are kept on purpose (the journal); the chart made nothing else that remains
    expect(left.trim().split("\n").filter(Boolean)).toEqual([`persistentvolumeclaim/${CLAIM}`]);
    await kubectlOk(["delete", "pvc", CLAIM, "-n", NAMESPACE, "--wait=true", "--timeout=120s"]);
    const none = await kubectlOk(["get", "all,configmap,secret,pvc", "-n", NAMESPACE, "-o", "name"]);
    // the namespace's own root CA ConfigMap is the API server's, not the release's
    expect(none.trim().split("\n").filter((l) => l && l !== "configmap/kube-root-ca.crt")).toEqual([]);
    await until("the detector's process gone from the node", async () => (detectorProcesses().length === 0 ? true : undefined), 60_000);
    // the volume is released, its data kept (Retain): the test removes both in afterAll
    const pv = JSON.parse(await kubectlOk(["get", "pv", PV, "-o", "json"])) as { status: { phase: string } };
    expect(pv.status.phase).toBe("Released");
  }, 10 * 60_000);
});
