import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join, resolve } from "node:path";
import { compileCondition } from "../../../src/detector/compiler/compile.js";
import { parseCondition } from "../../../src/detector/condition/parser.js";
import type { EventSource } from "../../../src/detector/event.js";

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

/** A condition parsed and compiled for `source`; a parse error throws, naming it. */
export function compiled<E>(cond: string, source: EventSource<E>): (event: E) => boolean {
  const r = parseCondition(cond);
  if (!r.ok) throw new Error(`${cond}: ${r.error.message}`);
  return compileCondition(r.ast, source);
}
