/**
 * Fuzzes compileTemplate with the shipped templates mutated and with random token soups, then
 * renders what compiles with random contexts. compileTemplate may only throw a TemplateError
 * that names its line and column; render may only throw a TemplateError.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compileTemplate, TemplateError, type CompiledTemplate, type TemplateEscape } from "../../src/templates/index.js";

const TEMPLATE_DIR = resolve(import.meta.dirname, "../../templates");
const SHIPPED = readdirSync(TEMPLATE_DIR)
  .filter((f) => f.endsWith(".hbs"))
  .sort()
  .map((f) => readFileSync(join(TEMPLATE_DIR, f), "utf8"));

const SEEDS = [
  ...SHIPPED,
  '{"rule": "{{rule}}", "p": {{json priority}}, "f": {{json output_fields indent=2}} }',
  "{{#each output_fields}}{{@key}}={{this}}{{#unless @last}}, {{/unless}}{{/each}}",
  '{{#if (eq priority "Critical")}}{{upper rule}}{{else if (and a b)}}{{lower rule}}{{else}}{{default missing "x"}}{{/if}}',
  '{{truncate output 20 " [cut]"}} {{join tags ", "}} {{date time "YYYY-MM-DD HH:mm:ss.SSS"}} {{date time "unix"}}',
  '{{index output_fields "k8s.ns.name"}} {{lookup output_fields "proc.name"}} {{priority_color priority format="int"}} {{priority_emoji priority}}',
  "{{#with output_fields}}{{[proc.name]}}{{/with}} {{{output}}} {{&rule}} {{! comment }} {{!-- {{long}} --}}",
  "{{~#each tags as |t i|~}} {{i}}:{{t}} {{~/each~}} {{../rule}} {{@root.rule}}",
];

const TOKENS = [
  "{{", "}}", "{{{", "}}}", "{{#", "{{/", "{{^", "{{else}}", "{{else if x}}", "{{>", "{{*", "{{!", "{{!--", "--}}", "{{&", "{{~", "~}}", "{{{{", "}}}}", "{{{{/raw}}}}",
  "(", ")", "=", " ", "\n", "\"", "'", "[", "]", ".", "..", "/", "../", "@", "@index", "@key", "@root", "this", "as |x|",
  "if", "unless", "each", "with", "lookup", "json", "upper", "lower", "default", "truncate", "join", "date", "priority_color", "priority_emoji", "index", "or", "and", "eq", "not", "log", "helperMissing", "blockHelperMissing",
  "rule", "output", "output_fields", "tags", "time", "priority", "constructor", "__proto__", "__defineGetter__", "hasOwnProperty", "1", "-1", "1e400", "true", "null", "undefined", "indent=2", "indent=99999", "format=\"int\"",
];

const tokenSoup = fc.array(fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 3 })), { maxLength: 25 }).map((t) => t.join(""));

type TextEdit = { op: "insert"; at: number; text: string } | { op: "delete"; at: number; length: number };
const textEdit: fc.Arbitrary<TextEdit> = fc.oneof(
  fc.record({ op: fc.constant("insert" as const), at: fc.nat(), text: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 3 })) }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 10 }) }),
);

function applyTextEdit(text: string, e: TextEdit): string {
  const at = e.at % (text.length + 1);
  return e.op === "insert" ? text.slice(0, at) + e.text + text.slice(at) : text.slice(0, at) + text.slice(at + e.length);
}

const escapeArb: fc.Arbitrary<TemplateEscape> = fc.constantFrom<TemplateEscape>("json", "html", "none", (t: string) => t.replace(/[<>&]/g, ""));

/** Contexts shaped like alerts, with every field free to hold any JSON value. */
const contextArb: fc.Arbitrary<object> = fc.record(
  {
    rule: fc.oneof(fc.string({ maxLength: 10 }), fc.jsonValue({ maxDepth: 1 })),
    priority: fc.oneof(fc.constantFrom("Critical", "Warning", "debug", "", "nope"), fc.jsonValue({ maxDepth: 1 })),
    output: fc.oneof(fc.string({ maxLength: 20 }), fc.jsonValue({ maxDepth: 1 })),
    time: fc.oneof(fc.constantFrom("2024-03-05T07:08:09.123456789Z", "2024-03-05T07:08:09+02:00", "not a time", "", "9999999-01-01T00:00:00Z"), fc.double(), fc.integer()),
    tags: fc.oneof(fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), fc.jsonValue({ maxDepth: 1 })),
    output_fields: fc.oneof(fc.dictionary(fc.constantFrom("proc.name", "k8s.ns.name", "fd.num", "__proto__", "constructor", "x"), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 4 }), fc.jsonValue({ maxDepth: 2 })),
    alerts: fc.array(fc.dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }), { maxLength: 3 }),
  },
  { requiredKeys: [] },
);

function compiles(source: string, escape: TemplateEscape, allowRaw: boolean): CompiledTemplate | undefined {
  try {
    return compileTemplate(source, { name: "fuzz.hbs", escape, allowRaw });
  } catch (err) {
    if (!(err instanceof TemplateError)) throw new Error(`compileTemplate threw ${String(err)} on ${JSON.stringify(source)}\n${(err as Error).stack}`);
    if (err.code !== "TEMPLATE_INVALID") throw new Error(`compile error with code ${err.code} on ${JSON.stringify(source)}`);
    const lines = source.split(/\r?\n/).length;
    if (err.line === undefined || err.column === undefined)
      throw new Error(`compile error without line/column on ${JSON.stringify(source)}: ${err.message}`);
    if (!(err.line >= 1 && err.line <= lines + 1 && err.column >= 1))
      throw new Error(`compile error at ${err.line}:${err.column}, outside the ${lines}-line template ${JSON.stringify(source)}: ${err.message}`);
    if (err.message.includes("\n")) throw new Error(`compile error message spans lines: ${JSON.stringify(err.message)}`);
    return undefined;
  }
}

function renders(t: CompiledTemplate, context: object, source: string): void {
  try {
    const out = t.render(context);
    expect(typeof out).toBe("string");
  } catch (err) {
    if (!(err instanceof TemplateError)) throw new Error(`render threw ${String(err)} for ${JSON.stringify(source)} with ${JSON.stringify(context)}\n${(err as Error).stack}`);
    expect(err.code).toBe("TEMPLATE_RENDER_FAILED");
  }
}

describe("templates under fuzzing", () => {
  it("the seeds compile and render", () => {
    for (const seed of SEEDS) {
      const t = compileTemplate(seed, { name: "seed" });
      expect(typeof t.render({ rule: "r", priority: "Warning", output_fields: { "proc.name": "cat" }, tags: ["a"], alerts: [{}] })).toBe("string");
    }
  });

  it("mutated templates: compile or a TemplateError with line and column; what compiles renders or throws a TemplateError", () => {
    fc.assert(
      fc.property(fc.nat(SEEDS.length - 1), fc.array(textEdit, { minLength: 1, maxLength: 4 }), escapeArb, fc.boolean(), contextArb, (i, edits, escape, allowRaw, ctx) => {
        let source = SEEDS[i]!;
        for (const e of edits) source = applyTextEdit(source, e);
        const t = compiles(source, escape, allowRaw);
        if (t) renders(t, ctx, source);
      }),
      { numRuns: 2000 },
    );
  });

  it("token soups: compile or a TemplateError with line and column; what compiles renders or throws a TemplateError", () => {
    fc.assert(
      fc.property(tokenSoup, escapeArb, fc.boolean(), contextArb, (source, escape, allowRaw, ctx) => {
        const t = compiles(source, escape, allowRaw);
        if (t) renders(t, ctx, source);
      }),
      { numRuns: 3000 },
    );
  });

  it("random text compiles or fails with a position", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (source) => {
        compiles(source, "json", true);
      }),
      { numRuns: 1000 },
    );
  });

  it("contexts no JSON alert can hold (cycles, getters that throw) fail as TemplateError", () => {
    const cyclic: Record<string, unknown> = { rule: "r" };
    cyclic.self = cyclic;
    const t = compileTemplate("{{json this}}", { name: "cyclic" });
    expect(() => t.render(cyclic)).toThrow(TemplateError);
    const throwing = Object.defineProperty({}, "rule", { enumerable: true, get: () => { throw new Error("boom"); } });
    expect(() => compileTemplate("{{rule}}", { name: "getter" }).render(throwing)).toThrow(TemplateError);
  });
});
