/**
 * The container images the docker and containerd services run, made here because no image
 * registry is reachable: a Debian bookworm base (debootstrap from the machine's own Debian
 * mirror, with e2fsprogs for debugfs, netcat-openbsd and procps) and a pause image holding
 * one static binary. Each is packed as a docker-archive tarball (one layer, a config whose
 * rootfs.diff_ids names it, a manifest.json with RepoTags), which `docker load` and
 * `ctr images import` both take.
 *
 * The tarballs are cached by version in the build cache (outside the work tree, so a fresh
 * clone reuses them); a change to what goes in an image must bump its version.
 */
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BUILD_CACHE_DIR, HARNESS_DIR } from "../paths.js";
import { withLock } from "../lock.js";
import { HarnessError, note, run } from "../proc.js";

export interface ImageSpec {
  /** As the engines name it once loaded (Docker Hub's implicit docker.io/ prefix aside). */
  ref: string;
  /** What the engines list it as after import (containerd keeps the full name). */
  fullRef: string;
  tarball: string;
}

export const TESTBASE_PACKAGES = ["e2fsprogs", "netcat-openbsd", "procps"];
const TESTBASE_VERSION = "bookworm-1";
const PAUSE_VERSION = "3-1";

export const TESTBASE: ImageSpec = {
  ref: "peregrine/testbase:bookworm",
  fullRef: "docker.io/peregrine/testbase:bookworm",
  tarball: join(BUILD_CACHE_DIR, "images", `testbase-${TESTBASE_VERSION}.tar`),
};

export const PAUSE: ImageSpec = {
  ref: "peregrine/pause:3",
  fullRef: "docker.io/peregrine/pause:3",
  tarball: join(BUILD_CACHE_DIR, "images", `pause-${PAUSE_VERSION}.tar`),
};

export const IMAGES: readonly ImageSpec[] = [TESTBASE, PAUSE];

function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(file)
      .on("data", (c) => h.update(c))
      .on("end", () => resolve(h.digest("hex")))
      .on("error", reject);
  });
}

/** The first Debian mirror the machine's apt sources name for the main suite. */
export function debianMirror(): string {
  const found: string[] = [];
  const dir = "/etc/apt/sources.list.d";
  const files = ["/etc/apt/sources.list", ...(existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : [])];
  for (const f of files) {
    if (!existsSync(f) || !(f.endsWith(".list") || f.endsWith(".sources"))) continue;
    const text = readFileSync(f, "utf8");
    if (f.endsWith(".sources")) {
      // deb822 stanzas: URIs and Suites fields
      for (const stanza of text.split(/\n\s*\n/)) {
        const uri = /^URIs:\s*(\S+)/m.exec(stanza)?.[1];
        const suites = /^Suites:\s*(.+)$/m.exec(stanza)?.[1]?.split(/\s+/) ?? [];
        if (uri && suites.includes("bookworm")) found.push(uri);
      }
    } else {
      for (const line of text.split("\n")) {
        const m = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/.exec(line);
        if (m) found.push(m[1]!);
      }
    }
  }
  if (found.length === 0) throw new HarnessError("no Debian bookworm mirror in the apt sources: the test image is built with debootstrap from it");
  return found[0]!;
}

/** Packs a root directory as a one-layer docker-archive tarball tagged `ref`. */
async function packArchive(rootfs: string, ref: string, out: string, cmd: string[]): Promise<void> {
  const work = `${out}.work`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const layerTmp = join(work, "layer.tar");
  // numeric owners: the image must not depend on this machine's user names
  run("tar", ["--numeric-owner", "--xattrs", "-C", rootfs, "-cf", layerTmp, "."]);
  const layerId = await sha256File(layerTmp);
  mkdirSync(join(work, layerId));
  renameSync(layerTmp, join(work, layerId, "layer.tar"));
  const config = {
    architecture: "amd64",
    os: "linux",
    created: "2026-01-01T00:00:00Z",
    config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: cmd },
    rootfs: { type: "layers", diff_ids: [`sha256:${layerId}`] },
    history: [{ created: "2026-01-01T00:00:00Z", created_by: "peregrine test harness" }],
  };
  const configText = JSON.stringify(config);
  const configId = createHash("sha256").update(configText).digest("hex");
  writeFileSync(join(work, `${configId}.json`), configText);
  writeFileSync(join(work, "manifest.json"), JSON.stringify([{ Config: `${configId}.json`, RepoTags: [ref], Layers: [`${layerId}/layer.tar`] }]));
  run("tar", ["-C", work, "-cf", `${out}.tmp`, "manifest.json", `${configId}.json`, `${layerId}/layer.tar`]);
  renameSync(`${out}.tmp`, out); // atomic: a half-written tarball is never taken for a built one
  rmSync(work, { recursive: true, force: true });
}

async function buildPause(): Promise<void> {
  const dir = `${PAUSE.tarball}.build`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, "rootfs"), { recursive: true });
  note("images: building the pause image (a static binary)");
  run("cc", ["-static", "-Os", "-s", "-o", join(dir, "rootfs", "pause"), join(HARNESS_DIR, "images", "pause.c")]);
  await packArchive(join(dir, "rootfs"), PAUSE.ref, PAUSE.tarball, ["/pause"]);
  rmSync(dir, { recursive: true, force: true });
}

async function buildTestbase(): Promise<void> {
  const dir = `${TESTBASE.tarball}.build`;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const rootfs = join(dir, "rootfs");
  const t0 = Date.now();
  note(`images: building ${TESTBASE.ref} with debootstrap (first run, a few minutes)`);
  run("nice", [
    "-n",
    "15",
    "debootstrap",
    "--variant=minbase",
    `--include=${TESTBASE_PACKAGES.join(",")}`,
    "bookworm",
    rootfs,
    debianMirror(),
  ]);
  // downloaded .debs and apt lists are not part of the image
  rmSync(join(rootfs, "var", "cache", "apt", "archives"), { recursive: true, force: true });
  mkdirSync(join(rootfs, "var", "cache", "apt", "archives", "partial"), { recursive: true });
  rmSync(join(rootfs, "var", "lib", "apt", "lists"), { recursive: true, force: true });
  mkdirSync(join(rootfs, "var", "lib", "apt", "lists", "partial"), { recursive: true });
  await packArchive(rootfs, TESTBASE.ref, TESTBASE.tarball, ["/bin/sh"]);
  run("rm", ["-rf", "--one-file-system", dir]);
  note(`images: ${TESTBASE.ref} built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

let building: Promise<void> | undefined;

/** Builds the images not yet in the build cache (needs root, debootstrap and a C compiler). */
export function ensureImages(): Promise<void> {
  building ??= (async () => {
    if (IMAGES.every((i) => existsSync(i.tarball))) return;
    // one build at a time across processes (the services provision in parallel runs)
    await withLock("build-images", async () => {
      mkdirSync(join(BUILD_CACHE_DIR, "images"), { recursive: true });
      if (!existsSync(PAUSE.tarball)) await buildPause();
      if (!existsSync(TESTBASE.tarball)) await buildTestbase();
    });
  })();
  building.catch(() => {
    building = undefined;
  });
  return building;
}
