/**
 * compileAlertFilter: the rule language over received alerts, for the router's per-output
 * filters — `alert.priority >= warning and not alert.rule startswith "Test"`. Fields are the
 * `alert` source's (see docs/fields.md); macros and lists do not exist here.
 */
import type { Alert } from "../alert.js";
import type { Expr } from "./condition/ast.js";
import { caretSnippet, parseCondition } from "./condition/parser.js";
import { CompileError, compileCondition } from "./compiler/compile.js";
import { alertSource } from "./sources/alert.js";

export interface AlertFilterError {
  message: string;
  /** 1-based line and column in the filter text. */
  line: number;
  column: number;
  /** LOAD_ERR_COMPILE_CONDITION for syntax and type errors. */
  code: "LOAD_ERR_COMPILE_CONDITION";
  /** The offending line with a caret under the column. */
  snippet: string;
}

export type AlertFilter = { ok: true; match(alert: Alert): boolean } | { ok: false; errors: AlertFilterError[] };

function firstMacro(e: Expr): Extract<Expr, { kind: "macro" }> | undefined {
  switch (e.kind) {
    case "macro":
      return e;
    case "and":
    case "or":
      for (const c of e.children) {
        const m = firstMacro(c);
        if (m) return m;
      }
      return undefined;
    case "not":
      return firstMacro(e.child);
    default:
      return undefined;
  }
}

export function compileAlertFilter(text: string): AlertFilter {
  const fail = (message: string, pos: { line: number; col: number; offset: number }): AlertFilter => ({
    ok: false,
    errors: [{ message, line: pos.line, column: pos.col, code: "LOAD_ERR_COMPILE_CONDITION", snippet: caretSnippet(text, pos) }],
  });
  const parsed = parseCondition(text);
  if (!parsed.ok) return fail(parsed.error.message, parsed.error.pos);
  const macro = firstMacro(parsed.ast);
  if (macro) return fail(`'${macro.name}' is not a check: alert filters have no macros (did you mean a field such as alert.rule?)`, macro.pos);
  try {
    const match = compileCondition(parsed.ast, alertSource);
    return { ok: true, match };
  } catch (err) {
    if (err instanceof CompileError) return fail(err.message, err.pos);
    throw err;
  }
}
