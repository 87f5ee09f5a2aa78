/**
 * Builds Falcosidekick, the router Peregrine is measured against, from its Go module at a
 * pinned commit, with the Go toolchain, into the gitignored cache. Its go.mod carries a
 * replace directive, so `go install module@version` refuses it: the module is downloaded,
 * copied out of the read-only module cache and built in place.
 *
 * Where the module proxy does not serve the pinned version, FALCOSIDEKICK_SRC may name a
 * checkout of the same commit; it is copied and built the same way.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export const SIDEKICK_MODULE = "github.com/falcosecurity/falcosidekick";
/** Release 2.34.1. Its tags lack the `v` prefix Go needs, so the module is pinned by pseudo-version. */
export const SIDEKICK_RELEASE = "2.34.1";
export const SIDEKICK_COMMIT = "03364bc26b2262439a5ddeb57e1e354742727e11";
export const SIDEKICK_VERSION = "v0.0.0-20260603140136-03364bc26b22";

const REPO = resolve(import.meta.dirname, "../..");
const CACHE = join(REPO, ".cache", "falcosidekick");
const SRC = join(CACHE, `src-${SIDEKICK_RELEASE}`);
export const SIDEKICK_BIN = join(CACHE, `falcosidekick-${SIDEKICK_RELEASE}`);

export class BuildError extends Error {}

function go(args: string[], cwd: string): { ok: boolean; stdout: string; stderr: string } {
  const r = spawnSync("nice", ["-n", "10", "go", ...args], { cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new BuildError(`cannot run the Go toolchain (go ${args[0]}): ${r.error.message}; install Go 1.26 or newer`);
  return { ok: r.status === 0, stdout: r.stdout, stderr: r.stderr };
}

/** Copies a source tree into the cache, writable (the module cache is read-only). */
function copySource(from: string): void {
  cpSync(from, SRC, { recursive: true, filter: (p) => !p.endsWith("/.git") });
  const makeWritable = (dir: string): void => {
    chmodSync(dir, 0o755);
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) makeWritable(p);
      else chmodSync(p, 0o644);
    }
  };
  makeWritable(SRC);
}

function fetchSource(log: (line: string) => void): void {
  log(`downloading ${SIDEKICK_MODULE}@${SIDEKICK_VERSION} (release ${SIDEKICK_RELEASE})`);
  const dl = go(["mod", "download", "-json", `${SIDEKICK_MODULE}@${SIDEKICK_VERSION}`], REPO);
  let info: { Dir?: string; Error?: string } = {};
  try {
    info = JSON.parse(dl.stdout) as typeof info;
  } catch {
    info = { Error: dl.stderr.trim() || "go mod download printed no JSON" };
  }
  if (info.Dir && existsSync(info.Dir)) {
    copySource(info.Dir);
    return;
  }
  const local = process.env.FALCOSIDEKICK_SRC;
  if (local) {
    const goMod = join(local, "go.mod");
    if (!existsSync(goMod) || !readFileSync(goMod, "utf8").includes(`module ${SIDEKICK_MODULE}`))
      throw new BuildError(`FALCOSIDEKICK_SRC=${local} is not a checkout of ${SIDEKICK_MODULE} (no matching go.mod)`);
    log(`the module proxy did not serve it (${info.Error ?? "no Dir"}); using FALCOSIDEKICK_SRC=${local}`);
    copySource(local);
    return;
  }
  throw new BuildError(
    `cannot get ${SIDEKICK_MODULE}@${SIDEKICK_VERSION}: ${info.Error ?? "no module directory"}\n` +
      `Set FALCOSIDEKICK_SRC to a checkout of commit ${SIDEKICK_COMMIT} (release ${SIDEKICK_RELEASE}) to build from it instead.`,
  );
}

/** Returns the path of the Falcosidekick binary, building it first when absent. */
export function ensureSidekick(log: (line: string) => void = (l) => console.error(l)): string {
  if (existsSync(SIDEKICK_BIN)) return SIDEKICK_BIN;
  mkdirSync(CACHE, { recursive: true });
  if (!existsSync(join(SRC, "go.mod"))) fetchSource(log);
  log(`building Falcosidekick ${SIDEKICK_RELEASE} (a few minutes on two cores)`);
  const b = go(["build", "-trimpath", "-o", SIDEKICK_BIN, "."], SRC);
  if (!b.ok) throw new BuildError(`go build of Falcosidekick failed:\n${b.stderr.split("\n").slice(-20).join("\n")}`);
  return SIDEKICK_BIN;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  try {
    console.log(ensureSidekick());
  } catch (err) {
    console.error(err instanceof BuildError ? err.message : String(err));
    process.exit(1);
  }
}
