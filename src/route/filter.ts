import type { Alert } from "../alert.js";

export interface FilterProblem {
  message: string;
  /** 1-based, inside the condition text. */
  line: number;
  column: number;
  code: string;
}

export type FilterCompileResult = { ok: true; match: (alert: Alert) => boolean } | { ok: false; errors: FilterProblem[] };

/** Compiles an output's `filter:` with the rule engine, over the `alert` source. */
export function compileFilter(text: string): FilterCompileResult {
  return {
    ok: false,
    errors: [{ message: `filters need the rule engine's alert source, missing from this build (filter: ${JSON.stringify(text)})`, line: 1, column: 1, code: "LOAD_ERR_COMPILE_CONDITION" }],
  };
}

/** One line per problem for `config check`: position inside the condition, message, code. */
export function describeFilterProblem(p: FilterProblem): string {
  return `filter line ${p.line}, column ${p.column}: ${p.message} (${p.code})`;
}
