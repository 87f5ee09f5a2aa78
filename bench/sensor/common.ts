/** What the sensor benchmarks share: where things are, and their numeric flags. */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const here = dirname(fileURLToPath(import.meta.url));
export const root = join(here, "..", "..");
/** Falco's stable rules, read in place from the shared corpus beside the repository. */
export const RULES = join(root, "..", "shared", "corpus", "falco-rules", "falco_rules.yaml");

/** `--name N` from the command line, or `def`; anything but a non-negative number ends the run naming the flag. */
export function flag(name: string, def: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return def;
  const text = process.argv[i + 1];
  const n = Number(text);
  if (text === undefined || text.trim() === "" || !Number.isFinite(n) || n < 0) {
    console.error(`error: --${name} expects a non-negative number, got ${text === undefined ? "nothing" : `"${text}"`}`);
    process.exit(2);
  }
  return n;
}
