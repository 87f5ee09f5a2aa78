/**
 * Condition parser: a recursive-descent parser for Falco's condition language (the libsinsp
 * filter grammar), producing the AST in ./ast.ts with a position on every node.
 *
 * Grammar (EBNF):
 *
 *   Expr                  ::= OrExpr
 *   OrExpr                ::= AndExpr ('or' OrExprTail)*
 *   OrExprTail            ::= ' ' AndExpr | '(' Expr ')'
 *   AndExpr               ::= NotExpr ('and' AndExprTail)*
 *   AndExprTail           ::= ' ' NotExpr | '(' Expr ')'
 *   NotExpr               ::= ('not ')* NotExprTail
 *   NotExprTail           ::= 'not(' Expr ')' | Check
 *   Check                 ::= Field Condition
 *                           | FieldTransformer Condition
 *                           | Identifier                       (a macro)
 *                           | '(' Expr ')'
 *   FieldTransformer      ::= FieldTransformerType FieldTransformerArg (',' FieldTransformerArg)* ')'
 *                             ('[' FieldArg ']')?
 *   FieldTransformerArg   ::= FieldTransformer | Field | QuotedStr | NumValue | TransformerList
 *   TransformerList       ::= '(' (TransformerListArg (',' TransformerListArg)*)? ')'
 *   TransformerListArg    ::= Field | FieldTransformer | QuotedStr | NumValue
 *   FieldTransformerOrVal ::= FieldTransformer | 'val(' Field ')'
 *   Condition             ::= UnaryOperator
 *                           | NumOperator (NumValue | FieldTransformerOrVal | StrValue)   (StrValue: see below)
 *                           | StrOperator (StrValue | FieldTransformerOrVal)
 *                           | StrOperator StrOperatorModifier ListValue
 *                           | ListOperator (ListValue | FieldTransformerOrVal)
 *   ListValue             ::= '(' (StrValue (',' StrValue)*)? ')' | Identifier
 *   Field                 ::= FieldName ('[' FieldArg ']')?
 *   FieldArg              ::= QuotedStr | FieldArgBareStr
 *   NumValue              ::= HexNumber | Number
 *   StrValue              ::= QuotedStr | BareStr
 *
 *   UnaryOperator         ::= 'exists'
 *   NumOperator           ::= '<=' | '<' | '>=' | '>'
 *   StrOperator           ::= '==' | '=' | '!=' | 'glob ' | 'iglob ' | 'contains ' | 'icontains '
 *                           | 'bcontains ' | 'startswith ' | 'bstartswith ' | 'endswith ' | 'regex '
 *   StrOperatorModifier   ::= 'oneof ' | 'anyof ' | 'allof '
 *   ListOperator          ::= 'intersects' | 'in' | 'pmatch'
 *   FieldTransformerType  ::= 'tolower(' | 'toupper(' | 'b64(' | 'basename(' | 'len(' | 'join('
 *                           | 'concat(' | 'getopt('
 *
 *   Identifier            ::= [a-zA-Z]+[a-zA-Z0-9_]*
 *   FieldName             ::= [a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+
 *   FieldArgBareStr       ::= [^ \b\t\n\r\[\]"']+
 *   HexNumber             ::= 0[xX][0-9a-fA-F]+
 *   Number                ::= [+\-]?[0-9]+[\.]?[0-9]*([eE][+\-][0-9]+)?
 *   QuotedStr             ::= "(?:\\"|.)*?" | '(?:\\'|.)*?'
 *   BareStr               ::= [^ \b\t\n\r\(\),="']+
 *
 * Extension over libsinsp: after a NumOperator a StrValue is accepted too, and converted by
 * the field at compile time — `alert.priority >= warning` compares severities; a numeric
 * field given a word fails to compile ("'abc' is not a valid number for field ...").
 *
 * A trailing blank (' ') in a keyword means a blank must follow it. Quoted strings accept the
 * escapes \b \f \n \r \t \\ \/ \" (in "..."), \' (in '...') and \xHH.
 */
import {
  type BinaryOperator,
  type Expr,
  type FieldRef,
  type ListValue,
  type Modifier,
  type Operand,
  type Pos,
  type Transformer,
  type TransformerArg,
  type TransformerList,
  type TransformerName,
  type Value,
} from "./ast.js";
import { PeregrineError } from "../../errors.js";

export interface ParseError {
  message: string;
  /** Where the parser stopped, in the condition text. */
  pos: Pos;
}

export type ParseResult = { ok: true; ast: Expr } | { ok: false; error: ParseError };

class ConditionSyntaxError extends PeregrineError {
  constructor(
    message: string,
    readonly pos: Pos,
  ) {
    super("DETECTOR_RULES_INVALID", message);
    this.name = "ConditionSyntaxError";
  }
}

const RGX_NOT_BLANK = /not[ \t\n\r\b\f\v]+/y;
const RGX_IDENTIFIER = /[a-zA-Z]+[a-zA-Z0-9_]*/y;
const RGX_FIELD_NAME = /[a-zA-Z]+[a-zA-Z0-9_]*(\.[a-zA-Z]+[a-zA-Z0-9_]*)+/y;
const RGX_FIELD_ARG_BARE = /[^\]["' \t\n\r\f\v]+/y;
const RGX_HEX = /0[xX][0-9a-fA-F]+/y;
const RGX_NUMBER = /[+-]?[0-9]+\.?[0-9]*([eE][+-][0-9]+)?/y;
const RGX_BARE_STR = /[^()"' \t\n\r\f\v=,]+/y;

const UNARY_OPS = ["exists"];
const NUM_OPS = ["<=", "<", ">=", ">"];
const STR_OPS = [
  "==",
  "=",
  "!=",
  "glob ",
  "iglob ",
  "contains ",
  "icontains ",
  "bcontains ",
  "startswith ",
  "bstartswith ",
  "endswith ",
  "regex ",
];
const MODIFIER_OPS = ["oneof ", "anyof ", "allof "];
const LIST_OPS = ["intersects", "in", "pmatch"];
const TRANSFORMER_OPENERS = ["tolower(", "toupper(", "b64(", "basename(", "len(", "join(", "concat(", "getopt("];
const ALL_OPERATORS = [...UNARY_OPS, ...NUM_OPS, ...STR_OPS, ...LIST_OPS].map((o) => `'${o.trim()}'`).join(", ");
const ALL_TRANSFORMERS = ["val", ...TRANSFORMER_OPENERS.map((t) => t.slice(0, -1))].map((t) => `'${t}'`).join(", ");

const MAX_DEPTH = 1000;

function isBlank(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\b" || c === "\r" || c === "\n";
}

/** Parses a condition. Never throws: syntax errors come back with their position. */
export function parseCondition(input: string): ParseResult {
  const p = new Parser(input);
  try {
    return { ok: true, ast: p.parse() };
  } catch (err) {
    if (err instanceof ConditionSyntaxError) return { ok: false, error: { message: err.message, pos: err.pos } };
    throw err;
  }
}

/** Unescapes a quoted string token (with its quotes), as libsinsp does. */
export function unescapeQuoted(token: string): string {
  const quote = token[0];
  let res = "";
  let escaped = false;
  for (let i = 1; i < token.length - 1; i++) {
    const c = token[i]!;
    if (!escaped) {
      if (c === "\\") escaped = true;
      else res += c;
      continue;
    }
    switch (c) {
      case "b":
        res += "\b";
        break;
      case "f":
        res += "\f";
        break;
      case "n":
        res += "\n";
        break;
      case "r":
        res += "\r";
        break;
      case "t":
        res += "\t";
        break;
      case " ": // tolerated for old, wrongly escaped rules: yields a backslash
      case "\\":
        res += "\\";
        break;
      case "/":
        res += "/";
        break;
      case '"':
        if (quote !== '"') throw new Error("invalid \\\" escape in '-quoted string");
        res += '"';
        break;
      case "'":
        if (quote !== "'") throw new Error("invalid \\' escape in \"-quoted string");
        res += "'";
        break;
      case "x": {
        const hex = token.slice(i + 1, i + 3);
        if (i + 2 >= token.length - 1 + 0 && hex.length < 2) throw new Error("truncated hex char escape sequence");
        if (!/^[0-9a-fA-F]{2}$/.test(hex)) throw new Error(`invalid hex char escape sequence: ${hex}`);
        res += String.fromCharCode(parseInt(hex, 16));
        i += 2;
        break;
      }
      default:
        throw new Error(`unsupported string escape sequence: \\${c}`);
    }
    escaped = false;
  }
  return res;
}

class Parser {
  private idx = 0;
  private line = 1;
  private col = 1;
  private depth = 0;
  private lastToken = "";

  constructor(private readonly input: string) {}

  parse(): Expr {
    if (this.input.length === 0) throw this.error("filter input string is empty");
    const res = this.parseOr();
    if (this.idx !== this.input.length) {
      throw this.error(`unexpected token after '${this.lastToken}', expecting 'or', 'and'`);
    }
    return res;
  }

  // ---- positions and lexing helpers

  private pos(): Pos {
    return { offset: this.idx, line: this.line, col: this.col };
  }

  private setPos(p: Pos): void {
    this.idx = p.offset;
    this.line = p.line;
    this.col = p.col;
  }

  private advance(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      this.col++;
      if (c === "\r" || c === "\n") {
        this.col = 1;
        this.line++;
      }
      this.idx++;
    }
  }

  private error(message: string): ConditionSyntaxError {
    return new ConditionSyntaxError(message, this.pos());
  }

  private enter(): void {
    if (++this.depth >= MAX_DEPTH) throw this.error(`exceeded max depth limit of ${MAX_DEPTH}`);
  }

  private leave(): void {
    this.depth--;
  }

  private lexBlank(): boolean {
    let found = false;
    while (isBlank(this.input[this.idx])) {
      found = true;
      this.advance(this.input[this.idx]!);
    }
    return found;
  }

  private lexRegex(rgx: RegExp): boolean {
    rgx.lastIndex = this.idx;
    const m = rgx.exec(this.input);
    if (!m || m[0].length === 0) return false;
    this.lastToken = m[0];
    this.advance(m[0]);
    return true;
  }

  private lexStr(s: string): boolean {
    if (this.input.startsWith(s, this.idx)) {
      this.lastToken = s;
      this.advance(s);
      return true;
    }
    return false;
  }

  private lexStrList(list: readonly string[]): boolean {
    for (const s of list) if (this.lexStr(s)) return true;
    return false;
  }

  /** Operators ending in a blank need a blank after the keyword; backtrack otherwise. */
  private lexOperator(list: readonly string[]): boolean {
    for (const op of list) {
      if (!op.endsWith(" ")) {
        if (this.lexStr(op)) return true;
        continue;
      }
      const saved = this.pos();
      const savedToken = this.lastToken;
      if (this.lexStr(op.trimEnd())) {
        if (this.lexBlank()) {
          this.lastToken = op;
          return true;
        }
        this.setPos(saved);
        this.lastToken = savedToken;
      }
    }
    return false;
  }

  private lexQuoted(): boolean {
    const delim = this.input[this.idx];
    if (delim !== "'" && delim !== '"') return false;
    const start = this.pos();
    // Track escapes properly (libsinsp only looks at the previous character, so a value
    // ending in an escaped backslash would not terminate); the opening quote is skipped.
    let escaped = true;
    let token = "";
    while (this.idx < this.input.length) {
      const c = this.input[this.idx]!;
      if (c === delim && !escaped) {
        this.advance(c);
        token += delim;
        try {
          this.lastToken = unescapeQuoted(token);
        } catch (err) {
          const e = new ConditionSyntaxError((err as Error).message, start);
          throw e;
        }
        return true;
      }
      escaped = !escaped && c === "\\";
      token += c;
      this.advance(c);
    }
    // No other token can start with a quote, so this is the real error; without it the
    // caller would only say "expected a string value".
    throw new ConditionSyntaxError(`unterminated quoted string: no closing ${delim} before the end of the condition`, start);
  }

  // ---- productions

  private parseOr(): Expr {
    this.enter();
    const pos = this.pos();
    const children: Expr[] = [];
    this.lexBlank();
    children.push(this.parseAnd());
    this.lexBlank();
    while (this.lexStr("or")) {
      if (!this.lexBlank()) {
        if (this.lexStr("(")) children.push(this.parseEmbeddedRemainder());
        else throw this.error("expected blank or '(' after 'or'");
      } else {
        children.push(this.parseAnd());
      }
      this.lexBlank();
    }
    this.leave();
    return children.length > 1 ? { kind: "or", children, pos } : children[0]!;
  }

  private parseAnd(): Expr {
    this.enter();
    const pos = this.pos();
    const children: Expr[] = [];
    this.lexBlank();
    children.push(this.parseNot());
    this.lexBlank();
    while (this.lexStr("and")) {
      if (!this.lexBlank()) {
        if (this.lexStr("(")) children.push(this.parseEmbeddedRemainder());
        else throw this.error("expected blank or '(' after 'and'");
      } else {
        children.push(this.parseNot());
      }
      this.lexBlank();
    }
    this.leave();
    return children.length > 1 ? { kind: "and", children, pos } : children[0]!;
  }

  private parseNot(): Expr {
    this.enter();
    const pos = this.pos();
    let isNot = false;
    this.lexBlank();
    while (this.lexRegex(RGX_NOT_BLANK)) isNot = !isNot;
    let child: Expr;
    if (this.lexStr("not(")) {
      isNot = !isNot;
      child = this.parseEmbeddedRemainder();
    } else {
      child = this.parseCheck();
    }
    this.leave();
    return isNot ? { kind: "not", child, pos } : child;
  }

  private parseEmbeddedRemainder(): Expr {
    this.enter();
    this.lexBlank();
    const child = this.parseOr();
    this.lexBlank();
    if (!this.lexStr(")")) throw this.error("expected a ')' token");
    this.leave();
    return child;
  }

  private parseCheck(): Expr {
    this.enter();
    const pos = this.pos();
    this.lexBlank();
    let res: Expr;
    if (this.lexStr("(")) {
      res = this.parseEmbeddedRemainder();
    } else if (this.lexRegex(RGX_FIELD_NAME)) {
      const left = this.parseFieldRemainder(this.lastToken, pos);
      res = this.parseCondition(left, pos);
    } else if (this.lexStrList(TRANSFORMER_OPENERS)) {
      this.lexBlank();
      const left = this.parseTransformerRemainder(this.lastToken.slice(0, -1) as TransformerName, pos);
      res = this.parseCondition(left, pos);
    } else if (this.lexRegex(RGX_IDENTIFIER)) {
      res = { kind: "macro", name: this.lastToken, pos };
    } else {
      throw this.error("expected a '(' token, a field check, or an identifier");
    }
    this.leave();
    return res;
  }

  private parseFieldRemainder(name: string, pos: Pos): FieldRef {
    const field: FieldRef = { kind: "field", name, pos };
    const arg = this.parseOptionalFieldArg();
    if (arg !== undefined) field.arg = arg;
    return field;
  }

  private parseOptionalFieldArg(): string | undefined {
    if (!this.lexStr("[")) return undefined;
    if (!this.lexQuoted() && !this.lexRegex(RGX_FIELD_ARG_BARE)) {
      throw this.error("expected a valid field argument: a quoted string or a bare string");
    }
    const arg = this.lastToken;
    if (!this.lexStr("]")) throw this.error("expected a ']' token");
    return arg;
  }

  private parseTransformerRemainder(name: TransformerName, pos: Pos): Transformer {
    this.enter();
    this.lexBlank();
    const args: TransformerArg[] = [];
    do {
      args.push(this.parseTransformerArg());
      this.lexBlank();
    } while (this.lexStr(","));
    this.lexBlank();
    if (!this.lexStr(")")) throw this.error("expected a ')' token closing the transformer");
    const t: Transformer = { kind: "transformer", name, args, pos };
    const arg = this.parseOptionalFieldArg();
    if (arg !== undefined) t.arg = arg;
    this.leave();
    return t;
  }

  private parseTransformerArg(): TransformerArg {
    this.enter();
    this.lexBlank();
    const pos = this.pos();
    let res: TransformerArg;
    if (this.lexRegex(RGX_HEX) || this.lexRegex(RGX_NUMBER)) {
      res = { kind: "value", value: this.lastToken, quoted: false, pos };
    } else if (this.lexQuoted()) {
      res = { kind: "value", value: this.lastToken, quoted: true, pos };
    } else if (this.lexStr("(")) {
      res = this.parseTransformerList(pos);
    } else if (this.lexStrList(TRANSFORMER_OPENERS)) {
      res = this.parseTransformerRemainder(this.lastToken.slice(0, -1) as TransformerName, pos);
    } else if (this.lexRegex(RGX_FIELD_NAME)) {
      res = this.parseFieldRemainder(this.lastToken, pos);
    } else {
      throw this.error("expected field transformer argument: field, transformer, quoted string, number, or transformer list");
    }
    this.leave();
    return res;
  }

  private parseTransformerList(pos: Pos): TransformerList {
    const items: TransformerList["items"] = [];
    this.lexBlank();
    if (this.lexStr(")")) return { kind: "tlist", items, pos };
    items.push(this.parseTransformerListArg());
    this.lexBlank();
    while (this.lexStr(",")) {
      this.lexBlank();
      items.push(this.parseTransformerListArg());
      this.lexBlank();
    }
    if (!this.lexStr(")")) throw this.error("expected ')'");
    return { kind: "tlist", items, pos };
  }

  private parseTransformerListArg(): FieldRef | Transformer | Value {
    const pos = this.pos();
    if (this.lexRegex(RGX_FIELD_NAME)) return this.parseFieldRemainder(this.lastToken, pos);
    if (this.lexStrList(TRANSFORMER_OPENERS)) {
      this.lexBlank();
      return this.parseTransformerRemainder(this.lastToken.slice(0, -1) as TransformerName, pos);
    }
    if (this.lexQuoted()) return { kind: "value", value: this.lastToken, quoted: true, pos };
    if (this.lexRegex(RGX_HEX) || this.lexRegex(RGX_NUMBER)) return { kind: "value", value: this.lastToken, quoted: false, pos };
    throw this.error("expected transformer list argument: field, transformer, quoted string, or number");
  }

  private parseCondition(left: Operand, pos: Pos): Expr {
    this.enter();
    this.lexBlank();
    if (this.lexOperator(UNARY_OPS)) {
      this.leave();
      return { kind: "unary", left, op: "exists", pos };
    }
    this.lexBlank();
    let op: string;
    let modifier: Modifier | undefined;
    let right: Value | ListValue | Operand;
    if (this.lexOperator(NUM_OPS)) {
      op = this.lastToken;
      right = this.parseNumValueOrTransformer();
    } else if (this.lexOperator(STR_OPS)) {
      op = this.lastToken;
      const hadBlank = /^[a-z]/.test(op) || this.lexBlank();
      const saved = this.pos();
      const savedToken = this.lastToken;
      if (hadBlank && this.lexOperator(MODIFIER_OPS) && this.listValueFollows() && !this.boolKeywordFollows()) {
        modifier = this.lastToken.trim() as Modifier;
        right = this.parseListValue();
      } else {
        this.setPos(saved);
        this.lastToken = savedToken;
        right = this.parseStrValueOrTransformer(false);
      }
    } else if (this.lexOperator(LIST_OPS)) {
      op = this.lastToken;
      right = this.parseListValueOrTransformer();
    } else {
      throw this.error(`expected a valid check operator: one of ${ALL_OPERATORS}`);
    }
    this.leave();
    const check: Expr = { kind: "binary", left, op: op.trim() as BinaryOperator, right, pos };
    if (modifier) check.modifier = modifier;
    return check;
  }

  private listValueFollows(): boolean {
    if (this.input[this.idx] === "(") return true;
    RGX_IDENTIFIER.lastIndex = this.idx;
    return RGX_IDENTIFIER.test(this.input);
  }

  private boolKeywordFollows(): boolean {
    for (const kw of ["and", "or", "not"]) {
      if (this.input.startsWith(kw, this.idx)) {
        const next = this.input[this.idx + kw.length];
        if (next === undefined || !/[a-zA-Z0-9]/.test(next)) return true;
      }
    }
    return false;
  }

  private parseNumValueOrTransformer(): Value | Operand {
    this.lexBlank();
    const pos = this.pos();
    const t = this.tryParseTransformerOrVal();
    if (t) return t;
    if (this.lexRegex(RGX_HEX) || this.lexRegex(RGX_NUMBER)) return { kind: "value", value: this.lastToken, quoted: false, pos };
    // Extension over libsinsp: a word is accepted here and converted by the field at compile
    // time (alert.priority >= warning); numeric fields reject it there with a clear message.
    if (this.lexQuoted()) return { kind: "value", value: this.lastToken, quoted: true, pos };
    if (this.lexRegex(RGX_BARE_STR)) return { kind: "value", value: this.lastToken, quoted: false, pos };
    throw this.error(`expected a number value or a field with a valid transformer: ${ALL_TRANSFORMERS}`);
  }

  private parseStrValueOrTransformer(noTransformer: boolean): Value | Operand {
    this.lexBlank();
    const pos = this.pos();
    if (!noTransformer) {
      const t = this.tryParseTransformerOrVal();
      if (t) return t;
    }
    if (this.lexQuoted()) return { kind: "value", value: this.lastToken, quoted: true, pos };
    if (this.lexRegex(RGX_BARE_STR)) return { kind: "value", value: this.lastToken, quoted: false, pos };
    if (noTransformer) throw this.error("expected a string value");
    throw this.error(`expected a string value or a field with a valid transformer: ${ALL_TRANSFORMERS}`);
  }

  private tryParseListExpr(): ListValue | undefined {
    const pos = this.pos();
    if (!this.lexStr("(")) return undefined;
    const items: Value[] = [];
    this.lexBlank();
    const first = this.tryStrValue();
    if (first) {
      items.push(first);
      this.lexBlank();
      while (this.lexStr(",")) {
        this.lexBlank();
        const next = this.tryStrValue();
        if (!next) throw this.error("expected a string value");
        items.push(next);
        this.lexBlank();
      }
    }
    if (!this.lexStr(")")) throw this.error("expected a ')' token");
    return { kind: "list", items, pos };
  }

  private tryStrValue(): Value | undefined {
    this.lexBlank();
    const pos = this.pos();
    if (this.lexQuoted()) return { kind: "value", value: this.lastToken, quoted: true, pos };
    if (this.lexRegex(RGX_BARE_STR)) return { kind: "value", value: this.lastToken, quoted: false, pos };
    return undefined;
  }

  private parseListValue(): ListValue {
    this.lexBlank();
    const pos = this.pos();
    const list = this.tryParseListExpr();
    if (list) return list;
    if (this.lexRegex(RGX_IDENTIFIER)) return { kind: "list", items: [], name: this.lastToken, pos };
    throw this.error("expected a list or an identifier");
  }

  private parseListValueOrTransformer(): ListValue | Operand {
    this.lexBlank();
    const pos = this.pos();
    const list = this.tryParseListExpr();
    if (list) return list;
    const t = this.tryParseTransformerOrVal();
    if (t) return t;
    if (this.lexRegex(RGX_IDENTIFIER)) return { kind: "list", items: [], name: this.lastToken, pos };
    throw this.error(`expected a list, an identifier, or a field with a valid transformer: ${ALL_TRANSFORMERS}`);
  }

  private tryParseTransformerOrVal(): Transformer | undefined {
    this.lexBlank();
    const pos = this.pos();
    if (this.lexStr("val(")) {
      this.lexBlank();
      const fieldPos = this.pos();
      if (!this.lexRegex(RGX_FIELD_NAME)) throw this.error("expected a field within 'val' transformer");
      const field = this.parseFieldRemainder(this.lastToken, fieldPos);
      this.lexBlank();
      if (!this.lexStr(")")) throw this.error("expected a ')' token closing the transformer");
      const t: Transformer = { kind: "transformer", name: "val", args: [field], pos };
      const arg = this.parseOptionalFieldArg();
      if (arg !== undefined) t.arg = arg;
      return t;
    }
    if (this.lexStrList(TRANSFORMER_OPENERS)) {
      this.lexBlank();
      return this.parseTransformerRemainder(this.lastToken.slice(0, -1) as TransformerName, pos);
    }
    return undefined;
  }
}

/** Renders a parse error as two lines: the offending condition line and a caret under the column. */
export function caretSnippet(text: string, pos: Pos): string {
  const lines = text.split(/\r\n|\r|\n/);
  const line = lines[pos.line - 1] ?? "";
  const col = Math.max(1, Math.min(pos.col, line.length + 1));
  return `${line}\n${" ".repeat(col - 1)}^`;
}
