/**
 * Docker Compose v2 for the docker service.
 *
 * Compose is built from its Go module (github.com/docker/compose/v2) at a pinned release,
 * cached by version outside the work tree (BUILD_CACHE_DIR), and installed as a Docker CLI
 * plugin: `cli-plugins/docker-compose` in a DOCKER_CONFIG directory the harness owns, which
 * `npm run services -- env docker` exports, so `docker compose` works in that shell.
 * `go install` refuses the module (its go.mod has exclude directives), so the module is copied
 * out of the module cache and built there with -mod=mod.
 */
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { withLock } from "../lock.js";
import { BUILD_CACHE_DIR, cachePath } from "../paths.js";
import { commandExists, HarnessError, note } from "../proc.js";
import { runCommand } from "../run-command.js";
import { goEnv } from "./etcd.js";

export const COMPOSE_VERSION = "v2.40.3";
/** The docker CLI's configuration directory (DOCKER_CONFIG) for the docker service: its cli-plugins/ holds Compose. */
export const DOCKER_CONFIG = cachePath("docker", "config");
const COMPOSE_DIR = join(BUILD_CACHE_DIR, "compose", COMPOSE_VERSION);
export const COMPOSE_BIN = join(COMPOSE_DIR, "docker-compose");

let building: Promise<string> | undefined;

/** Builds Compose (first run: several minutes) and installs it as the CLI plugin. */
export async function ensureCompose(): Promise<string> {
  if (!existsSync(COMPOSE_BIN)) {
    building ??= withLock("compose-build", () => (existsSync(COMPOSE_BIN) ? Promise.resolve(COMPOSE_BIN) : buildCompose())).finally(() => (building = undefined));
    await building;
  }
  const plugin = join(DOCKER_CONFIG, "cli-plugins", "docker-compose");
  if (!existsSync(plugin) || readFileSync(plugin).length !== readFileSync(COMPOSE_BIN).length) {
    mkdirSync(join(DOCKER_CONFIG, "cli-plugins"), { recursive: true });
    copyFileSync(COMPOSE_BIN, `${plugin}.tmp`);
    renameSync(`${plugin}.tmp`, plugin);
  }
  return plugin;
}

async function buildCompose(): Promise<string> {
  if (!commandExists("go")) throw new HarnessError("docker compose is built from source: install the Go toolchain (1.24 or newer)");
  note(`compose: building ${COMPOSE_VERSION} from its Go module (first run: ten minutes or more on two cores)`);
  const t0 = Date.now();
  const module = "github.com/docker/compose/v2";
  mkdirSync(BUILD_CACHE_DIR, { recursive: true });
  const dl = await runCommand("go", ["mod", "download", "-json", `${module}@${COMPOSE_VERSION}`], { env: goEnv(), cwd: BUILD_CACHE_DIR, timeoutMs: 10 * 60_000 });
  const dir = dl.status === 0 ? (JSON.parse(dl.stdout) as { Dir?: string }).Dir : undefined;
  if (!dir) throw new HarnessError(`compose: go mod download failed (exit ${dl.status}): ${dl.stderr.trim()}`);
  const work = `${COMPOSE_DIR}.work`;
  rmSync(work, { recursive: true, force: true });
  cpSync(dir, work, { recursive: true });
  await runCommand("chmod", ["-R", "u+w", work]);
  const out = `${COMPOSE_DIR}.tmp`;
  rmSync(out, { recursive: true, force: true });
  // The version is stamped, or `docker compose version` says "dev".
  const r = await runCommand(
    "nice",
    ["-n", "10", "go", "build", "-mod=mod", "-trimpath", "-ldflags", `-s -w -X ${module}/internal.Version=${COMPOSE_VERSION}`, "-o", join(out, "docker-compose"), "./cmd"],
    { env: goEnv(), cwd: work, timeoutMs: 90 * 60_000 },
  );
  if (r.status !== 0) throw new HarnessError(`compose: go build failed (exit ${r.status}):\n${r.stderr.trim().split("\n").slice(-30).join("\n")}`);
  rmSync(COMPOSE_DIR, { recursive: true, force: true });
  renameSync(out, COMPOSE_DIR);
  rmSync(work, { recursive: true, force: true });
  note(`compose: built in ${((Date.now() - t0) / 60_000).toFixed(1)} min`);
  return COMPOSE_BIN;
}

