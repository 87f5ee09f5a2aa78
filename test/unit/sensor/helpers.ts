/** Builds the sensor through the project's own build script (installs tools when missing). */
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
export const SENSOR = join(ROOT, "sensor", "build", "peregrine-sensor");
export const WIRE_DUMP = join(ROOT, "sensor", "build", "wire-dump");

let built = false;
export function buildSensor(): void {
  if (built) return;
  execFileSync(process.execPath, [join(ROOT, "scripts", "build-sensor.mjs")], { stdio: ["ignore", "ignore", "inherit"] });
  built = true;
}

export const isRoot = typeof process.getuid === "function" && process.getuid() === 0;

export const TESTPROGS = join(ROOT, "sensor", "build", "testprogs");
export const FALCO_RULES = join(ROOT, "..", "shared", "corpus", "falco-rules", "falco_rules.yaml");
export const FALCO_INCUBATING_RULES = join(ROOT, "..", "shared", "corpus", "falco-rules", "falco-incubating_rules.yaml");

/**
 * Polls `get` until it returns a value; after `ms`, fails naming `what` and, when given,
 * what `debug` says (the alerts seen so far, say).
 */
export async function waitFor<T>(what: string, get: () => T | undefined, ms = 30_000, debug?: () => string): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = get();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}${debug ? `\n${debug()}` : ""}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
