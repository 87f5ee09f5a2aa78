import { readFileSync } from "node:fs";
import Handlebars from "handlebars";
import { didYouMean, type ParseContext } from "../config/schema.js";
import { errorMessage, PeregrineError } from "../errors.js";
import { TemplateError } from "./errors.js";
import { BUILTIN_BLOCK_HELPERS, BUILTIN_LOOKUP, HELPERS, toHandlebarsHelper, toText } from "./helpers.js";

/**
 * How `{{value}}` is escaped (triple-stash `{{{value}}}` is never escaped):
 * - "json": as the inside of a JSON string, so `"text": "{{output}}"` stays valid JSON
 *   whatever the alert holds (use `{{json value}}` for a whole JSON value);
 * - "html": Handlebars' HTML escaping;
 * - "none": no escaping (plain text);
 * - a function: called with the value's text (e.g. Slack mrkdwn, then JSON).
 */
export type TemplateEscape = "json" | "html" | "none" | ((text: string) => string);

export interface CompileTemplateOptions {
  /** Names the template in errors: a config path or a file name. */
  name: string;
  /** Default "json": every templated output of the router renders JSON. */
  escape?: TemplateEscape;
  /** false rejects `{{{raw}}}` and `{{&raw}}`, for templates whose escaping is a safety rule (object keys). */
  allowRaw?: boolean;
}

export interface CompiledTemplate {
  readonly name: string;
  /** Renders with the shared helpers; prototype properties of the context are never reachable. */
  render(context: object): string;
}

/** Escapes text for the inside of a JSON string literal. */
export function jsonEscape(text: string): string {
  const quoted = JSON.stringify(text);
  return quoted.slice(1, -1);
}

const ESCAPE_HELPER = "__escape";

const RUNTIME_OPTIONS: Handlebars.RuntimeOptions = {
  allowProtoPropertiesByDefault: false,
  allowProtoMethodsByDefault: false,
  allowCallsToHelperMissing: false,
};

type Ast = hbs.AST.Node & Record<string, unknown>;
type Where = { line: number; column: number; source: string };

/** The parts of a Handlebars environment compile() itself uses; not in its published types. */
interface HandlebarsInternals {
  Compiler: new () => { compile(ast: unknown, options: object): unknown };
  JavaScriptCompiler: new () => { compile(environment: unknown, options: object, context: undefined, asObject: true): unknown };
  Parser: { lexer: { yylloc?: { first_line: number; first_column: number } } };
}

/** Handlebars' own environments have these; the check keeps an upgrade that drops them from failing obscurely. */
function hasInternals(env: typeof Handlebars): env is typeof Handlebars & HandlebarsInternals {
  return (
    "Compiler" in env &&
    typeof env.Compiler === "function" &&
    "JavaScriptCompiler" in env &&
    typeof env.JavaScriptCompiler === "function" &&
    "Parser" in env &&
    typeof env.Parser === "object" &&
    env.Parser !== null &&
    "lexer" in env.Parser
  );
}

/**
 * Parses, checks and compiles a template once. Throws a TemplateError (TEMPLATE_INVALID)
 * naming the line and column of the first problem: a syntax error, an unknown helper
 * (with a did-you-mean), a helper given the wrong number of arguments, a partial or
 * decorator (not supported), or raw output where `allowRaw` is false.
 */
export function compileTemplate(source: string, options: CompileTemplateOptions): CompiledTemplate {
  const name = options.name;
  const escape = options.escape ?? "json";
  const env = Handlebars.create();
  if (!hasInternals(env)) throw new PeregrineError("INTERNAL_ERROR", "this Handlebars version lacks the compiler internals templates are compiled with");
  const internals = env;

  let ast: hbs.AST.Program;
  try {
    ast = env.parse(source);
  } catch (err) {
    throw parseFailure(name, source, err, internals.Parser.lexer.yylloc);
  }

  const escapeFn = escape === "json" ? jsonEscape : typeof escape === "function" ? escape : undefined;
  const checker = new TemplateChecker(name, source, options.allowRaw ?? true, escapeFn !== undefined);
  checker.program(ast);

  // Handlebars wraps every registered helper on every render: register only those used.
  for (const [helperName, spec] of Object.entries(HELPERS))
    if (checker.used.has(helperName)) env.registerHelper(helperName, toHandlebarsHelper(spec));
  env.unregisterHelper("log");
  if (escapeFn) {
    env.registerHelper(ESCAPE_HELPER, (value: unknown) =>
      value instanceof Handlebars.SafeString ? value.toString() : escapeFn(toText(value)),
    );
  }

  const knownHelpers: Record<string, boolean> = { log: false, [ESCAPE_HELPER]: escapeFn !== undefined };
  for (const helperName of Object.keys(HELPERS)) knownHelpers[helperName] = true;
  const compileOptions = () => ({
    data: true,
    knownHelpers: { ...knownHelpers },
    knownHelpersOnly: true,
    noEscape: escape !== "html",
    strict: false,
  });

  let fn: Handlebars.TemplateDelegate;
  try {
    // What Handlebars.compile does lazily on first render, done now so errors surface at start.
    const environment = new internals.Compiler().compile(ast, compileOptions());
    const spec = new internals.JavaScriptCompiler().compile(environment, compileOptions(), undefined, true);
    fn = env.template(spec as TemplateSpecification);
  } catch (err) {
    throw exceptionFailure("TEMPLATE_INVALID", name, source, err);
  }

  return {
    name,
    render(context: object): string {
      try {
        return fn(context, RUNTIME_OPTIONS);
      } catch (err) {
        throw exceptionFailure("TEMPLATE_RENDER_FAILED", name, source, err);
      }
    },
  };
}

/** Reads a template file and compiles it; the file's path names it in errors. */
export function compileTemplateFile(path: string, options: Omit<CompileTemplateOptions, "name"> & { name?: string }): CompiledTemplate {
  let source: string;
  try {
    source = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new TemplateError("TEMPLATE_INVALID", options.name ?? path, `cannot read ${path}${code ? ` (${code})` : ""}`);
  }
  return compileTemplate(source, { ...options, name: options.name ?? path });
}

/** For an output's `validate`: reports a template that does not compile at the config path. */
export function checkTemplate(ctx: ParseContext, path: string, compile: () => unknown): void {
  try {
    compile();
  } catch (err) {
    ctx.error(path, err instanceof TemplateError ? err.message : errorMessage(err));
  }
}

/** Walks the AST once: validates helper use and, for escaping modes Handlebars lacks, rewrites `{{x}}` as `{{__escape x}}`. */
class TemplateChecker {
  /** Helpers the template calls (ours and Handlebars' own). */
  readonly used = new Set<string>();

  constructor(
    private readonly name: string,
    private readonly source: string,
    private readonly allowRaw: boolean,
    private readonly rewriteEscapes: boolean,
  ) {}

  program(program: hbs.AST.Program | undefined): void {
    if (!program) return;
    const body = program.body as Ast[];
    for (let i = 0; i < body.length; i++) {
      const node = body[i]!;
      this.statement(node);
      if (this.rewriteEscapes && node.type === "MustacheStatement" && node.escaped === true) body[i] = this.wrapEscape(node);
    }
  }

  private statement(node: Ast): void {
    switch (node.type) {
      case "ContentStatement":
      case "CommentStatement":
        return;
      case "MustacheStatement":
        if (node.escaped === false && !this.allowRaw)
          this.fail(node, "raw output ({{{ }}} or {{& }}) is not allowed in this template; values must stay escaped");
        this.call(node, false);
        return;
      case "BlockStatement":
        this.call(node, true);
        this.program(node.program as hbs.AST.Program | undefined);
        this.program(node.inverse as hbs.AST.Program | undefined);
        return;
      case "PartialStatement":
      case "PartialBlockStatement":
        this.fail(node, "partials ({{> name}}) are not supported; keep the template in one file");
        return;
      case "Decorator":
      case "DecoratorBlock":
        this.fail(node, "decorators ({{* name}}) are not supported");
        return;
      default:
        this.fail(node, `unsupported construct ${node.type}`);
    }
  }

  /** Checks a mustache, block or sub-expression: which helper it calls and with how many arguments. */
  private call(node: Ast, isBlock: boolean): void {
    const path = node.path as Ast;
    const params = (node.params as Ast[] | undefined) ?? [];
    const hash = node.hash as { pairs: { value: Ast }[] } | undefined;
    for (const p of params) this.expression(p);
    for (const pair of hash?.pairs ?? []) this.expression(pair.value);

    const isCall = node.type === "SubExpression" || params.length > 0 || hash !== undefined;
    const helperName = simpleName(path);
    if (helperName !== undefined) this.used.add(helperName);
    if (isBlock) {
      if (helperName !== undefined && Object.hasOwn(BUILTIN_BLOCK_HELPERS, helperName)) {
        this.arity(node, helperName, params.length, BUILTIN_BLOCK_HELPERS[helperName]!);
        return;
      }
      if (helperName !== undefined && (Object.hasOwn(HELPERS, helperName) || helperName === "lookup"))
        this.fail(node, `${helperName} is not a block helper; write {{${helperName} …}} or use it inside (…)`);
      if (isCall) this.unknownHelper(node, path);
      return; // {{#section}}…{{/section}}: a context value used as a section
    }
    if (helperName !== undefined && Object.hasOwn(HELPERS, helperName)) {
      this.arity(node, helperName, params.length, HELPERS[helperName]!);
      return;
    }
    if (helperName === "lookup") {
      this.arity(node, helperName, params.length, BUILTIN_LOOKUP);
      return;
    }
    if (helperName !== undefined && Object.hasOwn(BUILTIN_BLOCK_HELPERS, helperName) && isCall) {
      if (node.type === "MustacheStatement") this.fail(node, `${helperName} is a block helper; write {{#${helperName} …}}…{{/${helperName}}}`);
      return; // (if a b c) style inline use is Handlebars' own
    }
    if (isCall) this.unknownHelper(node, path);
  }

  private expression(node: Ast): void {
    if (node.type === "SubExpression") this.call(node, false);
  }

  private arity(node: Ast, helperName: string, got: number, spec: { minArgs: number; maxArgs: number }): void {
    if (got >= spec.minArgs && got <= spec.maxArgs) return;
    const want =
      spec.minArgs === spec.maxArgs
        ? `${spec.minArgs} argument${spec.minArgs === 1 ? "" : "s"}`
        : spec.maxArgs >= 16
          ? `at least ${spec.minArgs} arguments`
          : `${spec.minArgs} to ${spec.maxArgs} arguments`;
    this.fail(node, `${helperName} takes ${want}, got ${got}`);
  }

  private unknownHelper(node: Ast, path: Ast): never {
    const label = path.type === "PathExpression" ? String(path.original) : String(path.type);
    const candidates = [...Object.keys(HELPERS), ...Object.keys(BUILTIN_BLOCK_HELPERS), "lookup"];
    this.fail(node, `unknown helper "${label}"${didYouMean(label, candidates)}`);
  }

  private wrapEscape(node: Ast): Ast {
    const path = node.path as Ast;
    const params = (node.params as Ast[] | undefined) ?? [];
    const helperName = simpleName(path);
    const callsHelper =
      params.length > 0 || node.hash !== undefined || (helperName !== undefined && (Object.hasOwn(HELPERS, helperName) || helperName === "lookup"));
    const inner = callsHelper
      ? { type: "SubExpression", path, params, hash: node.hash, loc: node.loc }
      : path;
    const wrapped: Ast = {
      type: "MustacheStatement",
      path: { type: "PathExpression", data: false, depth: 0, parts: [ESCAPE_HELPER], original: ESCAPE_HELPER, loc: node.loc },
      params: [inner],
      hash: undefined,
      escaped: false,
      strip: node.strip,
      loc: node.loc,
    };
    return wrapped;
  }

  private fail(node: Ast, reason: string): never {
    throw new TemplateError("TEMPLATE_INVALID", this.name, reason, whereOf(node, this.source));
  }
}

function simpleName(path: Ast | undefined): string | undefined {
  if (!path || path.type !== "PathExpression") return undefined;
  const parts = path.parts as string[];
  if (path.data || path.depth !== 0 || parts.length !== 1 || /^(\.|this\b)/.test(String(path.original))) return undefined;
  return parts[0];
}

function whereOf(node: { loc?: hbs.AST.SourceLocation } | undefined, source: string): Where | undefined {
  const start = node?.loc?.start;
  return start ? { line: start.line, column: start.column + 1, source } : undefined;
}

const TOKEN_NAMES: Record<string, string> = {
  EOF: "end of template",
  CLOSE: "}}",
  CLOSE_UNESCAPED: "}}}",
  CLOSE_RAW_BLOCK: "}}}}",
  OPEN_SEXPR: "(",
  CLOSE_SEXPR: ")",
  ID: "a name",
  STRING: "a string",
  NUMBER: "a number",
  BOOLEAN: "true/false",
  DATA: "an @variable",
  SEP: "a path separator",
  EQUALS: "=",
  INVALID: "a character that cannot appear there",
  OPEN_ENDBLOCK: "{{/",
  OPEN_INVERSE_CHAIN: "{{else …}}",
  INVERSE: "{{else}}",
  OPEN_PARTIAL: "{{>",
  OPEN_RAW_BLOCK: "{{{{",
  END_RAW_BLOCK: "{{{{/",
  OPEN_INVERSE: "{{^",
  OPEN_BLOCK: "{{#",
  OPEN: "{{",
  CONTENT: "text",
};

function tokenName(token: string): string {
  return TOKEN_NAMES[token] ?? token;
}

function parseFailure(
  name: string,
  source: string,
  err: unknown,
  loc: { first_line: number; first_column: number } | undefined,
): TemplateError {
  if (err instanceof Handlebars.Exception && (err as { lineNumber?: number }).lineNumber !== undefined)
    return exceptionFailure("TEMPLATE_INVALID", name, source, err);
  const message = errorMessage(err);
  const where: Where | undefined = loc ? { line: loc.first_line, column: loc.first_column + 1, source } : undefined;
  const expecting = /Expecting (.+), got '([^']+)'/.exec(message);
  let reason: string;
  if (expecting) {
    const expected = [...expecting[1]!.matchAll(/'([^']+)'/g)].map((m) => tokenName(m[1]!));
    const shown = expected.length > 4 ? `${expected.slice(0, 4).join(", ")}, …` : expected.join(", ");
    const unclosed = expecting[2] === "EOF" && expected.includes("{{/") ? findUnclosedBlock(source) : undefined;
    if (unclosed) return new TemplateError("TEMPLATE_INVALID", name, `{{#${unclosed.name}}} is never closed with {{/${unclosed.name}}}`, { ...unclosed, source });
    reason =
      expecting[2] === "EOF" && expected.includes("{{/")
        ? "syntax error: unexpected end of template: a {{#block}} is not closed with {{/block}}"
        : `syntax error: unexpected ${tokenName(expecting[2]!)} (expected ${shown})`;
    if (expecting[2] === "CLOSE_UNESCAPED")
      reason += '; a "}" right after "}}" reads as "}}}": add a space, as in {{json x}} }';
  } else if (/Lexical error/.test(message)) {
    reason = "syntax error: unrecognized text";
  } else {
    reason = `syntax error: ${message.split("\n")[0]}`;
  }
  return new TemplateError("TEMPLATE_INVALID", name, reason, where);
}

/** The innermost block left open at the end, to point at it rather than at the end of the file. */
function findUnclosedBlock(source: string): { name: string; line: number; column: number } | undefined {
  // Comments may hold mustaches; blank them out keeping every offset.
  const text = source.replace(/\{\{!--[\s\S]*?--\}\}|\{\{![\s\S]*?\}\}/g, (m) => m.replace(/[^\n]/g, " "));
  const stack: { name: string; offset: number }[] = [];
  for (const m of text.matchAll(/\{\{~?\s*([#^/])\s*([^\s}~()]+)/g)) {
    if (m[1] === "/") {
      const at = stack.map((b) => b.name).lastIndexOf(m[2]!);
      if (at >= 0) stack.length = at;
    } else stack.push({ name: m[2]!.replace(/^[*>]/, ""), offset: m.index! });
  }
  const open = stack.pop();
  if (!open) return undefined;
  const before = text.slice(0, open.offset).split("\n");
  return { name: open.name, line: before.length, column: before[before.length - 1]!.length + 1 };
}

function exceptionFailure(
  code: "TEMPLATE_INVALID" | "TEMPLATE_RENDER_FAILED",
  name: string,
  source: string,
  err: unknown,
): TemplateError {
  if (err instanceof TemplateError) return err;
  const e = err as { lineNumber?: number; column?: number };
  // Handlebars appends " - line:column" to its messages; the location is reported apart.
  const reason = errorMessage(err).replace(/ - \d+:\d+$/, "");
  const where = typeof e.lineNumber === "number" ? { line: e.lineNumber, column: (e.column ?? 0) + 1, source } : undefined;
  return new TemplateError(code, name, reason, where);
}
