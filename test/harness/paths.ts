import { fileURLToPath } from "node:url";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";

/** The repository root (this file lives in test/harness/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/**
 * Everything the harness downloads, builds or writes at run time lives here (gitignored).
 * PEREGRINE_HARNESS_CACHE moves it, e.g. to share one cache between clones.
 */
export const CACHE_DIR = process.env.PEREGRINE_HARNESS_CACHE
  ? resolve(process.env.PEREGRINE_HARNESS_CACHE)
  : join(REPO_ROOT, ".cache", "harness");

/**
 * Slow builds that depend on nothing in the checkout (container images) live outside the
 * work tree, so a fresh clone reuses them. PEREGRINE_BUILD_CACHE moves it.
 */
export const BUILD_CACHE_DIR = process.env.PEREGRINE_BUILD_CACHE
  ? resolve(process.env.PEREGRINE_BUILD_CACHE)
  : join(homedir(), ".cache", "peregrine-harness");

/** Pid files and logs of running services. */
export const RUN_DIR = join(CACHE_DIR, "run");

/** Files shipped with the harness (poms, configs). */
export const HARNESS_DIR = join(REPO_ROOT, "test", "harness");

export function cachePath(...parts: string[]): string {
  return join(CACHE_DIR, ...parts);
}
