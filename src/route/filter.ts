import type { Alert } from "../alert.js";
import { parseCondition } from "../detector/condition/parser.js";
import { compileCondition, CompileError, type LiteralAware } from "../detector/compiler/compile.js";
import type { EventSource, FieldInfo } from "../detector/event.js";
import { alertSource, severity } from "../detector/sources/alert.js";
import { parsePriority } from "../alert.js";
import { errorMessage } from "../errors.js";

export interface FilterProblem {
  message: string;
  /** 1-based, inside the condition text. */
  line: number;
  column: number;
  /** The rule engine's code, as for a rule's condition. */
  code: string;
}

export type FilterCompileResult = { ok: true; match: (alert: Alert) => boolean } | { ok: false; errors: FilterProblem[] };

const CODE = "LOAD_ERR_COMPILE_CONDITION";

/** The alert source, its priority field also reading the severity numbers the rewrite below writes. */
const filterSource: EventSource<Alert> = {
  ...alertSource,
  fields: new Map(
    [...alertSource.fields].map(([name, info]): [string, FieldInfo] => {
      const literal = (info as FieldInfo & LiteralAware).literal;
      if (name !== "alert.priority" || literal === undefined) return [name, info];
      const field: FieldInfo & LiteralAware = { ...info, literal: (t) => (/^[0-7]$/.test(t) ? Number(t) : literal(t)) };
      return [name, field];
    }),
  ),
};

/**
 * Compiles an output's `filter:` once with the rule engine, over the `alert` source
 * (alert.rule, alert.priority, alert.tags, alert.field[...], ...). No macros or lists:
 * a filter stands alone.
 */
export function compileFilter(text: string): FilterCompileResult {
  const rewritten = rewrite(text);
  const problem = (message: string, offset: number): FilterCompileResult => ({
    ok: false,
    errors: [{ message, ...originalPosition(text, rewritten.edits, offset), code: CODE }],
  });
  const parsed = parseCondition(rewritten.text);
  if (!parsed.ok) return problem(parsed.error.message, parsed.error.pos.offset);
  try {
    return { ok: true, match: compileCondition(parsed.ast, filterSource) };
  } catch (err) {
    if (err instanceof CompileError) return problem(err.message, err.pos.offset);
    return problem(errorMessage(err), 0);
  }
}

/** One line per problem for `config check`: position inside the condition, message, code. */
export function describeFilterProblem(p: FilterProblem): string {
  return `${CODE === p.code ? "condition" : p.code} line ${p.line}, column ${p.column}: ${p.message}`;
}

/**
 * Two spellings the rule grammar lacks, rewritten before parsing: `alert.priority >= warning`
 * (Falco's grammar takes only numbers after < <= > >=; the name becomes its severity) and
 * `alert.tags contains k8s` (a list field takes `intersects`). Error positions are mapped
 * back to the text as written.
 */
const REWRITES = /(\balert\.priority\s*(?:>=|<=|>|<)\s*)([A-Za-z]+)\b|(\balert\.tags\s+)contains(\s+)([^\s()"',=]+|"[^"]*"|'[^']*')/g;

interface Edit {
  newStart: number;
  newEnd: number;
  origStart: number;
  origEnd: number;
}

function rewrite(text: string): { text: string; edits: Edit[] } {
  const edits: Edit[] = [];
  let shift = 0;
  const out = text.replace(REWRITES, (whole: string, head?: string, name?: string, tagsHead?: string, gap?: string, value?: string, offset?: number) => {
    let replacement = whole;
    if (head !== undefined && name !== undefined) {
      const p = parsePriority(name);
      if (p !== undefined) replacement = head + String(severity(p));
    } else if (tagsHead !== undefined && value !== undefined) {
      replacement = `${tagsHead}intersects${gap ?? " "}(${value})`;
    }
    const origStart = offset!;
    edits.push({ newStart: origStart + shift, newEnd: origStart + shift + replacement.length, origStart, origEnd: origStart + whole.length });
    shift += replacement.length - whole.length;
    return replacement;
  });
  return { text: out, edits };
}

function originalPosition(text: string, edits: readonly Edit[], offset: number): { line: number; column: number } {
  let orig = offset;
  for (const e of edits) {
    if (offset < e.newStart) break;
    orig = offset < e.newEnd ? e.origStart + Math.min(offset - e.newStart, e.origEnd - e.origStart - 1) : offset - e.newEnd + e.origEnd;
  }
  orig = Math.max(0, Math.min(orig, text.length));
  const before = text.slice(0, orig);
  const line = before.split("\n").length;
  return { line, column: orig - (before.lastIndexOf("\n") + 1) + 1 };
}
