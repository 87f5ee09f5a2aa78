/**
 * Podman from Debian's package: `podman system service` serving its API (Docker-compatible
 * and libpod) on its own socket under the harness cache, with its own storage root, run
 * root and temp dir (overlay storage), the cgroupfs cgroup manager, a file events backend,
 * and runc behind runc-caps.sh as Docker has it (a --privileged container must not ask for
 * capabilities root lacks here). Containers use --network none or host: no network set up.
 * The test image is loaded from the harness's docker-archive tarball. No TCP port: clients
 * use PODMAN_HOST (a unix:// URL), e.g. `podman --remote --url $PODMAN_HOST ...`.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Agent, request } from "undici";
import { TESTBASE, ensureImages } from "../images/images.js";
import { HARNESS_DIR, cachePath } from "../paths.js";
import { HarnessError, note, startDaemon } from "../proc.js";
import { runCommand, type CommandRun } from "../run-command.js";
import { installDebianTools } from "./containerd.js";
import type { ServiceDef } from "./types.js";

export const PODMAN_HOME = cachePath("podman");
export const PODMAN_SOCKET = join(PODMAN_HOME, "podman.sock");
export const PODMAN_HOST = `unix://${PODMAN_SOCKET}`;
const RUNC_WRAPPER = join(HARNESS_DIR, "services", "runc-caps.sh");
const CONTAINERS_CONF = join(PODMAN_HOME, "containers.conf");

/** podman's global flags for this service's own storage and state. */
const GLOBAL = [
  `--root=${join(PODMAN_HOME, "root")}`,
  `--runroot=${join(PODMAN_HOME, "run")}`,
  `--tmpdir=${join(PODMAN_HOME, "tmp")}`,
  "--storage-driver=overlay",
  "--cgroup-manager=cgroupfs",
  "--events-backend=file",
];

/** The machine's containers.conf and storage.conf must not apply: ours names the runtime. */
const env = (): NodeJS.ProcessEnv => ({ ...process.env, CONTAINERS_CONF, CONTAINERS_STORAGE_CONF: join(PODMAN_HOME, "storage.conf") });

/** The podman CLI as a client of this service (its API on PODMAN_HOST). */
export function podmanCli(args: string[], timeoutMs = 180_000): Promise<CommandRun> {
  return runCommand("podman", ["--remote", `--url=${PODMAN_HOST}`, ...args], { timeoutMs, env: env() });
}

let agent: Agent | undefined;

async function ping(): Promise<boolean> {
  agent ??= new Agent({ connect: { socketPath: PODMAN_SOCKET } });
  try {
    const res = await request("http://podman/_ping", { dispatcher: agent, headersTimeout: 5000, bodyTimeout: 5000 });
    await res.body.text();
    return res.statusCode === 200;
  } catch {
    return false;
  }
}

let loaded = false;

export const podman: ServiceDef = {
  name: "podman",
  summary: "Podman API service (podman system service) on its own socket, with the test image loaded",
  async provision() {
    if (process.getuid?.() !== 0) throw new HarnessError("podman: runs containers and so needs root");
    installDebianTools("/usr/bin/podman=podman", "/usr/sbin/runc=runc", "/usr/sbin/debootstrap=debootstrap", "/usr/bin/cc=gcc", "/usr/include/stdio.h=libc6-dev");
    await ensureImages();
    for (const d of ["root", "run", "tmp"]) mkdirSync(join(PODMAN_HOME, d), { recursive: true });
    chmodSync(RUNC_WRAPPER, 0o755);
    writeFileSync(
      CONTAINERS_CONF,
      `[engine]
runtime = "runc-caps"
cgroup_manager = "cgroupfs"
events_logger = "file"
[engine.runtimes]
runc-caps = ["${RUNC_WRAPPER}"]
[containers]
# podman raises a root container's open files and processes limits to 1048576, which root here
# (without CAP_SYS_RESOURCE) may not ("error setting rlimits"): modest limits below any host's
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[network]
default_network = "none"
`,
    );
    writeFileSync(
      join(PODMAN_HOME, "storage.conf"),
      `[storage]
driver = "overlay"
graphroot = "${join(PODMAN_HOME, "root")}"
runroot = "${join(PODMAN_HOME, "run")}"
`,
    );
  },
  spawn() {
    loaded = false;
    startDaemon({
      name: "podman",
      command: "podman",
      args: [...GLOBAL, "system", "service", "--time=0", PODMAN_HOST],
      env: env(),
      marker: PODMAN_SOCKET,
    });
  },
  async ready() {
    if (!(await ping())) return false;
    if (!loaded) {
      const have = await podmanCli(["image", "exists", TESTBASE.ref]);
      if (have.status !== 0) {
        note(`podman: loading ${TESTBASE.ref}`);
        const r = await podmanCli(["load", `--input=${TESTBASE.tarball}`]);
        if (r.status !== 0) throw new HarnessError(`podman: loading ${TESTBASE.tarball} failed: ${(r.stderr || r.stdout).trim()}`);
      }
      loaded = true;
    }
    return true;
  },
  readyTimeoutMs: 120_000,
  ports: [],
  env: () => ({ PODMAN_HOST }),
  onDemand: true,
};
