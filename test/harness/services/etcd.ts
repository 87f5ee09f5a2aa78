/**
 * etcd for the Kubernetes service, built from its Go module at a pinned release and cached
 * by version outside the work tree (BUILD_CACHE_DIR), so a fresh clone reuses the binary.
 * Client URL http://127.0.0.1:2379, peer 127.0.0.1:2380; data under the harness cache.
 *
 * `go install` refuses the server module (its go.mod replaces sibling modules with relative
 * paths), so the module is copied out of the module cache, the relative replaces dropped (the
 * go.mod already requires those modules at the same release) and built with -mod=mod.
 */
import { spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILD_CACHE_DIR, cachePath } from "../paths.js";
import { commandExists, HarnessError, httpOk, note, run, startDaemon } from "../proc.js";
import type { ServiceDef } from "./types.js";

export const ETCD_VERSION = "v3.6.8";
export const ETCD_URL = "http://127.0.0.1:2379";
const BIN = join(BUILD_CACHE_DIR, "etcd", ETCD_VERSION, "etcd");
const DATA = cachePath("etcd", "data");

/** Go's caches for the harness builds live beside the binaries, so one directory holds all. */
export function goEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GOMODCACHE: join(BUILD_CACHE_DIR, "go", "mod"),
    GOCACHE: join(BUILD_CACHE_DIR, "go", "build"),
    GOFLAGS: "-buildvcs=false",
    GOWORK: "off",
  };
}

/** Downloads a module and copies it out of the (read-only) module cache into `dest`. */
export function moduleSource(module: string, version: string, dest: string): void {
  if (!commandExists("go")) throw new HarnessError(`${module} is built from source: install the Go toolchain (1.24 or newer)`);
  const out = run("go", ["mod", "download", "-json", `${module}@${version}`], { env: goEnv(), cwd: BUILD_CACHE_DIR });
  const dir = (JSON.parse(out) as { Dir?: string }).Dir;
  if (!dir) throw new HarnessError(`go mod download ${module}@${version} gave no directory`);
  rmSync(dest, { recursive: true, force: true });
  cpSync(dir, dest, { recursive: true });
  run("chmod", ["-R", "u+w", dest]);
}

/** Runs a build step at low priority (two cores shared with running tests). */
export function goBuild(args: string[], cwd: string): void {
  run("nice", ["-n", "15", "go", ...args], { env: goEnv(), cwd });
}

export function ensureEtcd(): string {
  if (existsSync(BIN)) return BIN;
  mkdirSync(BUILD_CACHE_DIR, { recursive: true });
  note(`etcd: building ${ETCD_VERSION} from its Go module (first run, a minute or more)`);
  const t0 = Date.now();
  const work = join(BUILD_CACHE_DIR, "etcd", `${ETCD_VERSION}.work`);
  moduleSource("go.etcd.io/etcd/server/v3", ETCD_VERSION, work);
  const gomod = join(work, "go.mod");
  const text = readFileSync(gomod, "utf8")
    .replace(/^replace \([\s\S]*?^\)\n/m, "")
    .replace(/^replace .* => \.\.\/.*\n/gm, "");
  writeFileSync(gomod, text);
  goBuild(["build", "-mod=mod", "-trimpath", "-o", `${BIN}.tmp`, "."], work);
  renameSync(`${BIN}.tmp`, BIN);
  rmSync(work, { recursive: true, force: true });
  note(`etcd: built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return BIN;
}

export const etcd: ServiceDef = {
  name: "etcd",
  summary: `etcd ${ETCD_VERSION} on ${ETCD_URL} (the Kubernetes service's store)`,
  async provision() {
    ensureEtcd();
    mkdirSync(DATA, { recursive: true });
  },
  spawn() {
    startDaemon({
      name: "etcd",
      command: BIN,
      args: [
        "--name=peregrine",
        `--data-dir=${DATA}`,
        `--listen-client-urls=${ETCD_URL}`,
        `--advertise-client-urls=${ETCD_URL}`,
        "--listen-peer-urls=http://127.0.0.1:2380",
        "--initial-advertise-peer-urls=http://127.0.0.1:2380",
        "--initial-cluster=peregrine=http://127.0.0.1:2380",
        "--listen-metrics-urls=http://127.0.0.1:2381",
        "--log-level=warn",
      ],
      marker: DATA,
    });
  },
  async ready() {
    return httpOk(`${ETCD_URL}/health`);
  },
  readyTimeoutMs: 60_000,
  onDemand: true,
  ports: [2379, 2380],
  env: () => ({ ETCD_ENDPOINTS: ETCD_URL }),
};

/** The etcd binary's version line (for docs and checks). */
export function etcdVersion(): string {
  return spawnSync(BIN, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0] ?? "";
}
