import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  LIST_OPERATORS,
  MODIFIERS,
  NUMERIC_OPERATORS,
  STRING_OPERATORS,
  stripPositions,
  type Expr,
  type FieldRef,
  type ListValue,
  type Operand,
  type Transformer,
  type TransformerArg,
  type Value,
} from "../../../src/detector/condition/ast.js";
import { caretSnippet, parseCondition } from "../../../src/detector/condition/parser.js";
import { printCondition } from "../../../src/detector/condition/printer.js";

function parse(text: string): Expr {
  const r = parseCondition(text);
  if (!r.ok) throw new Error(`${r.error.message} at ${r.error.pos.line}:${r.error.pos.col}`);
  return r.ast;
}

function shape(text: string): unknown {
  return stripPositions(parse(text));
}

function parseError(text: string): { message: string; line: number; col: number } {
  const r = parseCondition(text);
  if (r.ok) throw new Error(`expected a syntax error for: ${text}`);
  return { message: r.error.message, line: r.error.pos.line, col: r.error.pos.col };
}

const field = (name: string, arg?: string): FieldRef => (arg === undefined ? { kind: "field", name } : { kind: "field", name, arg }) as FieldRef;
const bare = (value: string) => ({ kind: "value", value, quoted: false });
const quoted = (value: string) => ({ kind: "value", value, quoted: true });

describe("condition parser: operators", () => {
  for (const op of STRING_OPERATORS) {
    it(`parses the string operator '${op}'`, () => {
      expect(shape(`proc.name ${op} foo`)).toEqual({ kind: "binary", left: field("proc.name"), op, right: bare("foo") });
    });
  }
  for (const op of NUMERIC_OPERATORS) {
    it(`parses the numeric operator '${op}'`, () => {
      expect(shape(`fd.num ${op} 0x1F`)).toEqual({ kind: "binary", left: field("fd.num"), op, right: bare("0x1F") });
    });
  }
  for (const op of LIST_OPERATORS) {
    it(`parses the list operator '${op}' with a literal list and with a list name`, () => {
      expect(shape(`proc.name ${op} (a, "b c", 3)`)).toEqual({
        kind: "binary",
        left: field("proc.name"),
        op,
        right: { kind: "list", items: [bare("a"), quoted("b c"), bare("3")] },
      });
      expect(shape(`proc.name ${op} shell_binaries`)).toEqual({
        kind: "binary",
        left: field("proc.name"),
        op,
        right: { kind: "list", items: [], name: "shell_binaries" },
      });
    });
  }
  it("parses 'exists'", () => {
    expect(shape("proc.pname exists")).toEqual({ kind: "unary", left: field("proc.pname"), op: "exists" });
  });
  it("accepts list operators glued to the list: in(a,b)", () => {
    expect(shape("evt.type in(open,openat)")).toEqual({
      kind: "binary",
      left: field("evt.type"),
      op: "in",
      right: { kind: "list", items: [bare("open"), bare("openat")] },
    });
  });
  it("requires a blank after word operators", () => {
    expect(parseError("proc.name contains(x)").message).toMatch(/expected a valid check operator/);
  });
});

describe("condition parser: modifiers", () => {
  for (const mod of MODIFIERS) {
    it(`parses '${mod}' after a string operator`, () => {
      expect(shape(`fd.name startswith ${mod} (/etc, /root)`)).toEqual({
        kind: "binary",
        left: field("fd.name"),
        op: "startswith",
        modifier: mod,
        right: { kind: "list", items: [bare("/etc"), bare("/root")] },
      });
    });
  }
  it("reads a modifier word followed by a boolean keyword as a plain value", () => {
    expect(shape("proc.name = anyof and fd.num = 1")).toEqual({
      kind: "and",
      children: [
        { kind: "binary", left: field("proc.name"), op: "=", right: bare("anyof") },
        { kind: "binary", left: field("fd.num"), op: "=", right: bare("1") },
      ],
    });
  });
});

describe("condition parser: fields and transformers", () => {
  it("parses field arguments: index, dotted, bracketed and quoted", () => {
    expect(shape("proc.aname[2] = bash")).toMatchObject({ left: field("proc.aname", "2") });
    expect(shape("evt.arg.flags contains O_TRUNC")).toMatchObject({ left: field("evt.arg.flags") });
    expect(shape("evt.arg[0] = x")).toMatchObject({ left: field("evt.arg", "0") });
    expect(shape('proc.env["MY VAR"] = x')).toMatchObject({ left: field("proc.env", "MY VAR") });
  });
  for (const t of ["tolower", "toupper", "b64", "basename", "len"] as const) {
    it(`parses the transformer ${t}() on either side`, () => {
      expect(shape(`${t}(proc.name) = x`)).toEqual({
        kind: "binary",
        left: { kind: "transformer", name: t, args: [field("proc.name")] },
        op: "=",
        right: bare("x"),
      });
      expect(shape(`proc.name = ${t}(proc.pname)`)).toMatchObject({ right: { kind: "transformer", name: t, args: [field("proc.pname")] } });
    });
  }
  it("parses val() for field-to-field comparison", () => {
    expect(shape("proc.name = val(proc.pname)")).toMatchObject({ right: { kind: "transformer", name: "val", args: [field("proc.pname")] } });
  });
  it("parses nested transformers", () => {
    expect(shape("toupper(basename(proc.exepath)) = LS")).toMatchObject({
      left: { kind: "transformer", name: "toupper", args: [{ kind: "transformer", name: "basename", args: [field("proc.exepath")] }] },
    });
  });
  it("parses join, concat and getopt with lists, strings, numbers and a field argument", () => {
    expect(shape('join("-", (fd.name, "x", 3)) = a')).toMatchObject({
      left: { kind: "transformer", name: "join", args: [quoted("-"), { kind: "tlist", items: [field("fd.name"), quoted("x"), bare("3")] }] },
    });
    expect(shape('concat(proc.name, "-", proc.pname) = a-b')).toMatchObject({
      left: { kind: "transformer", name: "concat", args: [field("proc.name"), quoted("-"), field("proc.pname")] },
    });
    expect(shape('getopt(("-e", "/bin/sh"), "e:")[e] = /bin/sh')).toMatchObject({
      left: { kind: "transformer", name: "getopt", arg: "e" },
    });
  });
});

describe("condition parser: boolean structure", () => {
  it("gives 'and' precedence over 'or' and flattens chains", () => {
    expect(shape("a or b and c or d")).toEqual({
      kind: "or",
      children: [{ kind: "macro", name: "a" }, { kind: "and", children: [{ kind: "macro", name: "b" }, { kind: "macro", name: "c" }] }, { kind: "macro", name: "d" }],
    });
  });
  it("handles not, not(...), double negation and parentheses", () => {
    expect(shape("not a")).toEqual({ kind: "not", child: { kind: "macro", name: "a" } });
    expect(shape("not(a or b)")).toEqual({ kind: "not", child: { kind: "or", children: [{ kind: "macro", name: "a" }, { kind: "macro", name: "b" }] } });
    expect(shape("not not a")).toEqual({ kind: "macro", name: "a" });
    expect(shape("a and(b or c)")).toMatchObject({ kind: "and", children: [{ name: "a" }, { kind: "or" }] });
  });
  it("spans lines and tracks positions of every node", () => {
    const ast = parse("evt.type = open and\n  proc.name in (a, b)") as Extract<Expr, { kind: "and" }>;
    expect(ast.pos).toEqual({ offset: 0, line: 1, col: 1 });
    const second = ast.children[1] as Extract<Expr, { kind: "binary" }>;
    expect(second.pos).toMatchObject({ line: 2, col: 3 });
    expect((second.right as ListValue).items[1]!.pos).toMatchObject({ line: 2, col: 20 });
  });
});

describe("condition parser: quoted strings", () => {
  it("unescapes \\n \\t \\\\ \\\" \\' \\x41 and tolerates '\\ '", () => {
    expect(shape('proc.name = "a\\nb\\t\\\\\\"q\\x41"')).toMatchObject({ right: quoted('a\nb\t\\"qA') });
    expect(shape("proc.name = 'it\\'s'")).toMatchObject({ right: quoted("it's") });
  });
  it("rejects unknown escapes and mismatched quote escapes", () => {
    expect(parseError('proc.name = "a\\qb"').message).toMatch(/unsupported string escape sequence: \\q/);
    expect(parseError("proc.name = 'a\\\"b'").message).toMatch(/invalid \\" escape/);
  });
});

describe("condition parser: errors carry line, column and what was expected", () => {
  it("reports an unexpected trailing token", () => {
    const e = parseError("proc.name = a b");
    expect(e).toMatchObject({ line: 1, col: 15 });
    expect(e.message).toMatch(/unexpected token after 'a', expecting 'or', 'and'/);
  });
  it("reports a missing operator on the second line", () => {
    const e = parseError("evt.type = open and\n    proc.name bash");
    expect(e).toMatchObject({ line: 2, col: 15 });
    expect(e.message).toMatch(/expected a valid check operator: one of 'exists', '<='/);
  });
  it("reports an unclosed parenthesis", () => {
    expect(parseError("(a and b")).toMatchObject({ line: 1, col: 9, message: "expected a ')' token" });
  });
  it("reports a missing value", () => {
    expect(parseError("fd.num >= ")).toMatchObject({ col: 11 });
  });
  it("reports an unterminated quoted string where it opens", () => {
    const e = parseError('evt.type = open and\n  proc.name = "abc');
    expect(e).toMatchObject({ line: 2, col: 15 });
    expect(e.message).toBe('unterminated quoted string: no closing " before the end of the condition');
    expect(parseError("proc.name in (a, 'b)")).toMatchObject({ line: 1, col: 18, message: expect.stringMatching(/^unterminated quoted string: no closing '/) });
    expect(parseError('proc.aname["x = a').message).toMatch(/^unterminated quoted string/);
  });
  it("reports an empty condition", () => {
    expect(parseError("").message).toBe("filter input string is empty");
  });
  it("renders a caret under the column", () => {
    const text = "evt.type = open and\n    proc.name bash";
    const r = parseCondition(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(caretSnippet(text, r.error.pos)).toBe("    proc.name bash\n              ^");
  });
});

// ---- property: print(ast) re-parses to the same AST

const FIELDS = ["proc.name", "proc.pname", "fd.name", "evt.type", "user.uid", "fd.num", "evt.arg.flags", "container.image.repository"];
const WORDS = ["bash", "sh", "/etc/shadow", "a.b", "x-y", "O_TRUNC", "10.0.0.0/8", "k8s.io", "v1:2", "a_b"];
const IDENT = fc.stringMatching(/^[a-z][a-z0-9_]{0,8}$/).filter((s) => !["and", "or", "not"].includes(s));

const fieldArb: fc.Arbitrary<FieldRef> = fc.oneof(
  fc.constantFrom(...FIELDS).map((name) => field(name)),
  fc.tuple(fc.constantFrom("proc.aname", "proc.apid"), fc.integer({ min: 0, max: 9 })).map(([n, i]) => field(n, String(i))),
  fc.tuple(fc.constant("proc.env"), fc.constantFrom("HOME", "MY VAR", "a]b", "x'y")).map(([n, a]) => field(n, a)),
);
const quotedArb: fc.Arbitrary<Value> = fc.string({ maxLength: 8 }).map((v) => quoted(v) as Value);
const bareArb: fc.Arbitrary<Value> = fc.constantFrom(...WORDS).map((v) => bare(v) as Value);
const numberArb: fc.Arbitrary<Value> = fc.oneof(fc.integer({ min: -1000, max: 100000 }).map(String), fc.constant("0x1f")).map((v) => bare(v) as Value);

const transformerArb: fc.Arbitrary<Transformer> = fc.letrec<{ t: Transformer }>((tie) => ({
  t: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.tuple(fc.constantFrom("tolower", "toupper", "b64", "basename", "len"), fieldArb).map(([name, f]) => ({ kind: "transformer", name, args: [f] }) as Transformer),
    fc.tuple(fc.constantFrom("tolower", "basename"), tie("t")).map(([name, inner]) => ({ kind: "transformer", name, args: [inner] }) as Transformer),
    fc
      .tuple(quotedArb, fc.array(fc.oneof(fieldArb, quotedArb, numberArb) as fc.Arbitrary<FieldRef | Value>, { maxLength: 3 }))
      .map(([sep, items]) => ({ kind: "transformer", name: "join", args: [sep, { kind: "tlist", items } as TransformerArg] }) as Transformer),
    fc.array(fc.oneof(fieldArb, quotedArb) as fc.Arbitrary<FieldRef | Value>, { minLength: 2, maxLength: 3 }).map((args) => ({ kind: "transformer", name: "concat", args }) as Transformer),
    fc
      .tuple(fc.array(quotedArb, { maxLength: 3 }), quotedArb, fc.option(fc.constantFrom("e", "c"), { nil: undefined }))
      .map(([items, opt, arg]) => {
        const t: Transformer = { kind: "transformer", name: "getopt", args: [{ kind: "tlist", items } as TransformerArg, opt] } as Transformer;
        if (arg !== undefined) t.arg = arg;
        return t;
      }),
  ),
})).t;

const operandArb: fc.Arbitrary<Operand> = fc.oneof({ weight: 3, arbitrary: fieldArb as fc.Arbitrary<Operand> }, { weight: 1, arbitrary: transformerArb as fc.Arbitrary<Operand> });
const listArb: fc.Arbitrary<ListValue> = fc.oneof(
  fc.array(fc.oneof(bareArb, quotedArb, numberArb), { maxLength: 4 }).map((items) => ({ kind: "list", items }) as ListValue),
  IDENT.map((name) => ({ kind: "list", items: [], name }) as unknown as ListValue),
);

const checkArb: fc.Arbitrary<Expr> = fc.oneof(
  fc.tuple(operandArb, fc.constantFrom(...STRING_OPERATORS), fc.oneof(bareArb, quotedArb)).map(([left, op, right]) => ({ kind: "binary", left, op, right }) as Expr),
  fc.tuple(operandArb, fc.constantFrom(...NUMERIC_OPERATORS), numberArb).map(([left, op, right]) => ({ kind: "binary", left, op, right }) as Expr),
  fc.tuple(operandArb, fc.constantFrom(...LIST_OPERATORS), listArb).map(([left, op, right]) => ({ kind: "binary", left, op, right }) as Expr),
  fc
    .tuple(operandArb, fc.constantFrom("=", "!=", "startswith", "contains"), fc.constantFrom(...MODIFIERS), fc.array(fc.oneof(bareArb, quotedArb), { maxLength: 3 }))
    .map(([left, op, modifier, items]) => ({ kind: "binary", left, op, modifier, right: { kind: "list", items } }) as Expr),
  fc.tuple(operandArb, fc.constantFrom("=", "<", "contains")).map(([left, op]) => ({ kind: "binary", left, op, right: { kind: "transformer", name: "val", args: [field("proc.pname")] } }) as Expr),
  operandArb.map((left) => ({ kind: "unary", left, op: "exists" }) as Expr),
  IDENT.map((name) => ({ kind: "macro", name }) as Expr),
);

const exprArb: fc.Arbitrary<Expr> = fc.letrec<{ e: Expr }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    checkArb,
    fc.array(tie("e"), { minLength: 2, maxLength: 3 }).map((children) => ({ kind: "and", children }) as Expr),
    fc.array(tie("e"), { minLength: 2, maxLength: 3 }).map((children) => ({ kind: "or", children }) as Expr),
    tie("e").map((child) => ({ kind: "not", child }) as Expr),
  ),
})).e;

describe("condition printer", () => {
  it("prints random ASTs back to text that re-parses to the same AST", () => {
    fc.assert(
      fc.property(exprArb, (ast) => {
        const text = printCondition(ast);
        const r = parseCondition(text);
        if (!r.ok) throw new Error(`"${text}" did not parse: ${r.error.message} at ${r.error.pos.col}`);
        expect(stripPositions(r.ast)).toEqual(stripPositions(ast));
      }),
      { numRuns: 2000 },
    );
  });
});
