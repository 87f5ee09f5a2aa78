/**
 * The condition AST: a discriminated union, every node with the position where it starts
 * in the condition text. Passes (macro/list resolution, type checks, the event-type index,
 * compilation) are plain functions that switch on `kind`.
 */

/** A position in the condition text: 0-based offset, 1-based line and column. */
export interface Pos {
  offset: number;
  line: number;
  col: number;
}

export type Expr = AndExpr | OrExpr | NotExpr | MacroRef | UnaryCheck | BinaryCheck;

export interface AndExpr {
  kind: "and";
  children: Expr[];
  pos: Pos;
}

export interface OrExpr {
  kind: "or";
  children: Expr[];
  pos: Pos;
}

export interface NotExpr {
  kind: "not";
  child: Expr;
  pos: Pos;
}

/** A bare identifier in condition position: a macro reference. */
export interface MacroRef {
  kind: "macro";
  name: string;
  pos: Pos;
}

export const UNARY_OPERATORS = ["exists"] as const;
export const NUMERIC_OPERATORS = ["<=", "<", ">=", ">"] as const;
export const STRING_OPERATORS = [
  "==",
  "=",
  "!=",
  "glob",
  "iglob",
  "contains",
  "icontains",
  "bcontains",
  "startswith",
  "bstartswith",
  "endswith",
  "regex",
] as const;
export const LIST_OPERATORS = ["intersects", "in", "pmatch"] as const;
export const MODIFIERS = ["oneof", "anyof", "allof"] as const;
export const TRANSFORMERS = ["tolower", "toupper", "b64", "basename", "len", "join", "concat", "getopt"] as const;

export type BinaryOperator =
  | (typeof NUMERIC_OPERATORS)[number]
  | (typeof STRING_OPERATORS)[number]
  | (typeof LIST_OPERATORS)[number];
export type Modifier = (typeof MODIFIERS)[number];
export type TransformerName = (typeof TRANSFORMERS)[number] | "val";

export interface UnaryCheck {
  kind: "unary";
  left: Operand;
  op: "exists";
  pos: Pos;
}

export interface BinaryCheck {
  kind: "binary";
  left: Operand;
  op: BinaryOperator;
  /** `proc.name startswith anyof (a, b)`: how the operator applies over the list. */
  modifier?: Modifier;
  right: Value | ListValue | Operand;
  pos: Pos;
}

/** A field or a transformer over fields: something that yields values from an event. */
export type Operand = FieldRef | Transformer;

export interface FieldRef {
  kind: "field";
  name: string;
  arg?: string;
  pos: Pos;
}

export interface Transformer {
  kind: "transformer";
  name: TransformerName;
  args: TransformerArg[];
  /** An argument after the closing parenthesis, as in `getopt(...)[e]`. */
  arg?: string;
  pos: Pos;
}

export type TransformerArg = FieldRef | Transformer | Value | TransformerList;

export interface TransformerList {
  kind: "tlist";
  items: (FieldRef | Transformer | Value)[];
  pos: Pos;
}

/** A literal: a bare word, a number or a quoted string (already unescaped). */
export interface Value {
  kind: "value";
  value: string;
  /** True for a quoted string; bare words name lists where a list is expected. */
  quoted: boolean;
  pos: Pos;
}

/** `(a, b, "c d")` or a bare list name in list position. */
export interface ListValue {
  kind: "list";
  items: Value[];
  /** Set when the list was written as a bare list name (`in shell_binaries`). */
  name?: string;
  pos: Pos;
}

/** Structural equality that ignores positions (used by tests and the property test). */
export function stripPositions(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(stripPositions);
  if (node && typeof node === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === "pos" || v === undefined) continue;
      out[k] = stripPositions(v);
    }
    return out;
  }
  return node;
}
