/**
 * helm, built from its Go module (helm.sh/helm/v3) at a pinned release and cached by version
 * outside the work tree (BUILD_CACHE_DIR), like the Kubernetes binaries. The kubernetes
 * service provisions it and prints it as HELM= in `npm run services -- env`.
 * Async (runCommand): a test worker may build it on a first run without blocking.
 */
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { withLock } from "../lock.js";
import { BUILD_CACHE_DIR } from "../paths.js";
import { commandExists, HarnessError, note } from "../proc.js";
import { runCommand } from "../run-command.js";
import { goEnv } from "./etcd.js";

export const HELM_VERSION = "v3.22.1";
const BIN_DIR = join(BUILD_CACHE_DIR, "helm", HELM_VERSION);
export const HELM = join(BIN_DIR, "helm");

let building: Promise<string> | undefined;

export function ensureHelm(): Promise<string> {
  if (existsSync(HELM)) return Promise.resolve(HELM);
  // the lock: two test files (processes) may both find it missing on a first run
  building ??= withLock("helm-build", () => (existsSync(HELM) ? Promise.resolve(HELM) : build())).finally(() => (building = undefined));
  return building;
}

async function build(): Promise<string> {
  if (!commandExists("go")) throw new HarnessError("helm is built from source: install the Go toolchain (1.24 or newer)");
  note(`helm: building ${HELM_VERSION} from its Go module (first run: several minutes on two cores)`);
  const t0 = Date.now();
  const tmp = `${BIN_DIR}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  // The version is stamped, or `helm version` says v3 with no release.
  const r = await runCommand(
    "nice",
    ["-n", "15", "go", "install", "-trimpath", "-ldflags", `-s -w -X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`, `helm.sh/helm/v3/cmd/helm@${HELM_VERSION}`],
    { env: { ...goEnv(), GOBIN: tmp }, cwd: BUILD_CACHE_DIR, timeoutMs: 60 * 60_000 },
  );
  if (r.status !== 0) throw new HarnessError(`helm: go install failed (exit ${r.status}):\n${r.stderr.trim().split("\n").slice(-30).join("\n")}`);
  mkdirSync(BIN_DIR, { recursive: true });
  renameSync(join(tmp, "helm"), HELM);
  rmSync(tmp, { recursive: true, force: true });
  note(`helm: built in ${((Date.now() - t0) / 60_000).toFixed(1)} min`);
  return HELM;
}
