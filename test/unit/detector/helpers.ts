import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, resolve } from "node:path";

/** The repository root. */
export const REPO = fileURLToPath(new URL("../../../", import.meta.url));
/** Falco's rules corpus, read in place next to the repository. */
export const CORPUS = resolve(REPO, "../shared/corpus/falco-rules");
export const STABLE_RULES = join(CORPUS, "falco_rules.yaml");
export const INCUBATING_RULES = join(CORPUS, "falco-incubating_rules.yaml");
export const FIXTURES = join(REPO, "test/fixtures");

export function fixture(...parts: string[]): string {
  return readFileSync(join(FIXTURES, ...parts), "utf8");
}
