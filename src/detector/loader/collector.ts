/**
 * Collector: validates raw items and accumulates lists, macros and rules across files, with
 * Falco's semantics for redefinition (in place), `append: true`, and `override` (per-key
 * `append` / `replace`), enable-only items, exceptions, and version requirements.
 */
import { parsePriority, type Priority } from "../../alert.js";
import type { RawItem, TextSource } from "./reader.js";
import type { FilePos, LoadResults } from "./results.js";

/** The engine version this implementation is compatible with (Falco's `required_engine_version`). */
export const ENGINE_VERSION = "0.57.0";
/**
 * Plugins whose fields are built in; rules requiring them at or below this version load.
 * k8saudit and json: the k8s_audit source (src/detector/fields/k8s-audit.ts).
 */
export const BUILTIN_PLUGINS: ReadonlyMap<string, string> = new Map([["container", "0.4.0"], ["k8saudit", "0.18.0"], ["json", "0.7.4"]]);

/** A condition or output assembled from one or more pieces (appends), each with its source. */
export interface Composite {
  text: string;
  pieces: { start: number; source: TextSource | undefined; pos: FilePos }[];
}

export function locateIn(c: Composite, offset: number): FilePos {
  let piece = c.pieces[0]!;
  for (const p of c.pieces) if (p.start <= offset) piece = p;
  if (!piece.source) return piece.pos;
  return piece.source.locate(offset - piece.start);
}

function single(text: string, source: TextSource | undefined, pos: FilePos): Composite {
  return { text, pieces: [{ start: 0, source, pos }] };
}

/** Falco trims a rule's output (so `output: >` loses its final newline); offsets still locate. */
function trimmed(c: Composite): Composite {
  const lead = /^[ \t\n\r\f\v]*/.exec(c.text)![0].length;
  const text = c.text.slice(lead).replace(/[ \t\n\r\f\v]+$/, "");
  if (lead === 0 && text.length === c.text.length) return c;
  return { text, pieces: c.pieces.map((p) => ({ ...p, start: p.start - lead })) };
}

function appendComposite(a: Composite, b: Composite): Composite {
  const start = a.text.length + 1;
  return { text: `${a.text} ${b.text}`, pieces: [...a.pieces, ...b.pieces.map((p) => ({ ...p, start: p.start + start }))] };
}

export interface ListInfo {
  name: string;
  items: string[];
  pos: FilePos;
  index: number;
  visibility: number;
}

export interface MacroInfo {
  name: string;
  condition: Composite;
  pos: FilePos;
  index: number;
  visibility: number;
}

export type ExceptionValue = string | ExceptionValue[];

export interface ExceptionInfo {
  name: string;
  fields: string | string[];
  comps: string | string[];
  values: ExceptionValue[];
  pos: FilePos;
}

export interface RuleInfo {
  name: string;
  condition: Composite;
  output: Composite;
  desc: string;
  priority: Priority;
  tags: string[];
  enabled: boolean;
  source: string;
  exceptions: ExceptionInfo[];
  warnEvttypes: boolean;
  skipIfUnknownFilter: boolean;
  pos: FilePos;
  index: number;
}

/** Falco's checks: macro names are identifiers, list names bare strings. */
const VALID_MACRO_NAME = /^[a-zA-Z]+[a-zA-Z0-9_]*$/;
const VALID_LIST_NAME = /^[^()"'\s=,]+$/;

const WARNING_APPEND = "'append' key is deprecated. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.";
const WARNING_ENABLED =
  "The standalone 'enabled' key usage is deprecated. The correct approach requires also a 'replace' entry under the 'override' key (i.e. 'enabled: replace').";

const KEYS: Record<string, ReadonlySet<string>> = {
  list: new Set(["list", "items", "append", "override"]),
  macro: new Set(["macro", "condition", "append", "override"]),
  rule: new Set([
    "rule", "condition", "output", "desc", "priority", "tags", "enabled", "source", "exceptions", "warn_evttypes",
    "skip-if-unknown-filter", "append", "override", "capture", "capture_duration",
  ]),
  required_engine_version: new Set(["required_engine_version"]),
  required_plugin_versions: new Set(["required_plugin_versions"]),
};

const RULE_APPENDABLE = new Set(["condition", "output", "desc", "tags", "exceptions"]);
const RULE_REPLACEABLE = new Set([
  "condition", "output", "desc", "priority", "tags", "exceptions", "enabled", "warn_evttypes", "skip-if-unknown-filter",
  "capture", "capture_duration",
]);

/** Comparison operators accepted in exception `comps`. */
export const EXCEPTION_OPERATORS = new Set([
  "=", "==", "!=", "<", "<=", ">", ">=", "contains", "icontains", "bcontains", "startswith", "bstartswith", "endswith",
  "glob", "iglob", "regex", "in", "intersects", "pmatch",
]);

const MODIFIABLE = new Set(["=", "==", "!=", "contains", "icontains", "bcontains", "startswith", "bstartswith", "endswith", "glob", "iglob", "regex"]);

/** An exception comparison: an operator, or a string operator with a modifier ("startswith anyof"). */
function isExceptionOperator(c: string): boolean {
  if (EXCEPTION_OPERATORS.has(c)) return true;
  const m = /^(\S+) (oneof|anyof|allof)$/.exec(c);
  return m !== null && MODIFIABLE.has(m[1]!);
}

/**
 * Control flow inside the collector only: caught per item and recorded as a Falco load message
 * with its LOAD_ERR_* code (Falco's own codes, reported in the rules' results, not thrown on).
 */
class ItemError extends Error {
  constructor(
    readonly code: "LOAD_ERR_YAML_VALIDATE" | "LOAD_ERR_VALIDATE",
    message: string,
    readonly pos?: FilePos,
  ) {
    super(message);
  }
}

export class Collector {
  readonly lists = new Map<string, ListInfo>();
  readonly macros = new Map<string, MacroInfo>();
  readonly rules = new Map<string, RuleInfo>();
  private counter = 0;

  constructor(
    private readonly results: LoadResults,
    private readonly knownSources: ReadonlySet<string>,
  ) {}

  collect(item: RawItem): void {
    const type = ["rule", "macro", "list", "required_engine_version", "required_plugin_versions"].find((k) => item.values.has(k));
    if (!type) {
      this.results.warn("LOAD_UNKNOWN_ITEM", "Unknown top level item", item.pos, {
        type: "item",
        name: [...item.values.keys()][0] ?? "",
      });
      return;
    }
    const rawName = item.values.get(type);
    const name = typeof rawName === "string" || typeof rawName === "number" ? String(rawName) : "";
    const ref = { type: type as "rule", name };
    for (const key of item.values.keys()) {
      if (!KEYS[type]!.has(key)) {
        this.results.warn("LOAD_UNKNOWN_KEY", `Unknown key '${key}' in ${type} definition; it is ignored`, item.keyPos.get(key) ?? item.pos, ref);
      }
    }
    try {
      switch (type) {
        case "required_engine_version":
          return this.engineVersion(item);
        case "required_plugin_versions":
          return this.pluginVersions(item);
        case "list":
          return this.list(item, name);
        case "macro":
          return this.macro(item, name);
        case "rule":
          return this.rule(item, name);
      }
    } catch (err) {
      if (err instanceof ItemError) this.results.error(err.code, err.message, err.pos ?? item.pos, ref);
      else throw err;
    }
  }

  // ---- helpers

  private requireString(item: RawItem, key: string): string {
    if (!item.values.has(key)) throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Item has no mapping for key '${key}'`);
    const v = item.values.get(key);
    if (typeof v === "string") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Value for key '${key}' is not a string`, item.keyPos.get(key));
  }

  private optionalBool(item: RawItem, key: string): boolean | undefined {
    if (!item.values.has(key)) return undefined;
    const v = item.values.get(key);
    if (typeof v !== "boolean") throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Value for key '${key}' must be a boolean`, item.keyPos.get(key));
    return v;
  }

  private composite(item: RawItem, key: string): Composite {
    const text = this.requireString(item, key);
    return single(text, item.text.get(key), item.keyPos.get(key) ?? item.pos);
  }

  /** Returns the override map (key → append|replace), validating it; undefined when absent. */
  private overrides(item: RawItem, appendable: ReadonlySet<string>, replaceable: ReadonlySet<string>): Map<string, "append" | "replace"> | undefined {
    if (!item.values.has("override")) return undefined;
    if (item.values.get("append") === true) {
      throw new ItemError(
        "LOAD_ERR_YAML_VALIDATE",
        "Keys 'override' and 'append: true' cannot be used together. Add an 'append' entry (e.g. 'condition: append') under 'override' instead.",
        item.keyPos.get("override"),
      );
    }
    const raw = item.values.get("override");
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
      throw new ItemError("LOAD_ERR_YAML_VALIDATE", "Value for key 'override' must be a map of key: append|replace", item.keyPos.get("override"));
    }
    const out = new Map<string, "append" | "replace">();
    for (const [k, mode] of Object.entries(raw as Record<string, unknown>)) {
      if (mode !== "append" && mode !== "replace") {
        const allowed = [appendable.has(k) ? "append" : "", replaceable.has(k) ? "replace" : ""].filter(Boolean).join(" ");
        throw new ItemError(
          "LOAD_ERR_YAML_VALIDATE",
          `Invalid override operation for key '${k}': '${String(mode)}'. Allowed values are: ${allowed}`,
          item.keyPos.get("override"),
        );
      }
      if (mode === "append" && !appendable.has(k)) {
        throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Key '${k}' cannot be appended to, use 'replace' instead`, item.keyPos.get("override"));
      }
      if (mode === "replace" && !replaceable.has(k)) {
        throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Key '${k}' cannot be replaced`, item.keyPos.get("override"));
      }
      if (!item.values.has(k)) {
        throw new ItemError("LOAD_ERR_YAML_VALIDATE", `An ${mode} override for '${k}' was specified but '${k}' is not defined`, item.keyPos.get("override"));
      }
      out.set(k, mode);
    }
    for (const k of item.values.keys()) {
      if ((appendable.has(k) || replaceable.has(k)) && !out.has(k)) {
        throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Unexpected key '${k}': no corresponding entry under 'override' is defined.`, item.keyPos.get(k));
      }
    }
    return out;
  }

  private checkName(item: RawItem, type: string, name: string): void {
    if (name === "") throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Mapping for key '${type}' is empty`, item.keyPos.get(type));
  }

  // ---- items

  private engineVersion(item: RawItem): void {
    const raw = item.values.get("required_engine_version");
    const v = String(raw ?? "");
    // an integer is Falco's old engine numbering: N means 0.N.0
    const need = typeof raw === "number" && Number.isInteger(raw) && raw >= 0 ? ([0, raw, 0] as Version) : /^\d+\.\d+\.\d+$/.test(v.trim()) ? parseVersion(v) : undefined;
    if (!need) {
      throw new ItemError(
        "LOAD_ERR_YAML_VALIDATE",
        `Unable to parse engine version '${v}' as a semver string. Expected "x.y.z" semver format.`,
        item.keyPos.get("required_engine_version"),
      );
    }
    if (compareVersions(need, parseVersion(ENGINE_VERSION)!) > 0) {
      throw new ItemError("LOAD_ERR_VALIDATE", `Rules require engine version ${v}, but engine version is ${ENGINE_VERSION}`, item.keyPos.get("required_engine_version"));
    }
  }

  private pluginVersions(item: RawItem): void {
    const list = item.values.get("required_plugin_versions");
    if (!Array.isArray(list)) {
      throw new ItemError("LOAD_ERR_YAML_VALIDATE", "Value for 'required_plugin_versions' is not a sequence", item.keyPos.get("required_plugin_versions"));
    }
    for (const req of list) {
      if (!req || typeof req !== "object" || typeof (req as { name?: unknown }).name !== "string") {
        throw new ItemError("LOAD_ERR_YAML_VALIDATE", "Each plugin requirement needs 'name' and 'version'", item.keyPos.get("required_plugin_versions"));
      }
      const r = req as { name: string; version?: unknown; alternatives?: { name: string; version: unknown }[] };
      const candidates = [{ name: r.name, version: r.version }, ...(Array.isArray(r.alternatives) ? r.alternatives : [])];
      const satisfied = candidates.some((c) => {
        const have = BUILTIN_PLUGINS.get(c.name);
        const need = parseVersion(String(c.version ?? "0.0.0"));
        return have !== undefined && need !== undefined && compareVersions(need, parseVersion(have)!) <= 0;
      });
      if (!satisfied) {
        throw new ItemError(
          "LOAD_ERR_VALIDATE",
          `Plugin '${r.name}' version ${String(r.version)} is required but not available (built in: ${[...BUILTIN_PLUGINS].map(([n, v]) => `${n} ${v}`).join(", ")})`,
          item.keyPos.get("required_plugin_versions"),
        );
      }
    }
  }

  private list(item: RawItem, name: string): void {
    this.checkName(item, "list", name);
    if (!VALID_LIST_NAME.test(name)) {
      this.results.warn("LOAD_INVALID_LIST_NAME", `List has an invalid name. List names should match a regular expression: ${VALID_LIST_NAME.source}`, item.pos, { type: "list", name });
    }
    if (!item.values.has("items")) throw new ItemError("LOAD_ERR_YAML_VALIDATE", "Item has no mapping for key 'items'");
    const raw = item.values.get("items");
    if (!Array.isArray(raw)) throw new ItemError("LOAD_ERR_YAML_VALIDATE", "Value for 'items' is not a sequence", item.keyPos.get("items"));
    const items: string[] = [];
    for (const x of raw) {
      if (x === null || typeof x === "object") throw new ItemError("LOAD_ERR_YAML_VALIDATE", "List items must be scalars", item.keyPos.get("items"));
      items.push(String(x));
    }
    if (item.values.get("append") === true) this.results.warn("LOAD_DEPRECATED_ITEM", WARNING_APPEND, item.keyPos.get("append") ?? item.pos, { type: "list", name });
    const override = this.overrides(item, new Set(["items"]), new Set(["items"]));
    const append = item.values.get("append") === true || override?.get("items") === "append";
    const prev = this.lists.get(name);
    const id = this.counter++;
    if (append || override) {
      if (!prev) {
        throw new ItemError("LOAD_ERR_VALIDATE", "List uses 'append' or 'override.items: append' but no list by that name already exists");
      }
      if (items.length === 0) this.results.warn("LOAD_APPEND_NO_VALUES", "Overriding/appending list with no values", item.pos, { type: "list", name });
      prev.items = append ? [...prev.items, ...items] : items;
      prev.visibility = id;
      return;
    }
    if (prev) {
      Object.assign(prev, { items, pos: item.pos, visibility: id });
      return;
    }
    this.lists.set(name, { name, items, pos: item.pos, index: id, visibility: id });
  }

  private macro(item: RawItem, name: string): void {
    this.checkName(item, "macro", name);
    if (!VALID_MACRO_NAME.test(name)) {
      this.results.warn("LOAD_INVALID_MACRO_NAME", `Macro has an invalid name. Macro names should match a regular expression: ${VALID_MACRO_NAME.source}`, item.pos, { type: "macro", name });
    }
    const condition = this.composite(item, "condition");
    if (item.values.get("append") === true) this.results.warn("LOAD_DEPRECATED_ITEM", WARNING_APPEND, item.keyPos.get("append") ?? item.pos, { type: "macro", name });
    const override = this.overrides(item, new Set(["condition"]), new Set(["condition"]));
    const append = item.values.get("append") === true || override?.get("condition") === "append";
    const prev = this.macros.get(name);
    const id = this.counter++;
    if (append || override) {
      if (!prev) throw new ItemError("LOAD_ERR_VALIDATE", "Macro uses 'append' or 'override.condition: append' but no macro by that name already exists");
      prev.condition = append ? appendComposite(prev.condition, condition) : condition;
      prev.visibility = id;
      return;
    }
    if (prev) {
      Object.assign(prev, { condition, pos: item.pos, visibility: id });
      return;
    }
    this.macros.set(name, { name, condition, pos: item.pos, index: id, visibility: id });
  }

  private rule(item: RawItem, name: string): void {
    this.checkName(item, "rule", name);
    const ref = { type: "rule" as const, name };
    const override = this.overrides(item, RULE_APPENDABLE, RULE_REPLACEABLE);
    const legacyAppend = item.values.get("append") === true;
    if (legacyAppend) this.results.warn("LOAD_DEPRECATED_ITEM", WARNING_APPEND, item.keyPos.get("append") ?? item.pos, ref);
    const prev = this.rules.get(name);
    const exceptions = item.values.has("exceptions") ? this.exceptions(item, name, legacyAppend || override?.get("exceptions") === "append") : [];

    if (legacyAppend || override) {
      if (!prev) {
        throw new ItemError(
          "LOAD_ERR_VALIDATE",
          legacyAppend || [...override!.values()].includes("append")
            ? "Rule uses 'append' or 'override.<key>: append' but no rule by that name already exists"
            : "An 'override.<key>: replace' to a rule was requested but no rule by that name already exists",
        );
      }
      if (legacyAppend) {
        if (!item.values.has("condition") && !item.values.has("exceptions")) {
          throw new ItemError("LOAD_ERR_VALIDATE", "Appended rule must have exceptions or condition property");
        }
        if (item.values.has("condition")) prev.condition = appendComposite(prev.condition, this.composite(item, "condition"));
        if (item.values.has("exceptions")) this.mergeExceptions(prev, exceptions, item);
        return;
      }
      for (const [key, mode] of override!) this.applyRuleOverride(prev, item, key, mode, exceptions);
      return;
    }

    // As in Falco: a rule item with none of condition/output/desc/priority must have `enabled`,
    // and switches an existing rule on or off
    if (!["condition", "output", "desc", "priority"].some((k) => item.values.has(k))) {
      if (!item.values.has("enabled")) throw new ItemError("LOAD_ERR_YAML_VALIDATE", "Item has no mapping for key 'enabled'");
      const enabled = this.optionalBool(item, "enabled")!;
      this.results.warn("LOAD_DEPRECATED_ITEM", WARNING_ENABLED, item.pos, ref);
      if (!prev) throw new ItemError("LOAD_ERR_VALIDATE", "Rule has 'enabled' key but no rule by that name already exists");
      prev.enabled = enabled;
      return;
    }

    const source = item.values.has("source") ? this.requireString(item, "source") : "syscall";
    const priorityText = this.requireString(item, "priority");
    const condition = this.composite(item, "condition");
    const output = trimmed(this.composite(item, "output"));
    const desc = this.requireString(item, "desc");
    const priority = parsePriority(priorityText.trim());
    if (!priority) throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Invalid priority '${priorityText}'`, item.keyPos.get("priority"));
    const tags = this.tags(item);
    const info: RuleInfo = {
      name,
      condition,
      output,
      desc,
      priority,
      tags,
      enabled: this.optionalBool(item, "enabled") ?? true,
      source,
      exceptions,
      warnEvttypes: this.optionalBool(item, "warn_evttypes") ?? true,
      skipIfUnknownFilter: this.optionalBool(item, "skip-if-unknown-filter") ?? false,
      pos: item.pos,
      index: this.counter++,
    };
    if (!this.knownSources.has(source)) {
      this.results.warn("LOAD_UNKNOWN_SOURCE", `Unknown source ${source}, skipping`, item.keyPos.get("source") ?? item.pos, ref);
    }
    if (prev) {
      info.index = prev.index;
      Object.assign(prev, info);
      return;
    }
    this.rules.set(name, info);
  }

  private tags(item: RawItem): string[] {
    if (!item.values.has("tags")) return [];
    const raw = item.values.get("tags");
    if (!Array.isArray(raw) || raw.some((t) => typeof t === "object" || t === null)) {
      throw new ItemError("LOAD_ERR_YAML_VALIDATE", "Value for 'tags' must be a sequence of strings", item.keyPos.get("tags"));
    }
    return raw.map(String);
  }

  private applyRuleOverride(prev: RuleInfo, item: RawItem, key: string, mode: "append" | "replace", exceptions: ExceptionInfo[]): void {
    switch (key) {
      case "condition":
      case "output": {
        const c = this.composite(item, key);
        prev[key] = mode === "append" ? appendComposite(prev[key], c) : c;
        return;
      }
      case "desc": {
        const d = this.requireString(item, "desc");
        prev.desc = mode === "append" ? `${prev.desc} ${d}` : d;
        return;
      }
      case "tags": {
        const t = this.tags(item);
        prev.tags = mode === "append" ? [...prev.tags, ...t.filter((x) => !prev.tags.includes(x))] : t;
        return;
      }
      case "exceptions":
        if (mode === "append") this.mergeExceptions(prev, exceptions, item);
        else prev.exceptions = exceptions;
        return;
      case "priority": {
        const text = this.requireString(item, "priority");
        const p = parsePriority(text.trim());
        if (!p) throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Invalid priority '${text}'`, item.keyPos.get("priority"));
        prev.priority = p;
        return;
      }
      case "enabled":
        prev.enabled = this.optionalBool(item, "enabled")!;
        return;
      case "warn_evttypes":
        prev.warnEvttypes = this.optionalBool(item, "warn_evttypes")!;
        return;
      case "skip-if-unknown-filter":
        prev.skipIfUnknownFilter = this.optionalBool(item, "skip-if-unknown-filter")!;
        return;
      default:
        return; // capture / capture_duration: accepted, not used by this engine
    }
  }

  private mergeExceptions(prev: RuleInfo, incoming: ExceptionInfo[], item: RawItem): void {
    for (const ex of incoming) {
      const existing = prev.exceptions.find((e) => e.name === ex.name);
      if (existing) {
        if (ex.values.length === 0) {
          this.results.warn("LOAD_APPEND_NO_VALUES", `Overriding/appending exception '${ex.name}' with no values`, ex.pos, { type: "rule", name: prev.name });
        }
        // an appended exception may leave out fields: its values take the existing one's shape
        if (ex.fields === "") for (const v of ex.values) checkExceptionValue(ex.name, existing.fields, v, ex.pos);
        existing.values = [...existing.values, ...ex.values];
      } else {
        if (!item.values.has("exceptions") || ex.fields === "" || (Array.isArray(ex.fields) && ex.fields.length === 0)) {
          throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Rule exception '${ex.name}' is new and must have 'fields'`, ex.pos);
        }
        prev.exceptions.push(ex);
      }
    }
  }

  private exceptions(item: RawItem, rule: string, appending: boolean): ExceptionInfo[] {
    const raw = item.values.get("exceptions");
    if (!Array.isArray(raw)) throw new ItemError("LOAD_ERR_YAML_VALIDATE", "Rule exceptions must be a sequence", item.keyPos.get("exceptions"));
    const out: ExceptionInfo[] = [];
    const names = new Set<string>();
    raw.forEach((ex: unknown, i) => {
      const pos = item.exceptionPos[i] ?? item.keyPos.get("exceptions") ?? item.pos;
      if (!ex || typeof ex !== "object" || Array.isArray(ex)) throw new ItemError("LOAD_ERR_YAML_VALIDATE", "Rule exception must be a map", pos);
      const e = ex as Record<string, unknown>;
      for (const k of Object.keys(e)) {
        if (!["name", "fields", "comps", "values"].includes(k)) {
          this.results.warn("LOAD_UNKNOWN_KEY", `Unknown key '${k}' in exception definition; it is ignored`, pos, { type: "rule", name: rule });
        }
      }
      if (typeof e.name !== "string" || e.name === "") throw new ItemError("LOAD_ERR_YAML_VALIDATE", "Item has no mapping for key 'name'", pos);
      const name = e.name;
      if (names.has(name)) {
        this.results.warn("LOAD_EXCEPTION_NAME_NOT_UNIQUE", `Multiple definitions of exception '${name}' in the same rule`, pos, { type: "rule", name: rule });
      }
      names.add(name);
      let fields: string | string[] = "";
      if (e.fields !== undefined) {
        if (typeof e.fields === "string") fields = e.fields;
        else if (Array.isArray(e.fields) && e.fields.every((f) => typeof f === "string")) fields = e.fields as string[];
        else throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Exception '${name}': 'fields' must be a field name or a list of field names`, pos);
      } else if (!appending) {
        throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Exception '${name}': item has no mapping for key 'fields'`, pos);
      }
      let comps: string | string[];
      if (e.comps === undefined) {
        comps = Array.isArray(fields) ? fields.map(() => "=") : "in";
      } else if (typeof e.comps === "string") {
        comps = e.comps;
      } else if (Array.isArray(e.comps) && e.comps.every((c) => typeof c === "string")) {
        comps = e.comps as string[];
      } else {
        throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Exception '${name}': 'comps' must be an operator or a list of operators`, pos);
      }
      if (Array.isArray(fields) !== Array.isArray(comps) && fields !== "") {
        throw new ItemError("LOAD_ERR_VALIDATE", `Exception '${name}': fields and comps must both be lists or both be single values`, pos);
      }
      if (Array.isArray(fields) && Array.isArray(comps) && fields.length !== comps.length) {
        throw new ItemError("LOAD_ERR_VALIDATE", `Exception '${name}': Fields and comps lists must have equal length`, pos);
      }
      for (const c of Array.isArray(comps) ? comps : [comps]) {
        if (!isExceptionOperator(c)) throw new ItemError("LOAD_ERR_VALIDATE", `Exception '${name}': '${c}' is not a supported comparison operator`, pos);
      }
      if (!Array.isArray(fields) && fields !== "" && typeof comps === "string" && !["in", "pmatch", "intersects"].includes(comps) && !/ (oneof|anyof|allof)$/.test(comps)) {
        throw new ItemError(
          "LOAD_ERR_VALIDATE",
          `Exception '${name}': When fields is a single value, comps must be one of (in, pmatch, intersects) or a modifier operator (e.g. startswith oneof)`,
          pos,
        );
      }
      const values: ExceptionValue[] = [];
      if (e.values !== undefined && e.values !== null) {
        if (!Array.isArray(e.values)) throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Exception '${name}': 'values' must be a sequence`, pos);
        for (const v of e.values) {
          const conv = toExceptionValue(v);
          if (conv === undefined) throw new ItemError("LOAD_ERR_YAML_VALIDATE", `Exception '${name}': values must be strings or lists of strings`, pos);
          // without fields (an append to an existing exception) the shape is checked on merging
          if (fields !== "") checkExceptionValue(name, fields, conv, pos);
          values.push(conv);
        }
      }
      out.push({ name, fields, comps, values, pos });
    });
    return out;
  }
}

/** One value of an exception against its fields: a list of one value per field, or one value. */
function checkExceptionValue(name: string, fields: string | string[], value: ExceptionValue, pos: ExceptionInfo["pos"]): void {
  if (Array.isArray(fields)) {
    if (!Array.isArray(value)) throw new ItemError("LOAD_ERR_VALIDATE", `Exception '${name}': expected values array to contain a list of values, one per field`, pos);
    if (value.length !== fields.length) throw new ItemError("LOAD_ERR_VALIDATE", `Exception '${name}': fields and values lists must have equal length`, pos);
  } else if (Array.isArray(value)) {
    throw new ItemError("LOAD_ERR_VALIDATE", `Exception '${name}': expected values array to contain a list of strings`, pos);
  }
}

function toExceptionValue(v: unknown): ExceptionValue | undefined {
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) {
    const out: ExceptionValue[] = [];
    for (const x of v) {
      const c = toExceptionValue(x);
      if (c === undefined) return undefined;
      out.push(c);
    }
    return out;
  }
  return undefined;
}

type Version = [number, number, number];

export function parseVersion(v: string): Version | undefined {
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(v.trim());
  if (!m) return undefined;
  return [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)];
}

export function compareVersions(a: Version, b: Version): number {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}
