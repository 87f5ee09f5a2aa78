/**
 * Prints an AST back to condition text that parses to the same AST (positions aside).
 * Used for error messages, for the exception-to-condition rewrite and by the property test.
 */
import type { Expr, FieldRef, ListValue, Operand, Transformer, TransformerArg, Value } from "./ast.js";

const SAFE_BARE = /^[A-Za-z0-9_./:@+-]+$/;
const RESERVED_PREFIX = /^(tolower|toupper|b64|basename|len|join|concat|getopt|val)\(/;

/** Quotes a string for the condition language, escaping what the parser unescapes. */
export function quoteString(s: string): string {
  let out = '"';
  for (const c of s) {
    switch (c) {
      case "\\":
        out += "\\\\";
        break;
      case '"':
        out += '\\"';
        break;
      case "\n":
        out += "\\n";
        break;
      case "\r":
        out += "\\r";
        break;
      case "\t":
        out += "\\t";
        break;
      case "\b":
        out += "\\b";
        break;
      case "\f":
        out += "\\f";
        break;
      default:
        out += c;
    }
  }
  return out + '"';
}

function printValue(v: Value): string {
  if (v.quoted) return quoteString(v.value);
  // A bare word that the parser would read differently gets quoted (and so changes its flag);
  // generators produce only safe bare words, so round trips stay exact.
  if (!SAFE_BARE.test(v.value) || RESERVED_PREFIX.test(v.value)) return quoteString(v.value);
  return v.value;
}

function printFieldArg(arg: string | undefined): string {
  if (arg === undefined) return "";
  if (/^[^\]["' \t\n\r\f\v]+$/.test(arg)) return `[${arg}]`;
  return `[${quoteString(arg)}]`;
}

function printField(f: FieldRef): string {
  return f.name + printFieldArg(f.arg);
}

function printTransformerArg(a: TransformerArg): string {
  switch (a.kind) {
    case "field":
      return printField(a);
    case "transformer":
      return printTransformer(a);
    case "value":
      return a.quoted ? quoteString(a.value) : a.value;
    case "tlist":
      return `(${a.items.map((i) => printTransformerArg(i)).join(", ")})`;
  }
}

function printTransformer(t: Transformer): string {
  return `${t.name}(${t.args.map(printTransformerArg).join(", ")})${printFieldArg(t.arg)}`;
}

function printOperand(o: Operand): string {
  return o.kind === "field" ? printField(o) : printTransformer(o);
}

function printList(l: ListValue): string {
  if (l.name !== undefined && l.items.length === 0) return l.name;
  return `(${l.items.map(printValue).join(", ")})`;
}

/** Prints an expression; nested boolean nodes are parenthesized so the shape survives. */
export function printCondition(e: Expr): string {
  switch (e.kind) {
    case "and":
      return e.children.map((c) => wrap(c)).join(" and ");
    case "or":
      return e.children.map((c) => wrap(c)).join(" or ");
    case "not":
      return `not ${wrap(e.child)}`;
    case "macro":
      return e.name;
    case "unary":
      return `${printOperand(e.left)} exists`;
    case "binary": {
      const left = printOperand(e.left);
      const mod = e.modifier ? ` ${e.modifier}` : "";
      let right: string;
      if (e.right.kind === "list") right = printList(e.right);
      else if (e.right.kind === "value") right = printValue(e.right);
      else right = printOperand(e.right);
      return `${left} ${e.op}${mod} ${right}`;
    }
  }
}

function wrap(e: Expr): string {
  return e.kind === "and" || e.kind === "or" || e.kind === "not" ? `(${printCondition(e)})` : printCondition(e);
}
