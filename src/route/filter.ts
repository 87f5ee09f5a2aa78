import type { Alert } from "../alert.js";
import { compileAlertFilter } from "../detector/index.js";

export interface FilterProblem {
  message: string;
  /** 1-based, inside the condition text as written. */
  line: number;
  column: number;
  /** The rule engine's code, as for a rule's condition. */
  code: string;
}

export type FilterCompileResult = { ok: true; match: (alert: Alert) => boolean } | { ok: false; errors: FilterProblem[] };

/**
 * Compiles an output's `filter:` once with the rule engine, over the `alert` source
 * (alert.rule, alert.priority >= warning, alert.tags, alert.field[...], ...). No macros or
 * lists: a filter stands alone.
 */
export function compileFilter(text: string): FilterCompileResult {
  const rewritten = rewrite(text);
  const result = compileAlertFilter(rewritten.text);
  if (result.ok) return { ok: true, match: (alert) => result.match(alert) };
  return {
    ok: false,
    errors: result.errors.map((e) => ({
      message: e.message,
      code: e.code,
      ...originalPosition(text, rewritten.edits, offsetOf(rewritten.text, e.line, e.column)),
    })),
  };
}

/** One line per problem for `config check`: position inside the condition, then the message. */
export function describeFilterProblem(p: FilterProblem): string {
  return `condition line ${p.line}, column ${p.column}: ${p.message}`;
}

/**
 * `alert.tags contains k8s` reads naturally but a list field takes `intersects` in the rule
 * language: it is rewritten so before compiling, and error positions are mapped back to the
 * text as written.
 */
const TAGS_CONTAINS = /(\balert\.tags\s+)contains(\s+)([^\s()"',=]+|"[^"]*"|'[^']*')/g;

interface Edit {
  newStart: number;
  newEnd: number;
  origStart: number;
  origEnd: number;
}

function rewrite(text: string): { text: string; edits: Edit[] } {
  const edits: Edit[] = [];
  let shift = 0;
  const out = text.replace(TAGS_CONTAINS, (whole: string, head: string, gap: string, value: string, offset: number) => {
    const replacement = `${head}intersects${gap}(${value})`;
    edits.push({ newStart: offset + shift, newEnd: offset + shift + replacement.length, origStart: offset, origEnd: offset + whole.length });
    shift += replacement.length - whole.length;
    return replacement;
  });
  return { text: out, edits };
}

function offsetOf(text: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const nl = text.indexOf("\n", offset);
    if (nl < 0) break;
    offset = nl + 1;
  }
  return offset + column - 1;
}

function originalPosition(text: string, edits: readonly Edit[], offset: number): { line: number; column: number } {
  let orig = offset;
  for (const e of edits) {
    if (offset < e.newStart) break;
    orig = offset < e.newEnd ? e.origStart + Math.min(offset - e.newStart, e.origEnd - e.origStart - 1) : offset - e.newEnd + e.origEnd;
  }
  orig = Math.max(0, Math.min(orig, text.length));
  const before = text.slice(0, orig);
  return { line: before.split("\n").length, column: orig - (before.lastIndexOf("\n") + 1) + 1 };
}
