/**
 * A real single-node Kubernetes: kube-apiserver (on etcd), kube-controller-manager (so a
 * Deployment makes a ReplicaSet and the ReplicaSet its pods, a DaemonSet and a StatefulSet
 * theirs, and a PersistentVolumeClaim is bound to a matching PersistentVolume),
 * kube-scheduler (binds pods that name no `spec.nodeName`, and waits for their claims) and a
 * kubelet on the containerd service's CRI socket; kubectl for the tests. Pods that need the
 * network use the host's (`hostNetwork: true`): no CNI besides loopback, which marks the node
 * Ready, and no kube-proxy or cluster DNS, so Service names and ClusterIPs do not answer.
 *
 * The binaries are built from the Go module proxy at a pinned release and cached by version
 * outside the work tree (BUILD_CACHE_DIR). The k8s.io/kubernetes module zip has no staging/
 * tree, which its go.mod points 31 replaces at: they are pointed at the same release's
 * published modules instead, and the version is stamped with -ldflags (or every binary says
 * v0.0.0).
 *
 * The node is named `localhost`: the kubelet refuses a loopback node IP, and the API server
 * reaches the kubelet (kubectl logs/exec) by the node's host name first.
 *
 * One daemon (a bash launcher) runs the four programs; SIGTERM stops them and undoes what
 * the kubelet changed outside its root: sysctls, its root's bind mount, empty kubepods cgroups.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILD_CACHE_DIR, cachePath } from "../paths.js";
import { HarnessError, note, run, startDaemon } from "../proc.js";
import { CONTAINERD_CNI_BIN_DIR, CONTAINERD_CNI_CONF_DIR, CONTAINERD_SOCKET } from "./containerd.js";
import { goBuild, moduleSource } from "./etcd.js";
import { ensureHelm, HELM } from "./helm.js";
import type { ServiceDef } from "./types.js";
import { spawnSync } from "node:child_process";

export const KUBERNETES_VERSION = "v1.34.4";
const STAGING_VERSION = "v0.34.4";
const CNI_PLUGINS_VERSION = "v1.6.2";
/** The node name the kubelet registers (see the header). */
export const NODE_NAME = "localhost";
export const API_SERVER_URL = "https://127.0.0.1:6443";
const NOT_READY_TAINT = "node.kubernetes.io/not-ready";

const BIN_DIR = join(BUILD_CACHE_DIR, "kubernetes", KUBERNETES_VERSION);
const COMPONENTS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet", "kubectl"] as const;
export const KUBECTL = join(BIN_DIR, "kubectl");
const LOOPBACK = join(BUILD_CACHE_DIR, "cni-plugins", CNI_PLUGINS_VERSION, "loopback");

const HOME = cachePath("kubernetes");
const PKI = join(HOME, "pki");
export const KUBECONFIG = join(HOME, "admin.kubeconfig");
const KUBELET_KUBECONFIG = join(HOME, "kubelet.kubeconfig");
const KUBELET_CONFIG = join(HOME, "kubelet-config.yaml");
const KUBELET_ROOT = join(HOME, "kubelet");
const LAUNCHER = join(HOME, "run-kubernetes.sh");
const AUDIT_POLICY = join(HOME, "audit-policy.yaml");
const AUDIT_WEBHOOK_KUBECONFIG = join(HOME, "audit-webhook.kubeconfig");
/**
 * Where the API server's audit webhook posts (batching on, as in production): Peregrine's
 * k8s_audit endpoint at its defaults, or PEREGRINE_K8S_AUDIT_WEBHOOK. Nothing listening there
 * costs only the API server's retries and a log line; requests never wait on it.
 */
export const AUDIT_WEBHOOK_URL = process.env.PEREGRINE_K8S_AUDIT_WEBHOOK || "http://127.0.0.1:9765/k8s-audit";

/** Everything at RequestResponse but reads of events and leases (the kubelet's heartbeat). */
const AUDIT_POLICY_TEXT = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
  - level: None
    verbs: ["get", "list", "watch"]
    resources:
      - group: ""
        resources: ["events"]
      - group: "events.k8s.io"
        resources: ["events"]
      - group: "coordination.k8s.io"
        resources: ["leases"]
  - level: RequestResponse
`;

const auditWebhookKubeconfig = (url: string) => `apiVersion: v1
kind: Config
clusters:
- name: peregrine-k8s-audit
  cluster:
    server: ${url}
contexts:
- name: default
  context: {cluster: peregrine-k8s-audit, user: ""}
current-context: default
users: []
`;

function ensureBinaries(): void {
  // only the missing ones: a cache from before a component was added keeps the others
  const missing = COMPONENTS.filter((c) => !existsSync(join(BIN_DIR, c)));
  if (missing.length === 0) return;
  mkdirSync(BIN_DIR, { recursive: true });
  note(`kubernetes: building ${KUBERNETES_VERSION} (${missing.join(", ")}) from its Go module (first run: 10 min or more on two cores, ~4 GB of Go caches)`);
  const t0 = Date.now();
  const work = join(BUILD_CACHE_DIR, "kubernetes", `${KUBERNETES_VERSION}.work`);
  moduleSource("k8s.io/kubernetes", KUBERNETES_VERSION, work);
  for (const f of ["go.work", "go.work.sum", "vendor"]) rmSync(join(work, f), { recursive: true, force: true });
  const gomod = join(work, "go.mod");
  const text = readFileSync(gomod, "utf8").replace(
    /^(\s*)(k8s\.io\/[a-z0-9-]+) => \.\/staging\/src\/k8s\.io\/[a-z0-9-]+$/gm,
    `$1$2 => $2 ${STAGING_VERSION}`,
  );
  if (text.includes("./staging/")) throw new HarnessError("kubernetes: go.mod still points at ./staging after rewriting its replaces");
  writeFileSync(gomod, text);
  const [major, minor] = KUBERNETES_VERSION.slice(1).split(".");
  const ld = ["-s", "-w"];
  for (const pkg of ["k8s.io/component-base/version", "k8s.io/client-go/pkg/version"])
    ld.push(
      "-X", `${pkg}.gitVersion=${KUBERNETES_VERSION}`, "-X", `${pkg}.gitMajor=${major}`, "-X", `${pkg}.gitMinor=${minor}`,
      "-X", `${pkg}.gitTreeState=clean`, "-X", `${pkg}.buildDate=1970-01-01T00:00:00Z`,
    );
  const tmp = `${BIN_DIR}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  goBuild(["build", "-mod=mod", "-trimpath", "-ldflags", ld.join(" "), "-o", `${tmp}/`, ...missing.map((c) => `./cmd/${c}`)], work);
  for (const c of missing) renameSync(join(tmp, c), join(BIN_DIR, c));
  rmSync(tmp, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
  note(`kubernetes: built in ${((Date.now() - t0) / 60_000).toFixed(1)} min`);
}

function ensureLoopback(): void {
  if (existsSync(LOOPBACK)) return;
  note(`kubernetes: building the CNI loopback plugin ${CNI_PLUGINS_VERSION}`);
  const dir = join(BUILD_CACHE_DIR, "cni-plugins", CNI_PLUGINS_VERSION);
  const work = `${dir}.work`;
  mkdirSync(dir, { recursive: true });
  moduleSource("github.com/containernetworking/plugins", CNI_PLUGINS_VERSION, work);
  goBuild(["build", "-mod=mod", "-trimpath", "-o", `${LOOPBACK}.tmp`, "./plugins/main/loopback"], work);
  renameSync(`${LOOPBACK}.tmp`, LOOPBACK);
  rmSync(work, { recursive: true, force: true });
}

function ensurePki(): void {
  const files = ["ca.crt", "apiserver.crt", "admin.crt", "kubelet-client.crt", "sa.pub"].map((f) => join(PKI, f));
  if (files.every((f) => existsSync(f))) return;
  mkdirSync(PKI, { recursive: true });
  const p = (f: string) => join(PKI, f);
  run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"), "-out", p("ca.crt"), "-days", "3650",
    "-subj", "/CN=peregrine-kubernetes-ca", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  const issue = (name: string, subject: string, ext: string) => {
    writeFileSync(p(`${name}.ext`), ext);
    run("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", p(`${name}.key`), "-out", p(`${name}.csr`), "-subj", subject]);
    run("openssl", ["x509", "-req", "-in", p(`${name}.csr`), "-CA", p("ca.crt"), "-CAkey", p("ca.key"), "-CAcreateserial",
      "-out", p(`${name}.crt`), "-days", "3650", "-extfile", p(`${name}.ext`)]);
  };
  issue("apiserver", "/CN=kube-apiserver",
    "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\nextendedKeyUsage=serverAuth\n");
  // system:masters may do anything, whatever the authorizer
  issue("admin", "/O=system:masters/CN=admin", "extendedKeyUsage=clientAuth\n");
  issue("kubelet-client", `/O=system:nodes/CN=system:node:${NODE_NAME}`, "extendedKeyUsage=clientAuth\n");
  run("openssl", ["genrsa", "-out", p("sa.key"), "2048"]);
  run("openssl", ["rsa", "-in", p("sa.key"), "-pubout", "-out", p("sa.pub")]);
}

function kubeconfig(user: string, cert: string, key: string): string {
  return `apiVersion: v1
kind: Config
clusters:
- name: peregrine
  cluster:
    server: ${API_SERVER_URL}
    certificate-authority: ${join(PKI, "ca.crt")}
users:
- name: ${user}
  user:
    client-certificate: ${cert}
    client-key: ${key}
contexts:
- name: peregrine
  context: {cluster: peregrine, user: ${user}}
current-context: peregrine
`;
}

const KUBELET_CONFIG_TEXT = () => `apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://${CONTAINERD_SOCKET}
failSwapOn: false
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: false}
  x509: {clientCAFile: ${join(PKI, "ca.crt")}}
authorization: {mode: AlwaysAllow}
# a full test disk must not evict the test pods
evictionHard: {memory.available: "1Mi", nodefs.available: "0%", imagefs.available: "0%", nodefs.inodesFree: "0%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
makeIPTablesUtilChains: false
protectKernelDefaults: false
serializeImagePulls: false
resolvConf: /etc/resolv.conf
`;

const PORTS = { apiserver: 6443, kubelet: 10250, controllerManager: 10257, scheduler: 10259 };

/**
 * The controllers kube-controller-manager runs: workloads (Deployment, ReplicaSet, DaemonSet,
 * StatefulSet), claims bound to volumes and the protection finalizers on them released (or a
 * deleted claim stays Terminating), namespaces emptied on delete, garbage collection.
 */
const CONTROLLERS = [
  "deployment-controller", "replicaset-controller", "daemonset-controller", "statefulset-controller",
  "garbage-collector-controller", "namespace-controller", "serviceaccount-controller", "endpointslice-controller",
  "persistentvolume-binder-controller", "persistentvolume-protection-controller", "persistentvolumeclaim-protection-controller",
];

function launcherScript(): string {
  const bin = (c: string) => join(BIN_DIR, c);
  const apiserver = [
    bin("kube-apiserver"),
    "--etcd-servers=http://127.0.0.1:2379",
    "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1",
    `--secure-port=${PORTS.apiserver}`,
    `--tls-cert-file=${join(PKI, "apiserver.crt")}`,
    `--tls-private-key-file=${join(PKI, "apiserver.key")}`,
    `--client-ca-file=${join(PKI, "ca.crt")}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${join(PKI, "sa.pub")}`,
    `--service-account-signing-key-file=${join(PKI, "sa.key")}`,
    "--service-cluster-ip-range=10.96.0.0/16",
    "--authorization-mode=Node,RBAC",
    // pods here mount no service-account token (no token controller runs)
    "--disable-admission-plugins=ServiceAccount",
    `--kubelet-client-certificate=${join(PKI, "admin.crt")}`,
    `--kubelet-client-key=${join(PKI, "admin.key")}`,
    "--kubelet-preferred-address-types=Hostname,InternalIP",
    `--audit-policy-file=${AUDIT_POLICY}`,
    `--audit-webhook-config-file=${AUDIT_WEBHOOK_KUBECONFIG}`,
    // batch mode (the default); a batch waits at most 2 s instead of 30 so tests see events soon
    "--audit-webhook-batch-max-wait=2s",
    // privileged pods may be created (the k8s_audit tests create one; it is never scheduled)
    "--allow-privileged=true",
    "--v=1",
  ];
  const controllerManager = [
    bin("kube-controller-manager"),
    `--kubeconfig=${KUBECONFIG}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${PORTS.controllerManager}`,
    "--leader-elect=false",
    `--controllers=${CONTROLLERS.join(",")}`,
    "--v=1",
  ];
  const scheduler = [
    bin("kube-scheduler"),
    `--kubeconfig=${KUBECONFIG}`,
    `--authentication-kubeconfig=${KUBECONFIG}`,
    `--authorization-kubeconfig=${KUBECONFIG}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${PORTS.scheduler}`,
    "--leader-elect=false",
    "--v=1",
  ];
  const kubelet = [
    bin("kubelet"),
    `--config=${KUBELET_CONFIG}`,
    `--kubeconfig=${KUBELET_KUBECONFIG}`,
    `--root-dir=${KUBELET_ROOT}`,
    `--cert-dir=${join(KUBELET_ROOT, "pki")}`,
    `--hostname-override=${NODE_NAME}`,
    "--v=1",
  ];
  const q = (args: string[]) => args.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  return `#!/bin/bash
# Runs the Kubernetes service's programs; SIGTERM stops them and undoes the kubelet's changes.
set -u
SYSCTLS="vm.overcommit_memory kernel.panic kernel.panic_on_oops"
declare -A SAVED
for s in $SYSCTLS; do SAVED[$s]=$(sysctl -n $s 2>/dev/null); done
pids=()
cleanup() {
  trap - TERM INT
  kill -TERM "\${pids[@]}" 2>/dev/null
  wait
  for s in $SYSCTLS; do [ -n "\${SAVED[$s]}" ] && sysctl -qw "$s=\${SAVED[$s]}"; done
  grep -o ' ${KUBELET_ROOT}[^ ]*' /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  for root in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
    [ -d "$root" ] && find "$root" -depth -type d -exec rmdir {} \\; 2>/dev/null
  done
  exit 0
}
trap cleanup TERM INT
${q(apiserver)} &
pids+=($!)
${q(controllerManager)} &
pids+=($!)
${q(scheduler)} &
pids+=($!)
${q(kubelet)} &
pids+=($!)
wait -n
echo "a Kubernetes program exited; stopping the others"
cleanup
`;
}

function kubectl(args: string[], timeoutMs = 30_000): { ok: boolean; out: string } {
  const r = spawnSync(KUBECTL, [`--kubeconfig=${KUBECONFIG}`, ...args], { encoding: "utf8", timeout: timeoutMs });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

export const kubernetes: ServiceDef = {
  name: "kubernetes",
  summary: `Kubernetes ${KUBERNETES_VERSION} (API server ${API_SERVER_URL}, controller-manager, scheduler, kubelet on containerd) with node "${NODE_NAME}"`,
  async provision() {
    if (process.getuid?.() !== 0) throw new HarnessError("kubernetes: the kubelet runs pods and so needs root");
    ensureBinaries();
    ensureLoopback();
    ensurePki();
    await ensureHelm(); // the chart's tests install with it
    // containerd reads its CNI directories as they change: the loopback config marks the node Ready
    mkdirSync(CONTAINERD_CNI_BIN_DIR, { recursive: true });
    mkdirSync(CONTAINERD_CNI_CONF_DIR, { recursive: true });
    run("cp", [LOOPBACK, join(CONTAINERD_CNI_BIN_DIR, "loopback")]);
    writeFileSync(
      join(CONTAINERD_CNI_CONF_DIR, "99-loopback.conf"),
      JSON.stringify({ cniVersion: "1.0.0", name: "lo", type: "loopback" }),
    );
    mkdirSync(KUBELET_ROOT, { recursive: true });
    writeFileSync(KUBECONFIG, kubeconfig("admin", join(PKI, "admin.crt"), join(PKI, "admin.key")));
    writeFileSync(KUBELET_KUBECONFIG, kubeconfig(`system:node:${NODE_NAME}`, join(PKI, "kubelet-client.crt"), join(PKI, "kubelet-client.key")));
    writeFileSync(KUBELET_CONFIG, KUBELET_CONFIG_TEXT());
    writeFileSync(AUDIT_POLICY, AUDIT_POLICY_TEXT);
    writeFileSync(AUDIT_WEBHOOK_KUBECONFIG, auditWebhookKubeconfig(AUDIT_WEBHOOK_URL));
    writeFileSync(LAUNCHER, launcherScript(), { mode: 0o755 });
  },
  spawn() {
    startDaemon({ name: "kubernetes", command: "bash", args: [LAUNCHER], marker: LAUNCHER });
  },
  async ready() {
    // answering, and the node registered (pods bound to it can run from then on)
    if (!existsSync(KUBECONFIG) || !kubectl(["get", "--raw", "/readyz"], 10_000).ok) return false;
    const node = kubectl(["get", "node", NODE_NAME, "-o", "jsonpath={.spec.taints[*].key} {.status.conditions[?(@.type=='Ready')].status}"], 10_000);
    if (!node.ok) return false;
    // The kubelet registers the node with the not-ready NoSchedule taint, which the node
    // lifecycle controller lifts once the node is Ready. That controller does not run here
    // (on a loaded machine its missed-heartbeat taints would evict the tests' pods), so the
    // taint is lifted here, once: pods the scheduler places (DaemonSet, StatefulSet) need it.
    if (node.out.includes(NOT_READY_TAINT)) {
      if (!node.out.trim().endsWith("True")) return false;
      return kubectl(["taint", "node", NODE_NAME, `${NOT_READY_TAINT}:NoSchedule-`], 10_000).ok;
    }
    return true;
  },
  readyTimeoutMs: 240_000,
  // the API server stores in etcd; the kubelet runs pods on containerd's CRI socket
  requires: ["etcd", "containerd"],
  onDemand: true,
  ports: [PORTS.apiserver, PORTS.kubelet, PORTS.controllerManager, PORTS.scheduler],
  env: () => ({ KUBECONFIG, KUBECTL, HELM }),
};

/**
 * Whether the running service has its scheduler: an instance started before the scheduler
 * was added has none, and a test that needs one restarts the service (holding
 * useExclusively("kubernetes")).
 */
export function schedulerRuns(): boolean {
  const binary = join(BIN_DIR, "kube-scheduler");
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0] === binary) return true;
    } catch {
      // gone meanwhile
    }
  }
  return false;
}

/** kubectl with the admin kubeconfig, for tests. Throws with its output on failure. */
export function kubectlOrThrow(args: string[], input?: string, timeoutMs = 60_000): string {
  const r = spawnSync(KUBECTL, [`--kubeconfig=${KUBECONFIG}`, ...args], { encoding: "utf8", timeout: timeoutMs, ...(input !== undefined ? { input } : {}) });
  if (r.status !== 0) throw new HarnessError(`kubectl ${args.join(" ")} failed: ${(r.stdout ?? "") + (r.stderr ?? "")}`.trim());
  return r.stdout;
}

