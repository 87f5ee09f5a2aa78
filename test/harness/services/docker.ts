/**
 * Docker Engine from Debian's docker.io package: dockerd with its own data root, exec root
 * and socket under the harness cache (its own containerd child too), no iptables and no
 * default bridge (containers use --network none or host), and the test images loaded.
 * No TCP port: clients use DOCKER_HOST. Compose v2 is installed as the docker CLI's plugin in
 * DOCKER_CONFIG (services/compose.ts), so `docker compose` works with the env it prints.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Agent, request } from "undici";
import { IMAGES, ensureImages } from "../images/images.js";
import { HARNESS_DIR, cachePath } from "../paths.js";
import { HarnessError, note, startDaemon } from "../proc.js";
import { DOCKER_CONFIG, ensureCompose } from "./compose.js";
import { installDebianTools } from "./containerd.js";
import type { ServiceDef } from "./types.js";

export const DOCKER_HOME = cachePath("docker");
export const DOCKER_SOCKET = join(DOCKER_HOME, "docker.sock");
export const DOCKER_HOST = `unix://${DOCKER_SOCKET}`;
const CONFIG = join(DOCKER_HOME, "daemon.json");
/** runc behind runc-caps.sh (see there): a --privileged container must not ask for capabilities root lacks here. */
const RUNC_WRAPPER = join(HARNESS_DIR, "services", "runc-caps.sh");

/** A request to this service's Engine API; undefined when it does not answer. */
let agent: Agent | undefined;

async function api(method: "GET" | "POST", path: string): Promise<{ status: number; body: string } | undefined> {
  agent ??= new Agent({ connect: { socketPath: DOCKER_SOCKET } });
  try {
    const res = await request(`http://docker${path}`, { method, dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 });
    return { status: res.statusCode, body: await res.body.text() };
  } catch {
    return undefined;
  }
}

/** The docker CLI (Debian's, of the daemon's own version, when installed) against this service. */
export function dockerCli(args: string[], timeoutMs = 120_000): { ok: boolean; out: string; err: string } {
  const r = spawnSync(existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker", ["--host", DOCKER_HOST, ...args], { encoding: "utf8", timeout: timeoutMs, env: { ...process.env, DOCKER_HOST } });
  return { ok: r.status === 0, out: r.stdout ?? "", err: r.stderr ?? "" };
}

let loaded = false;

export const docker: ServiceDef = {
  name: "docker",
  summary: "Docker Engine (dockerd) on its own socket, with the test images loaded",
  async provision() {
    if (process.getuid?.() !== 0) throw new HarnessError("docker: runs containers and so needs root");
    installDebianTools(
      "/usr/sbin/dockerd=docker.io",
      "/usr/bin/containerd=containerd",
      "/usr/sbin/runc=runc",
      "/usr/sbin/debootstrap=debootstrap",
      "/usr/bin/cc=gcc",
      "/usr/include/stdio.h=libc6-dev",
    );
    await ensureImages();
    // Compose v2 as the CLI plugin (built from its Go module on a first run; see compose.ts)
    await ensureCompose();
    for (const d of ["data", "exec"]) mkdirSync(join(DOCKER_HOME, d), { recursive: true });
    chmodSync(RUNC_WRAPPER, 0o755);
    // its own daemon config, so the machine's /etc/docker/daemon.json does not apply
    writeFileSync(CONFIG, `${JSON.stringify({ runtimes: { "runc-caps": { path: RUNC_WRAPPER } }, "default-runtime": "runc-caps" }, null, 2)}\n`);
  },
  spawn() {
    loaded = false;
    startDaemon({
      name: "docker",
      command: "dockerd",
      args: [
        `--config-file=${CONFIG}`,
        `--data-root=${join(DOCKER_HOME, "data")}`,
        `--exec-root=${join(DOCKER_HOME, "exec")}`,
        `--pidfile=${join(DOCKER_HOME, "dockerd.pid")}`,
        `--host=${DOCKER_HOST}`,
        "--iptables=false",
        "--ip-forward=false",
        "--ip-masq=false",
        "--bridge=none",
        "--userland-proxy=false",
        "--storage-driver=overlay2",
      ],
      marker: DOCKER_HOME,
    });
  },
  async ready() {
    const ping = await api("GET", "/_ping");
    if (ping?.status !== 200) return false;
    if (!loaded) {
      for (const img of IMAGES) {
        if ((await api("GET", `/images/${img.ref}/json`))?.status === 200) continue;
        note(`docker: loading ${img.ref}`);
        const r = dockerCli(["load", "--input", img.tarball]);
        if (!r.ok) throw new HarnessError(`docker: loading ${img.tarball} failed: ${r.err.trim()}`);
      }
      loaded = true;
    }
    return true;
  },
  readyTimeoutMs: 120_000,
  ports: [],
  env: () => ({ DOCKER_HOST, DOCKER_CONFIG }),
  onDemand: true,
};
