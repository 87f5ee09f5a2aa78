/**
 * containerd from Debian's package, with its CRI plugin, runc, its own root, state and
 * socket under the harness cache, and the test images (images/images.ts) imported into the
 * `k8s.io` namespace the CRI plugin serves. No TCP port: clients use CONTAINERD_ADDRESS.
 *
 * Root here lacks CAP_SYS_RESOURCE, so runc cannot lower a sandbox's oom_score_adj:
 * `restrict_oom_score_adj = true` keeps every pod sandbox from failing at create. The CRI
 * sandbox image is the local pause image; CNI binaries and configs are read from the dirs
 * below (empty unless a consumer such as the Kubernetes service puts a plugin there).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { IMAGES, PAUSE, ensureImages } from "../images/images.js";
import { REPO_ROOT, cachePath } from "../paths.js";
import { HarnessError, note, run, startDaemon } from "../proc.js";
import type { ServiceDef } from "./types.js";
import { spawnSync } from "node:child_process";

export const CONTAINERD_HOME = cachePath("containerd");
export const CONTAINERD_SOCKET = join(CONTAINERD_HOME, "containerd.sock");
/** The namespace the CRI plugin (and so the kubelet) uses. */
export const CONTAINERD_NAMESPACE = "k8s.io";
export const CONTAINERD_CNI_BIN_DIR = join(CONTAINERD_HOME, "cni", "bin");
export const CONTAINERD_CNI_CONF_DIR = join(CONTAINERD_HOME, "cni", "net.d");

/**
 * A second instance with no kubelet attached, for tests that make pods through the CRI API
 * themselves: a kubelet on an engine kills every pod sandbox the API server does not know.
 */
export const CONTAINERD_SOLO_HOME = cachePath("containerd-solo");
export const CONTAINERD_SOLO_SOCKET = join(CONTAINERD_SOLO_HOME, "containerd.sock");

function configText(home: string): string {
  const socket = join(home, "containerd.sock");
  return `version = 2
root = "${join(home, "root")}"
state = "${join(home, "state")}"

[grpc]
  address = "${socket}"

[ttrpc]
  address = "${socket}.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE.fullRef}"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${join(home, "cni", "bin")}"
    conf_dir = "${join(home, "cni", "net.d")}"
`;
}

/** Installs missing Debian packages (PATH=PACKAGE pairs) with the project's script. */
export function installDebianTools(...pairs: string[]): void {
  run("sh", [join(REPO_ROOT, "scripts", "install-debian-tools.sh"), ...pairs], { stdio: ["ignore", "pipe", "inherit"] });
}

function requireRoot(service: string): void {
  if (process.getuid?.() !== 0) throw new HarnessError(`${service}: runs containers and so needs root`);
}

/** `ctr` against a containerd socket (this service's by default). */
export function ctr(args: string[], namespace = CONTAINERD_NAMESPACE, socket = CONTAINERD_SOCKET): { ok: boolean; out: string } {
  const r = spawnSync("ctr", ["--address", socket, "--namespace", namespace, ...args], { encoding: "utf8", timeout: 120_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

function containerdService(name: string, home: string, summary: string, env: Record<string, string>): ServiceDef {
  const socket = join(home, "containerd.sock");
  const config = join(home, "config.toml");
  let imported = false;
  return {
    name,
    summary,
    async provision() {
      requireRoot(name);
      installDebianTools("/usr/bin/containerd=containerd", "/usr/sbin/runc=runc", "/usr/sbin/debootstrap=debootstrap", "/usr/bin/cc=gcc", "/usr/include/stdio.h=libc6-dev");
      await ensureImages();
      for (const d of ["root", "state", "cni/bin", "cni/net.d"]) mkdirSync(join(home, d), { recursive: true });
      writeFileSync(config, configText(home));
    },
    spawn() {
      imported = false;
      startDaemon({ name, command: "containerd", args: ["--config", config], marker: config });
    },
    async ready() {
      if (!ctr(["version"], CONTAINERD_NAMESPACE, socket).ok) return false;
      if (!imported) {
        // import is idempotent; images missing after a wipe of the root come back here
        const have = ctr(["images", "ls", "-q"], CONTAINERD_NAMESPACE, socket).out.split("\n");
        for (const img of IMAGES) {
          if (have.includes(img.fullRef)) continue;
          note(`${name}: importing ${img.ref}`);
          const r = ctr(["images", "import", img.tarball], CONTAINERD_NAMESPACE, socket);
          if (!r.ok) throw new HarnessError(`${name}: importing ${img.tarball} failed: ${r.out.trim()}`);
        }
        imported = true;
      }
      return true;
    },
    readyTimeoutMs: 120_000,
    ports: [],
    env: () => env,
    onDemand: true,
  };
}

export const containerd: ServiceDef = containerdService(
  "containerd",
  CONTAINERD_HOME,
  "containerd (CRI plugin, runc) on its own socket, with the test images in k8s.io",
  { CONTAINERD_ADDRESS: CONTAINERD_SOCKET, CONTAINERD_NAMESPACE },
);

export const containerdSolo: ServiceDef = containerdService(
  "containerd-solo",
  CONTAINERD_SOLO_HOME,
  "a second containerd, no kubelet attached, for pods made through the CRI API by tests",
  {},
);
