/**
 * Compile stage of the loader: expands lists (lists in lists, then list references in
 * conditions), resolves macros with Falco's visibility rule (a macro sees only macros defined
 * before it; rules see all) and loop detection, builds exceptions into conditions the way Falco
 * does, then compiles conditions and outputs against the rule's source.
 */
import type { FieldValue } from "../../alert.js";
import type { BinaryCheck, Expr, ListValue, Pos, Value } from "../condition/ast.js";
import { caretSnippet, parseCondition, unescapeQuoted } from "../condition/parser.js";
import { quoteString } from "../condition/printer.js";
import { CompileError, compileCondition } from "../compiler/compile.js";
import { eventTypesOf, typeSetSize } from "../compiler/evttypes.js";
import type { EventSource, EventTypeCatalog } from "../event.js";
import { compileOutput, OutputError, typedValue } from "../output/format.js";
import type { CompiledRule, ExtraField } from "../ruleset.js";
import { type Collector, type Composite, type ExceptionInfo, locateIn, type MacroInfo, type RuleInfo } from "./collector.js";
import type { LoadResults } from "./results.js";
import { compileOperand, resolveField } from "../compiler/operand.js";

/** `append_output` entries, as in falco.yaml. */
export interface AppendOutput {
  match?: { source?: string; tags?: string[]; rule?: string };
  /** Text appended to the output (with a space), may hold %fields. */
  extra_output?: string;
  /** Extra output_fields: a field name, or { key: "format with %fields" }. */
  extra_fields?: (string | Record<string, string>)[];
  /** Falco's suggested_output: append `name_with_underscores=%name` for each suggested field of the source. */
  suggested_output?: boolean;
}

/**
 * The fields Falco's plugins flag as suggested output (the container plugin's
 * extract.cpp, in its order); a source gets those it has.
 */
export const SUGGESTED_OUTPUT_FIELDS: readonly string[] = ["container.id", "container.name", "container.image.repository", "container.image.tag", "k8s.pod.name", "k8s.ns.name"];

/** Fields Falco deprecates (enter events are dropped): using them warns with LOAD_DEPRECATED_ITEM. */
const DEPRECATED_FIELDS = ["evt.dir", "evt.latency", "evt.latency.s", "evt.latency.ns", "evt.latency.human", "evt.wait_latency"];

function deprecatedFields(e: Expr, out = new Set<string>()): Set<string> {
  const visit = (n: unknown): void => {
    if (!n || typeof n !== "object") return;
    if (Array.isArray(n)) return n.forEach(visit);
    const node = n as { kind?: string; name?: string };
    if (node.kind === "field" && node.name && DEPRECATED_FIELDS.includes(node.name)) out.add(node.name);
    for (const [k, v] of Object.entries(node)) if (k !== "pos") visit(v);
  };
  visit(e);
  return out;
}

/** Falco warns when a rule matches more than this many event types. */
const NO_EVTTYPE_THRESHOLD = 100;

type Origin = { kind: "macro" | "rule"; name: string; composite: Composite; shift: number };

/** Each list's items with the lists it names (defined before it) expanded, and whether anything used it. */
type ListTable = Map<string, { items: string[]; used: boolean }>;

/** What the passes share. */
interface CompileState {
  readonly col: Collector;
  readonly results: LoadResults;
  readonly lists: ListTable;
  /** Each macro's condition, parsed with its lists expanded; undefined when it does not parse. */
  readonly macroAst: Map<string, Expr | undefined>;
  /** The macros some rule or macro refers to. */
  readonly macroUsed: Set<string>;
  /** The macro or rule each parsed node came from, so that an error points into the right text. */
  readonly origins: WeakMap<Pos, Origin>;
}

/** Reports the first error of a resolution only; an empty message fails quietly (already reported). */
type OnError = (message: string, pos: Pos) => void;

/**
 * Compiles the collected rules in passes: lists, macros, macro visibility, rules, unused
 * warnings. Errors and warnings go to `results`; a rule with an error is left out.
 */
export function compileCollected(
  col: Collector,
  sources: ReadonlyMap<string, EventSource<never>>,
  results: LoadResults,
  appendOutput: readonly AppendOutput[],
): CompiledRule[] {
  const state: CompileState = { col, results, lists: expandListDefinitions(col), macroAst: new Map(), macroUsed: new Set(), origins: new WeakMap() };
  parseMacros(state);
  checkMacroVisibility(state);
  const compiled = compileRules(state, sources, appendOutput);
  warnUnused(state);
  return compiled;
}

// ---- pass 1, lists: expand references to lists defined earlier

function expandListDefinitions(col: Collector): ListTable {
  const lists: ListTable = new Map();
  for (const l of col.lists.values()) {
    const items: string[] = [];
    for (const item of l.items) {
      const ref = col.lists.get(item);
      if (ref && ref.index < l.visibility && ref !== l) {
        lists.get(ref.name)!.used = true;
        items.push(...lists.get(ref.name)!.items);
      } else {
        items.push(item);
      }
    }
    lists.set(l.name, { items, used: false });
  }
  return lists;
}

// ---- pass 2, macros: parse, expand lists

function parseMacros(state: CompileState): void {
  for (const m of state.col.macros.values()) {
    const origin: Origin = { kind: "macro", name: m.name, composite: m.condition, shift: 0 };
    const parsed = parseCondition(m.condition.text);
    if (!parsed.ok) {
      report(state, "LOAD_ERR_COMPILE_CONDITION", parsed.error.message, parsed.error.pos, origin);
      state.macroAst.set(m.name, undefined);
      continue;
    }
    const ast = expandLists(parsed.ast, state.lists);
    recordOrigin(state, ast, origin);
    state.macroAst.set(m.name, ast);
  }
}

// ---- pass 3, visibility: a macro may only reference macros defined before it

function checkMacroVisibility(state: CompileState): void {
  const { col } = state;
  for (const m of col.macros.values()) {
    const ast = state.macroAst.get(m.name);
    if (!ast) continue;
    const origin: Origin = { kind: "macro", name: m.name, composite: m.condition, shift: 0 };
    resolveMacros(
      state,
      ast,
      (name) => {
        const x = col.macros.get(name);
        return x && x.index < m.visibility ? x : undefined;
      },
      [m.name],
      firstError(state, origin).onError,
    );
  }
}

// ---- pass 4, rules: condition with exceptions and macros, output, match, warnings

function compileRules(state: CompileState, sources: ReadonlyMap<string, EventSource<never>>, appendOutput: readonly AppendOutput[]): CompiledRule[] {
  const compiled: CompiledRule[] = [];
  const rules = [...state.col.rules.values()].sort((a, b) => a.index - b.index);
  for (const r of rules) {
    const source = sources.get(r.source);
    if (!source) continue; // LOAD_UNKNOWN_SOURCE was reported by the collector
    const rule = compileRule(state, r, source, appendOutput);
    if (rule) compiled.push(rule);
  }
  return compiled;
}

function compileRule(state: CompileState, r: RuleInfo, source: EventSource<never>, appendOutput: readonly AppendOutput[]): CompiledRule | undefined {
  const { results } = state;
  const item = { type: "rule" as const, name: r.name };
  if (!checkExceptionFields(results, r, source)) return undefined;
  const condition = resolveRuleCondition(state, r);
  if (!condition) return undefined;
  const { text, ast, origin } = condition;

  // output (with append_output) first, as Falco does
  const out = compileRuleOutput(results, r, source, appendOutput);
  if (!out) return undefined;

  let match;
  try {
    match = compileCondition(ast, source);
  } catch (err) {
    if (!(err instanceof CompileError)) throw err;
    if (err.unknown && r.skipIfUnknownFilter) report(state, "LOAD_ERR_COMPILE_CONDITION", err.message, err.pos, origin, "LOAD_UNKNOWN_FILTER");
    else report(state, "LOAD_ERR_COMPILE_CONDITION", err.message, err.pos, origin);
    return undefined;
  }

  warnDeprecatedFields(results, r, ast, out.text);
  const eventTypes = eventTypesOf(ast);
  const catalog = (source as Partial<EventTypeCatalog>).eventTypes;
  if (catalog && r.warnEvttypes && typeSetSize(eventTypes, catalog) > NO_EVTTYPE_THRESHOLD) {
    results.warn("LOAD_NO_EVTTYPE", "Rule matches too many evt.type values. This has a significant performance penalty.", r.pos, item);
  }

  return {
    name: r.name,
    description: r.desc,
    priority: r.priority,
    tags: r.tags,
    source: r.source,
    enabled: r.enabled,
    condition: text,
    ast,
    eventTypes,
    match,
    output: out.output,
    extraFields: out.extraFields,
  };
}

/** False (reported) when an exception names a field the rule's source does not have. */
function checkExceptionFields(results: LoadResults, r: RuleInfo, source: EventSource<never>): boolean {
  const badField = r.exceptions
    .flatMap((ex) => (Array.isArray(ex.fields) ? ex.fields.map((f) => [ex, f] as const) : ex.fields ? [[ex, ex.fields] as const] : []))
    .find(([, f]) => !isKnownField(source, f));
  if (!badField) return true;
  results.error("LOAD_ERR_VALIDATE", `Exception '${badField[0].name}': '${badField[1]}' is not a supported filter field`, badField[0].pos, { type: "rule", name: r.name });
  return false;
}

/** The rule's condition with its exceptions, parsed, lists expanded and macros resolved; undefined when reported. */
function resolveRuleCondition(state: CompileState, r: RuleInfo): { text: string; ast: Expr; origin: Origin } | undefined {
  const { text, shift } = withExceptions(r.condition.text, r.exceptions);
  const origin: Origin = { kind: "rule", name: r.name, composite: r.condition, shift };
  const parsed = parseCondition(text);
  if (!parsed.ok) {
    const p = parsed.error.pos;
    if (shift && p.offset > r.condition.text.length + shift) {
      state.results.error("LOAD_ERR_COMPILE_CONDITION", `in exceptions: ${parsed.error.message}`, r.exceptions[0]?.pos ?? r.pos, { type: "rule", name: r.name }, caretSnippet(text, p));
    } else {
      report(state, "LOAD_ERR_COMPILE_CONDITION", parsed.error.message, p, origin);
    }
    return undefined;
  }
  const listed = expandLists(parsed.ast, state.lists);
  recordOrigin(state, listed, origin);
  const errors = firstError(state, origin);
  const ast = resolveMacros(state, listed, (name) => state.col.macros.get(name), [], errors.onError);
  return errors.failed() ? undefined : { text, ast, origin };
}

/** The rule's output with the matching `append_output` entries, compiled; undefined when reported. */
function compileRuleOutput(
  results: LoadResults,
  r: RuleInfo,
  source: EventSource<never>,
  appendOutput: readonly AppendOutput[],
): { text: string; output: ReturnType<typeof compileOutput>; extraFields: ExtraField<never>[] } | undefined {
  const item = { type: "rule" as const, name: r.name };
  let outputText = r.output.text;
  const extraFieldSpecs: ExtraFieldSpec[] = [];
  for (const x of appendOutput) {
    if (x.match?.source && x.match.source !== r.source) continue;
    if (x.match?.tags && !x.match.tags.every((t) => r.tags.includes(t))) continue;
    if (x.match?.rule && x.match.rule !== r.name) continue;
    if (x.extra_output) outputText = `${outputText} ${x.extra_output}`;
    if (x.suggested_output) {
      for (const f of SUGGESTED_OUTPUT_FIELDS) if (source.fields.has(f)) outputText = `${outputText} ${f.replace(/\./g, "_")}=%${f}`;
    }
    for (const f of x.extra_fields ?? []) {
      if (typeof f === "string") extraFieldSpecs.push({ key: f, field: f });
      else for (const [key, format] of Object.entries(f)) extraFieldSpecs.push({ key, format });
    }
  }
  if (outputText.includes("%container.info")) {
    // Falco dropped the expansion of %container.info: it warns and removes the token
    results.warn(
      "LOAD_DEPRECATED_ITEM",
      "%container.info is deprecated and no more useful; it is removed from the output (container fields can be named directly)",
      r.output.pieces[0]!.pos,
      item,
    );
    outputText = outputText.split("%container.info").join("");
  }
  try {
    const output = compileOutput(outputText, source);
    const extraFields = extraFieldSpecs.map((spec) => compileExtraField(spec, source));
    return { text: outputText, output, extraFields };
  } catch (err) {
    if (!(err instanceof OutputError)) throw err;
    const where = err.offset < r.output.text.length ? locateIn(r.output, err.offset) : locateIn(r.output, 0);
    if (err.unknown && r.skipIfUnknownFilter) results.warn("LOAD_UNKNOWN_FILTER", err.message, where, item);
    else results.error("LOAD_ERR_COMPILE_OUTPUT", err.message, where, item);
    return undefined;
  }
}

function warnDeprecatedFields(results: LoadResults, r: RuleInfo, ast: Expr, outputText: string): void {
  const item = { type: "rule" as const, name: r.name };
  for (const f of deprecatedFields(ast)) {
    results.warn("LOAD_DEPRECATED_ITEM", `usage of deprecated field '${f}' has been detected in the rule condition`, r.condition.pieces[0]!.pos, item);
  }
  for (const f of DEPRECATED_FIELDS) {
    if (outputText.includes(`%${f}`)) {
      results.warn("LOAD_DEPRECATED_ITEM", `usage of deprecated field '${f}' has been detected in the rule output`, r.output.pieces[0]!.pos, item);
    }
  }
}

// ---- pass 5, unused warnings

function warnUnused(state: CompileState): void {
  for (const m of state.col.macros.values()) {
    if (!state.macroUsed.has(m.name)) {
      state.results.warn("LOAD_UNUSED_MACRO", "Macro not referred to by any other rule/macro", m.pos, { type: "macro", name: m.name });
    }
  }
  for (const l of state.col.lists.values()) {
    if (!state.lists.get(l.name)!.used) {
      state.results.warn("LOAD_UNUSED_LIST", "List not referred to by any other rule/macro", l.pos, { type: "list", name: l.name });
    }
  }
}

// ---- shared by the passes

function recordOrigin(state: CompileState, e: unknown, origin: Origin): void {
  if (!e || typeof e !== "object") return;
  if (Array.isArray(e)) {
    for (const x of e) recordOrigin(state, x, origin);
    return;
  }
  const node = e as { pos?: Pos };
  if (node.pos) state.origins.set(node.pos, origin);
  for (const [k, v] of Object.entries(node)) if (k !== "pos") recordOrigin(state, v, origin);
}

/** Reports at `pos` in the text it came from (a macro's, for a node a macro brought in), naming `fallback` as the item. */
function report(
  state: CompileState,
  code: "LOAD_ERR_COMPILE_CONDITION" | "LOAD_ERR_VALIDATE",
  message: string,
  pos: Pos,
  fallback: Origin,
  asWarning?: "LOAD_UNKNOWN_FILTER",
): void {
  const origin = state.origins.get(pos) ?? fallback;
  const offset = pos.offset - origin.shift;
  const inRange = offset >= 0 && offset <= origin.composite.text.length;
  const where = inRange ? locateIn(origin.composite, offset) : locateIn(origin.composite, 0);
  const snippet = caretSnippet(origin.shift ? `(${origin.composite.text}` : origin.composite.text, pos);
  const suffix = origin.kind !== fallback.kind || origin.name !== fallback.name ? ` (in macro '${origin.name}' used by ${fallback.kind} '${fallback.name}')` : "";
  const item = { type: fallback.kind, name: fallback.name };
  if (asWarning) state.results.warn(asWarning, message + suffix, where, item, snippet);
  else state.results.error(code, message + suffix, where, item, snippet);
}

/** An error handler that reports only the first error of a resolution as LOAD_ERR_VALIDATE. */
function firstError(state: CompileState, origin: Origin): { onError: OnError; failed: () => boolean } {
  let failed = false;
  return {
    onError: (message, pos) => {
      if (failed) return;
      failed = true;
      if (message) report(state, "LOAD_ERR_VALIDATE", message, pos, origin);
    },
    failed: () => failed,
  };
}

/** Replaces macro references by their bodies, recursively; `visible` says which macros a name may reach. */
function resolveMacros(state: CompileState, e: Expr, visible: (name: string) => MacroInfo | undefined, stack: string[], onError: OnError): Expr {
  switch (e.kind) {
    case "and":
    case "or":
      return { ...e, children: e.children.map((c) => resolveMacros(state, c, visible, stack, onError)) };
    case "not":
      return { ...e, child: resolveMacros(state, e.child, visible, stack, onError) };
    case "macro": {
      const m = visible(e.name);
      if (!m) {
        onError(`Undefined macro '${e.name}' used in filter.`, e.pos);
        return e;
      }
      state.macroUsed.add(m.name);
      if (stack.includes(m.name)) {
        onError(`Reference loop in macro '${m.name}'`, e.pos);
        return e;
      }
      const body = state.macroAst.get(m.name);
      if (!body) {
        onError("", e.pos); // the macro's own parse error was reported: fail quietly
        return e;
      }
      return resolveMacros(state, body, visible, [...stack, m.name], onError);
    }
    default:
      return e;
  }
}

/** Whether `text` (as written in an exception's `fields`) names a field of `source`. */
function isKnownField(source: EventSource<never>, text: string): boolean {
  const parsed = parseCondition(`${text} exists`);
  if (!parsed.ok || parsed.ast.kind !== "unary") return false;
  // a transformer over fields is a valid left-hand side too (Falco's is_valid_lhs_field)
  const known = (o: unknown): boolean => {
    const n = o as { kind: string; name?: string; arg?: string; args?: unknown[]; items?: unknown[] };
    if (n.kind === "field") return resolveField(source.fields, n.name!, n.arg) !== undefined;
    if (n.kind === "transformer") return n.args!.every(known);
    if (n.kind === "tlist") return n.items!.every(known);
    return true;
  };
  return known(parsed.ast.left);
}

type ExtraFieldSpec = { key: string; format?: string; field?: string };

function compileExtraField(spec: ExtraFieldSpec, source: EventSource<never>): ExtraField<never> {
  if (spec.field !== undefined) {
    const parsed = parseCondition(`${spec.field} exists`);
    if (!parsed.ok || parsed.ast.kind !== "unary") throw new OutputError(`invalid extra field '${spec.field}'`, 0, false);
    const get = compileOperand(source, parsed.ast.left).get;
    return { key: spec.key, get: (e) => typedValue(get(e)) };
  }
  const out = compileOutput(spec.format ?? "", source);
  return { key: spec.key, get: (e): FieldValue => out.text(e) };
}

/** A list item from YAML as a condition value: `'"a b"'` is the quoted string `a b`. */
function listItemValue(item: string, pos: Pos): Value {
  if (item.length >= 2 && (item[0] === '"' || item[0] === "'") && item[item.length - 1] === item[0]) {
    try {
      return { kind: "value", value: unescapeQuoted(item), quoted: true, pos };
    } catch {
      /* not a valid quoted string: use it verbatim */
    }
  }
  return { kind: "value", value: item, quoted: false, pos };
}

/** Replaces list names inside list values (`in (a, shell_binaries)`, `in shell_binaries`) by their items. */
function expandLists(e: Expr, lists: ListTable): Expr {
  switch (e.kind) {
    case "and":
    case "or":
      return { ...e, children: e.children.map((c) => expandLists(c, lists)) };
    case "not":
      return { ...e, child: expandLists(e.child, lists) };
    case "binary": {
      if (e.right.kind !== "list") return e;
      const right = expandListValue(e.right, lists);
      return right === e.right ? e : ({ ...e, right } as BinaryCheck);
    }
    default:
      return e;
  }
}

function expandListValue(l: ListValue, lists: ListTable): ListValue {
  if (l.name !== undefined && l.items.length === 0) {
    const ref = lists.get(l.name);
    if (!ref) return l;
    ref.used = true;
    return { kind: "list", items: ref.items.map((i) => listItemValue(i, l.pos)), pos: l.pos };
  }
  let changed = false;
  const items: Value[] = [];
  for (const v of l.items) {
    const ref = !v.quoted ? lists.get(v.value) : undefined;
    if (ref) {
      ref.used = true;
      changed = true;
      for (const i of ref.items) items.push(listItemValue(i, v.pos));
    } else {
      items.push(v);
    }
  }
  return changed ? { ...l, items } : l;
}

// ---- exceptions, built into the condition text the way Falco does

/**
 * A value written as a transformer over fields (`toupper(proc.pname)`, `val(proc.name)`) is
 * compiled as a field comparison, as Falco does since 0.38 (it quotes only values with blanks).
 */
function isTransformerValue(v: string): boolean {
  if (!/^[a-z0-9]+\(\S*\)$/.test(v)) return false;
  const parsed = parseCondition(`evt.num = ${v}`);
  return parsed.ok && parsed.ast.kind === "binary" && parsed.ast.right.kind === "transformer";
}

function quoteItem(v: string): string {
  if (v.startsWith('"') || v.startsWith("'")) return v;
  if (/^[^()"'\s=,]+$/.test(v)) return v;
  return quoteString(v);
}

function parenItem(v: string): string {
  return v.startsWith("(") ? v : `(${v})`;
}

const LIST_OPS = new Set(["in", "intersects", "pmatch"]);

function isListOperator(op: string): boolean {
  return LIST_OPS.has(op) || /^\S+ (oneof|anyof|allof)$/.test(op);
}

/** `(condition) and not (exception...)`; `shift` is where the original condition starts. */
export function withExceptions(condition: string, exceptions: readonly ExceptionInfo[]): { text: string; shift: number } {
  if (exceptions.length === 0) return { text: condition, shift: 0 };
  let text = `(${condition})`;
  for (const ex of exceptions) {
    let icond = "";
    if (!Array.isArray(ex.fields)) {
      const vals = ex.values.map((v) => quoteItem(String(v)));
      if (vals.length > 0) icond = `(${ex.fields} ${String(ex.comps)} (${vals.join(", ")}))`;
    } else {
      const comps = ex.comps as string[];
      const alts: string[] = [];
      for (const tuple of ex.values as string[][]) {
        const parts = ex.fields.map((field, k) => {
          const v = tuple[k] as string | string[];
          const rhs = Array.isArray(v)
            ? `(${v.map((x) => quoteItem(String(x))).join(", ")})`
            : isListOperator(comps[k]!)
              ? parenItem(v)
              : isTransformerValue(v)
                ? v
                : quoteItem(v);
          return `${field} ${comps[k]} ${rhs}`;
        });
        alts.push(`(${parts.join(" and ")})`);
      }
      if (alts.length > 0) icond = `(${alts.join(" or ")})`;
    }
    if (icond) text += ` and not ${icond}`;
  }
  return { text, shift: 1 };
}
