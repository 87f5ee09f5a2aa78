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
const CONFIG = join(CONTAINERD_HOME, "config.toml");

const CONFIG_TEXT = `version = 2
root = "${join(CONTAINERD_HOME, "root")}"
state = "${join(CONTAINERD_HOME, "state")}"

[grpc]
  address = "${CONTAINERD_SOCKET}"

[ttrpc]
  address = "${CONTAINERD_SOCKET}.ttrpc"

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
    bin_dir = "${CONTAINERD_CNI_BIN_DIR}"
    conf_dir = "${CONTAINERD_CNI_CONF_DIR}"
`;

/** Installs missing Debian packages (PATH=PACKAGE pairs) with the project's script. */
export function installDebianTools(...pairs: string[]): void {
  run("sh", [join(REPO_ROOT, "scripts", "install-debian-tools.sh"), ...pairs], { stdio: ["ignore", "pipe", "inherit"] });
}

function requireRoot(service: string): void {
  if (process.getuid?.() !== 0) throw new HarnessError(`${service}: runs containers and so needs root`);
}

/** `ctr` against this service's socket. */
export function ctr(args: string[], namespace = CONTAINERD_NAMESPACE): { ok: boolean; out: string } {
  const r = spawnSync("ctr", ["--address", CONTAINERD_SOCKET, "--namespace", namespace, ...args], { encoding: "utf8", timeout: 120_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

let imported = false;

export const containerd: ServiceDef = {
  name: "containerd",
  summary: "containerd (CRI plugin, runc) on its own socket, with the test images in k8s.io",
  async provision() {
    requireRoot("containerd");
    installDebianTools("/usr/bin/containerd=containerd", "/usr/sbin/runc=runc", "/usr/sbin/debootstrap=debootstrap", "/usr/bin/cc=gcc", "/usr/include/stdio.h=libc6-dev");
    await ensureImages();
    for (const d of ["root", "state", "cni/bin", "cni/net.d"]) mkdirSync(join(CONTAINERD_HOME, d), { recursive: true });
    writeFileSync(CONFIG, CONFIG_TEXT);
  },
  spawn() {
    imported = false;
    startDaemon({ name: "containerd", command: "containerd", args: ["--config", CONFIG], marker: CONFIG });
  },
  async ready() {
    if (!ctr(["version"]).ok) return false;
    if (!imported) {
      // import is idempotent; images missing after a wipe of the root come back here
      const have = ctr(["images", "ls", "-q"]).out.split("\n");
      for (const img of IMAGES) {
        if (have.includes(img.fullRef)) continue;
        note(`containerd: importing ${img.ref}`);
        const r = ctr(["images", "import", img.tarball]);
        if (!r.ok) throw new HarnessError(`containerd: importing ${img.tarball} failed: ${r.out.trim()}`);
      }
      imported = true;
    }
    return true;
  },
  readyTimeoutMs: 120_000,
  ports: [],
  env: () => ({ CONTAINERD_ADDRESS: CONTAINERD_SOCKET, CONTAINERD_NAMESPACE }),
  onDemand: true,
};
