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
import { type Collector, type Composite, type ExceptionInfo, locateIn, type MacroInfo } from "./collector.js";
import type { LoadResults } from "./results.js";
import { compileOperand, resolveField } from "../compiler/operand.js";

/** `append_output` entries, as in falco.yaml. */
export interface AppendOutput {
  match?: { source?: string; tags?: string[]; rule?: string };
  /** Text appended to the output (with a space), may hold %fields. */
  extra_output?: string;
  /** Extra output_fields: a field name, or { key: "format with %fields" }. */
  extra_fields?: (string | Record<string, string>)[];
}

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

export function compileCollected(
  col: Collector,
  sources: ReadonlyMap<string, EventSource<never>>,
  results: LoadResults,
  appendOutput: readonly AppendOutput[],
): CompiledRule[] {
  // ---- lists: expand references to lists defined earlier
  const lists = new Map<string, { items: string[]; used: boolean }>();
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

  const origins = new WeakMap<Pos, Origin>();
  const recordOrigin = (e: unknown, origin: Origin): void => {
    if (!e || typeof e !== "object") return;
    if (Array.isArray(e)) {
      for (const x of e) recordOrigin(x, origin);
      return;
    }
    const node = e as { pos?: Pos };
    if (node.pos) origins.set(node.pos, origin);
    for (const [k, v] of Object.entries(node)) if (k !== "pos") recordOrigin(v, origin);
  };

  const report = (
    code: "LOAD_ERR_COMPILE_CONDITION" | "LOAD_ERR_VALIDATE",
    message: string,
    pos: Pos,
    fallback: Origin,
    asWarning?: "LOAD_UNKNOWN_FILTER",
  ): void => {
    const origin = origins.get(pos) ?? fallback;
    const offset = pos.offset - origin.shift;
    const inRange = offset >= 0 && offset <= origin.composite.text.length;
    const where = inRange ? locateIn(origin.composite, offset) : locateIn(origin.composite, 0);
    const snippet = caretSnippet(origin.shift ? `(${origin.composite.text}` : origin.composite.text, pos);
    const suffix = origin.kind !== fallback.kind || origin.name !== fallback.name ? ` (in macro '${origin.name}' used by ${fallback.kind} '${fallback.name}')` : "";
    const item = { type: fallback.kind, name: fallback.name };
    if (asWarning) results.warn(asWarning, message + suffix, where, item, snippet);
    else results.error(code, message + suffix, where, item, snippet);
  };

  // ---- macros: parse, expand lists
  const macroAst = new Map<string, Expr | undefined>();
  const macroUsed = new Set<string>();
  for (const m of col.macros.values()) {
    const origin: Origin = { kind: "macro", name: m.name, composite: m.condition, shift: 0 };
    const parsed = parseCondition(m.condition.text);
    if (!parsed.ok) {
      report("LOAD_ERR_COMPILE_CONDITION", parsed.error.message, parsed.error.pos, origin);
      macroAst.set(m.name, undefined);
      continue;
    }
    const ast = expandLists(parsed.ast, lists);
    recordOrigin(ast, origin);
    macroAst.set(m.name, ast);
  }

  const resolve = (
    e: Expr,
    visible: (name: string) => MacroInfo | undefined,
    stack: string[],
    onError: (message: string, pos: Pos) => void,
  ): Expr => {
    switch (e.kind) {
      case "and":
      case "or":
        return { ...e, children: e.children.map((c) => resolve(c, visible, stack, onError)) };
      case "not":
        return { ...e, child: resolve(e.child, visible, stack, onError) };
      case "macro": {
        const m = visible(e.name);
        if (!m) {
          onError(`Undefined macro '${e.name}' used in filter.`, e.pos);
          return e;
        }
        macroUsed.add(m.name);
        if (stack.includes(m.name)) {
          onError(`Reference loop in macro '${m.name}'`, e.pos);
          return e;
        }
        const body = macroAst.get(m.name);
        if (!body) {
          onError("", e.pos); // the macro's own parse error was reported: fail quietly
          return e;
        }
        return resolve(body, visible, [...stack, m.name], onError);
      }
      default:
        return e;
    }
  };

  // macros may only reference macros defined before them
  for (const m of col.macros.values()) {
    const ast = macroAst.get(m.name);
    if (!ast) continue;
    const origin: Origin = { kind: "macro", name: m.name, composite: m.condition, shift: 0 };
    let failed = false;
    resolve(
      ast,
      (name) => {
        const x = col.macros.get(name);
        return x && x.index < m.visibility ? x : undefined;
      },
      [m.name],
      (message, pos) => {
        if (failed) return;
        failed = true;
        if (message) report("LOAD_ERR_VALIDATE", message, pos, origin);
      },
    );
  }

  // ---- rules
  const compiled: CompiledRule[] = [];
  const rules = [...col.rules.values()].sort((a, b) => a.index - b.index);
  for (const r of rules) {
    const source = sources.get(r.source);
    if (!source) continue; // LOAD_UNKNOWN_SOURCE was reported by the collector
    const item = { type: "rule" as const, name: r.name };
    const badField = r.exceptions
      .flatMap((ex) => (Array.isArray(ex.fields) ? ex.fields.map((f) => [ex, f] as const) : ex.fields ? [[ex, ex.fields] as const] : []))
      .find(([, f]) => !isKnownField(source, f));
    if (badField) {
      results.error("LOAD_ERR_VALIDATE", `Exception '${badField[0].name}': '${badField[1]}' is not a supported filter field`, badField[0].pos, item);
      continue;
    }
    const { text, shift } = withExceptions(r.condition.text, r.exceptions);
    const origin: Origin = { kind: "rule", name: r.name, composite: r.condition, shift };
    const parsed = parseCondition(text);
    if (!parsed.ok) {
      const p = parsed.error.pos;
      if (shift && p.offset > r.condition.text.length + shift) {
        results.error("LOAD_ERR_COMPILE_CONDITION", `in exceptions: ${parsed.error.message}`, r.exceptions[0]?.pos ?? r.pos, item, caretSnippet(text, p));
      } else {
        report("LOAD_ERR_COMPILE_CONDITION", parsed.error.message, p, origin);
      }
      continue;
    }
    const listed = expandLists(parsed.ast, lists);
    recordOrigin(listed, origin);
    let failed = false;
    const ast = resolve(listed, (name) => col.macros.get(name), [], (message, pos) => {
      if (failed) return;
      failed = true;
      if (message) report("LOAD_ERR_VALIDATE", message, pos, origin);
    });
    if (failed) continue;

    // output (with append_output) first, as Falco does
    let outputText = r.output.text;
    const extraFieldSpecs: { key: string; format?: string; field?: string }[] = [];
    for (const x of appendOutput) {
      if (x.match?.source && x.match.source !== r.source) continue;
      if (x.match?.tags && !x.match.tags.every((t) => r.tags.includes(t))) continue;
      if (x.match?.rule && x.match.rule !== r.name) continue;
      if (x.extra_output) outputText = `${outputText} ${x.extra_output}`;
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
    let output;
    const extraFields: ExtraField<never>[] = [];
    try {
      output = compileOutput(outputText, source);
      for (const spec of extraFieldSpecs) extraFields.push(compileExtraField(spec, source));
    } catch (err) {
      if (!(err instanceof OutputError)) throw err;
      const where = err.offset < r.output.text.length ? locateIn(r.output, err.offset) : locateIn(r.output, 0);
      if (err.unknown && r.skipIfUnknownFilter) results.warn("LOAD_UNKNOWN_FILTER", err.message, where, item);
      else results.error("LOAD_ERR_COMPILE_OUTPUT", err.message, where, item);
      continue;
    }

    let match;
    try {
      match = compileCondition(ast, source);
    } catch (err) {
      if (!(err instanceof CompileError)) throw err;
      if (err.unknown && r.skipIfUnknownFilter) report("LOAD_ERR_COMPILE_CONDITION", err.message, err.pos, origin, "LOAD_UNKNOWN_FILTER");
      else report("LOAD_ERR_COMPILE_CONDITION", err.message, err.pos, origin);
      continue;
    }

    for (const f of deprecatedFields(ast)) {
      results.warn("LOAD_DEPRECATED_ITEM", `usage of deprecated field '${f}' has been detected in the rule condition`, r.condition.pieces[0]!.pos, item);
    }
    for (const f of DEPRECATED_FIELDS) {
      if (outputText.includes(`%${f}`)) {
        results.warn("LOAD_DEPRECATED_ITEM", `usage of deprecated field '${f}' has been detected in the rule output`, r.output.pieces[0]!.pos, item);
      }
    }

    const eventTypes = eventTypesOf(ast);
    const catalog = (source as Partial<EventTypeCatalog>).eventTypes;
    if (catalog && r.warnEvttypes && typeSetSize(eventTypes, catalog) > NO_EVTTYPE_THRESHOLD) {
      results.warn("LOAD_NO_EVTTYPE", "Rule matches too many evt.type values. This has a significant performance penalty.", r.pos, item);
    }

    compiled.push({
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
      output,
      extraFields,
    });
  }

  for (const m of col.macros.values()) {
    if (!macroUsed.has(m.name)) {
      results.warn("LOAD_UNUSED_MACRO", "Macro not referred to by any other rule/macro", m.pos, { type: "macro", name: m.name });
    }
  }
  for (const l of col.lists.values()) {
    if (!lists.get(l.name)!.used) {
      results.warn("LOAD_UNUSED_LIST", "List not referred to by any other rule/macro", l.pos, { type: "list", name: l.name });
    }
  }
  return compiled;
}

/** Whether `text` (as written in an exception's `fields`) names a field of `source`. */
function isKnownField(source: EventSource<never>, text: string): boolean {
  const parsed = parseCondition(`${text} exists`);
  if (!parsed.ok || parsed.ast.kind !== "unary" || parsed.ast.left.kind !== "field") return false;
  return resolveField(source.fields, parsed.ast.left.name, parsed.ast.left.arg) !== undefined;
}

function compileExtraField(spec: { key: string; format?: string; field?: string }, source: EventSource<never>): ExtraField<never> {
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
function expandLists(e: Expr, lists: Map<string, { items: string[]; used: boolean }>): Expr {
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

function expandListValue(l: ListValue, lists: Map<string, { items: string[]; used: boolean }>): ListValue {
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
