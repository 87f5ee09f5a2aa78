/**
 * Falco Talon's rules file, read unchanged: `- action:` items (reusable actions) and `- rule:`
 * items (a match on the alert and the actions to run). Several files load in order; an item
 * named again later overrides or appends to the earlier one the way Talon does:
 *
 * - an action named again: `actionner`, `description`, `continue`, `ignore_errors` are replaced
 *   when the later one sets them; `additional_contexts` append; parameters merge (lists
 *   append, maps merge with the later keys winning, other values are replaced); the output
 *   target stays the earlier one's when it has one.
 * - a rule named again: `description`, `continue`, `dry_run` are replaced when set;
 *   `match.rules`, `match.tags`, `match.output_fields`, `notifiers` and `actions` append;
 *   `match.priority` and `match.source` are replaced by the later definition's, even empty.
 * - an action of a rule that names a defined action takes what it does not set from the
 *   definition; parameters merge (lists: the definition's items then the rule's; maps: the
 *   definition's keys win, as in Talon; other values: the rule's win).
 *
 * Every problem names its file, line and column.
 */
import { readFileSync } from "node:fs";
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node, type YAMLMap } from "yaml";
import { PRIORITIES, priorityRank, type Alert, type Priority } from "../alert.js";
import { didYouMean } from "../config/schema.js";

export interface RulePos {
  file: string;
  line: number;
  column: number;
}

export interface ResponseRulesMessage {
  severity: "error" | "warning";
  message: string;
  pos: RulePos;
  rule?: string;
  action?: string;
}

export interface ActionOutput {
  target: string;
  parameters: Record<string, unknown>;
}

/** An action as a rule runs it, after merging with the action it names. */
export interface RuleAction {
  name: string;
  description: string;
  actionner: string;
  parameters: Record<string, unknown>;
  /** Unset: the actionner's default (Talon: false after terminate/delete, true otherwise). */
  continue?: boolean;
  ignoreErrors: boolean;
  additionalContexts: string[];
  output?: ActionOutput;
  pos: RulePos;
}

export type PriorityComparator = "" | "=" | ">" | ">=" | "<" | "<=";

export interface OutputFieldCondition {
  key: string;
  comparator: "=" | "!=";
  value: string;
}

export interface ResponseRule {
  name: string;
  description: string;
  /** Talon: rules keep matching after this one unless `continue: false`. */
  continue?: boolean;
  dryRun: boolean;
  notifiers: string[];
  match: {
    rules: string[];
    priority?: { comparator: PriorityComparator; priority: Priority };
    /** OR of ANDs: each list entry is "a, b" (all present). */
    tags: string[][];
    /** OR of ANDs: each list entry is "k=v, k2!=v2". */
    outputFields: OutputFieldCondition[][];
    source?: string;
  };
  actions: RuleAction[];
  pos: RulePos;
}

export interface ResponseRuleset {
  rules: ResponseRule[];
  /** The `- action:` definitions after overrides, by name. */
  actions: Map<string, RuleAction>;
  errors: ResponseRulesMessage[];
  warnings: ResponseRulesMessage[];
}

/** What the loader asks of the actionners and outputs it checks names and parameters against. */
export interface RulesCheck {
  /** undefined for an unknown actionner; else the problems with the parameters. */
  checkActionner(name: string, parameters: Record<string, unknown>): string[] | undefined;
  knownActionners(): string[];
  /** Talon's output targets this build writes (`aws:s3`, `minio:s3`, `local:file`). */
  outputTargets: readonly string[];
  /** Problems with an output's parameters (bucket, destination, ...), when checked. */
  checkOutput?(target: string, parameters: Record<string, unknown>): string[];
  /** Whether an actionner produces artifacts: undefined (none), allowed, required. */
  outputMode?(actionner: string): "allowed" | "required" | undefined;
}

const PRIORITY_RE = /^(<|>)?(=)?(Debug|Informational|Notice|Warning|Error|Critical|Alert|Emergency|)$/i;
const ACTIONNER_RE = /^[a-z0-9]+:[a-z0-9]+$/;
const TAG_RE = /^[a-z_0-9.]*[a-z0-9]$/i;
const FIELD_KEY_RE = /^[a-z0-9.[\]]*(!)?(=)/i;

const ACTION_KEYS = new Set(["action", "description", "actionner", "parameters", "continue", "ignore_errors", "additional_contexts", "output"]);
const RULE_KEYS = new Set(["rule", "description", "continue", "dry_run", "actions", "notifiers", "match"]);
const MATCH_KEYS = new Set(["rules", "priority", "tags", "output_fields", "source"]);

interface Raw<T> {
  value: T;
  pos: RulePos;
}

interface RawAction {
  name: string;
  description?: string;
  actionner?: string;
  parameters?: Record<string, unknown>;
  continue?: boolean;
  ignoreErrors?: boolean;
  additionalContexts: string[];
  output: { target?: string; parameters?: Record<string, unknown>; pos?: RulePos };
  pos: RulePos;
  keyPos: Map<string, RulePos>;
}

interface RawRule {
  name: string;
  description?: string;
  continue?: boolean;
  dryRun?: boolean;
  notifiers: string[];
  match: { rules: string[]; priority: string; priorityPos?: RulePos; tags: Raw<string>[]; outputFields: Raw<string>[]; source: string };
  actions: RawAction[];
  pos: RulePos;
  keyPos: Map<string, RulePos>;
}

class Messages {
  readonly errors: ResponseRulesMessage[] = [];
  readonly warnings: ResponseRulesMessage[] = [];
  error(pos: RulePos, message: string, item: { rule?: string; action?: string } = {}): void {
    this.errors.push({ severity: "error", message, pos, ...item });
  }
  warn(pos: RulePos, message: string, item: { rule?: string; action?: string } = {}): void {
    this.warnings.push({ severity: "warning", message, pos, ...item });
  }
}

/** Loads rules files in order (a missing or unreadable file is an error at its line 1). */
export function loadResponseRules(files: readonly string[], check?: RulesCheck): ResponseRuleset {
  const texts = files.map((file) => {
    try {
      return { file, text: readFileSync(file, "utf8") };
    } catch (err) {
      return { file, text: undefined, err: (err as Error).message };
    }
  });
  const msgs = new Messages();
  const sources: { file: string; text: string }[] = [];
  for (const t of texts) {
    if (t.text === undefined) msgs.error({ file: t.file, line: 1, column: 1 }, `cannot read the rules file: ${t.err}`);
    else sources.push({ file: t.file, text: t.text });
  }
  return parseResponseRules(sources, check, msgs);
}

/** Parses rules texts in order; `check` adds the actionner and output checks. */
export function parseResponseRules(sources: readonly { file: string; text: string }[], check?: RulesCheck, messages?: Messages): ResponseRuleset {
  const msgs = messages ?? new Messages();
  const rawActions: RawAction[] = [];
  const rawRules: RawRule[] = [];
  for (const src of sources) readFile(src.file, src.text, msgs, rawActions, rawRules);

  const actions = mergeActions(rawActions);
  const rules = mergeRules(rawRules, msgs);

  const used = new Set<string>();
  const out: ResponseRule[] = [];
  for (const raw of rules) {
    const rule = compileRule(raw, actions, used, msgs, check);
    if (rule) out.push(rule);
  }
  const defined = new Map<string, RuleAction>();
  for (const a of actions.values()) {
    defined.set(a.name, finishAction(a, undefined));
    if (!used.has(a.name)) msgs.warn(a.pos, `action "${a.name}" is defined but no rule uses it`, { action: a.name });
  }
  if (msgs.errors.length > 0) return { rules: [], actions: defined, errors: msgs.errors, warnings: msgs.warnings };
  return { rules: out, actions: defined, errors: msgs.errors, warnings: msgs.warnings };
}

// ---------------------------------------------------------------- reading with positions

function readFile(file: string, text: string, msgs: Messages, actions: RawAction[], rules: RawRule[]): void {
  const lc = new LineCounter();
  const at = (offset: number): RulePos => {
    const p = lc.linePos(offset);
    return { file, line: p.line, column: p.col };
  };
  let docs: Document.Parsed[];
  try {
    docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: false }) as Document.Parsed[];
  } catch (err) {
    msgs.error({ file, line: 1, column: 1 }, `invalid YAML: ${(err as Error).message.split("\n")[0]}`);
    return;
  }
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) msgs.error(at(e.pos[0]), `invalid YAML: ${e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "")}`);
      return;
    }
    const root = doc.contents;
    if (root === null || (isScalar(root) && (root.value === null || root.value === ""))) continue;
    if (!isSeq(root)) {
      msgs.error(at(root.range?.[0] ?? 0), "a rules file is a YAML list of `- action:` and `- rule:` items");
      continue;
    }
    for (const entry of root.items) {
      const node = entry as Node | null;
      const pos = at(node?.range?.[0] ?? 0);
      if (!isMap(node)) {
        msgs.error(pos, "each item must be a map starting with `action:` or `rule:`");
        continue;
      }
      const keys = mapKeys(node);
      if (keys.has("rule")) {
        const r = readRule(node, doc, at, msgs);
        if (r) rules.push(r);
      } else if (keys.has("action")) {
        const a = readAction(node, doc, at, msgs, undefined);
        if (a) actions.push(a);
      } else {
        msgs.error(pos, "an item needs `action:` (a reusable action) or `rule:` (a response rule)");
      }
    }
  }
}

function mapKeys(node: YAMLMap): Map<string, { value: Node | null; pos: number }> {
  const out = new Map<string, { value: Node | null; pos: number }>();
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
    const value = pair.value as Node | null;
    out.set(key, { value, pos: value?.range?.[0] ?? (pair.key as Node | null)?.range?.[0] ?? 0 });
  }
  return out;
}

function toJs(node: Node | null, doc: Document.Parsed): unknown {
  return node === null ? null : node.toJS(doc);
}

type At = (offset: number) => RulePos;

/** Talon keeps these as strings "true"/"false"; YAML booleans and those strings are accepted. */
function readBool(value: unknown, key: string, pos: RulePos, msgs: Messages, item: { rule?: string; action?: string }): boolean | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  msgs.error(pos, `'${key}' setting can be 'true' or 'false' only`, item);
  return undefined;
}

function readString(value: unknown, key: string, pos: RulePos, msgs: Messages, item: { rule?: string; action?: string }): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  msgs.error(pos, `'${key}' must be a string`, item);
  return undefined;
}

function readStrings(value: unknown, key: string, pos: RulePos, msgs: Messages, item: { rule?: string; action?: string }): string[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) {
    msgs.error(pos, `'${key}' must be a list of strings`, item);
    return [];
  }
  const out: string[] = [];
  for (const v of value) {
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out.push(String(v));
    else msgs.error(pos, `'${key}' must be a list of strings`, item);
  }
  return out;
}

function readMap(value: unknown, key: string, pos: RulePos, msgs: Messages, item: { rule?: string; action?: string }): Record<string, unknown> | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value !== "object" || Array.isArray(value)) {
    msgs.error(pos, `'${key}' must be a map`, item);
    return undefined;
  }
  return value as Record<string, unknown>;
}

function readAction(node: YAMLMap, doc: Document.Parsed, at: At, msgs: Messages, rule: string | undefined): RawAction | undefined {
  const keys = mapKeys(node);
  const pos = at(node.range?.[0] ?? 0);
  const keyPos = new Map<string, RulePos>();
  for (const [k, v] of keys) keyPos.set(k, at(v.pos));
  const nameKey = keys.get("action");
  const name = readString(toJs(nameKey?.value ?? null, doc), "action", keyPos.get("action") ?? pos, msgs, rule ? { rule } : {});
  const item = { ...(rule ? { rule } : {}), ...(name ? { action: name } : {}) };
  if (!name) {
    msgs.error(keyPos.get("action") ?? pos, rule ? "action without a name" : "an action needs a name (`action: NAME`)", item);
    return undefined;
  }
  const get = (k: string) => toJs(keys.get(k)?.value ?? null, doc);
  const p = (k: string) => keyPos.get(k) ?? pos;
  for (const k of keys.keys()) if (!ACTION_KEYS.has(k)) msgs.warn(p(k), `unknown key '${k}' in action "${name}"; ignored`, item);
  const a: RawAction = { name, additionalContexts: readStrings(get("additional_contexts"), "additional_contexts", p("additional_contexts"), msgs, item), output: {}, pos, keyPos };
  const description = readString(get("description"), "description", p("description"), msgs, item);
  if (description !== undefined) a.description = description;
  const actionner = readString(get("actionner"), "actionner", p("actionner"), msgs, item);
  if (actionner !== undefined && actionner !== "") a.actionner = actionner;
  const parameters = readMap(get("parameters"), "parameters", p("parameters"), msgs, item);
  if (parameters !== undefined) a.parameters = parameters;
  const cont = readBool(get("continue"), "continue", p("continue"), msgs, item);
  if (cont !== undefined) a.continue = cont;
  const ignore = readBool(get("ignore_errors"), "ignore_errors", p("ignore_errors"), msgs, item);
  if (ignore !== undefined) a.ignoreErrors = ignore;
  const output = readMap(get("output"), "output", p("output"), msgs, item);
  if (output !== undefined) {
    a.output.pos = p("output");
    for (const k of Object.keys(output)) if (k !== "target" && k !== "parameters") msgs.warn(p("output"), `unknown key 'output.${k}'; ignored`, item);
    const target = readString(output.target, "output.target", p("output"), msgs, item);
    if (target !== undefined && target !== "") a.output.target = target;
    const params = readMap(output.parameters, "output.parameters", p("output"), msgs, item);
    if (params !== undefined) a.output.parameters = params;
  }
  return a;
}

function readRule(node: YAMLMap, doc: Document.Parsed, at: At, msgs: Messages): RawRule | undefined {
  const keys = mapKeys(node);
  const pos = at(node.range?.[0] ?? 0);
  const keyPos = new Map<string, RulePos>();
  for (const [k, v] of keys) keyPos.set(k, at(v.pos));
  const p = (k: string) => keyPos.get(k) ?? pos;
  const get = (k: string) => toJs(keys.get(k)?.value ?? null, doc);
  const name = readString(get("rule"), "rule", p("rule"), msgs, {});
  if (!name) {
    msgs.error(p("rule"), "all rules must have a name");
    return undefined;
  }
  const item = { rule: name };
  for (const k of keys.keys()) if (!RULE_KEYS.has(k)) msgs.warn(p(k), `unknown key '${k}' in rule "${name}"; ignored`, item);
  const r: RawRule = {
    name,
    notifiers: readStrings(get("notifiers"), "notifiers", p("notifiers"), msgs, item),
    match: { rules: [], priority: "", tags: [], outputFields: [], source: "" },
    actions: [],
    pos,
    keyPos,
  };
  const description = readString(get("description"), "description", p("description"), msgs, item);
  if (description !== undefined) r.description = description;
  const cont = readBool(get("continue"), "continue", p("continue"), msgs, item);
  if (cont !== undefined) r.continue = cont;
  const dry = readBool(get("dry_run"), "dry_run", p("dry_run"), msgs, item);
  if (dry !== undefined) r.dryRun = dry;

  const matchNode = keys.get("match")?.value ?? null;
  if (matchNode !== null) {
    if (!isMap(matchNode)) msgs.error(p("match"), "'match' must be a map (rules, priority, tags, output_fields, source)", item);
    else {
      const mk = mapKeys(matchNode);
      const mp = (k: string) => at(mk.get(k)?.pos ?? matchNode.range?.[0] ?? 0);
      const mget = (k: string) => toJs(mk.get(k)?.value ?? null, doc);
      for (const k of mk.keys()) if (!MATCH_KEYS.has(k)) msgs.warn(mp(k), `unknown key 'match.${k}' in rule "${name}"; ignored`, item);
      r.match.rules = readStrings(mget("rules"), "match.rules", mp("rules"), msgs, item);
      r.match.priority = readString(mget("priority"), "match.priority", mp("priority"), msgs, item) ?? "";
      if (mk.has("priority")) r.match.priorityPos = mp("priority");
      r.match.source = readString(mget("source"), "match.source", mp("source"), msgs, item) ?? "";
      r.match.tags = readPositioned(mk.get("tags")?.value ?? null, doc, at, "match.tags", mp("tags"), msgs, item);
      r.match.outputFields = readPositioned(mk.get("output_fields")?.value ?? null, doc, at, "match.output_fields", mp("output_fields"), msgs, item);
    }
  }
  const actionsNode = keys.get("actions")?.value ?? null;
  if (actionsNode !== null) {
    if (!isSeq(actionsNode)) msgs.error(p("actions"), "'actions' must be a list of `- action: NAME` entries", item);
    else
      for (const entry of actionsNode.items) {
        const n = entry as Node | null;
        if (!isMap(n)) {
          msgs.error(at(n?.range?.[0] ?? 0), "each entry of 'actions' must be a map starting with `action:`", item);
          continue;
        }
        const a = readAction(n, doc, at, msgs, name);
        if (a) r.actions.push(a);
      }
  }
  return r;
}

/** A list of strings, each with its own position (tags and output_fields conditions). */
function readPositioned(node: Node | null, doc: Document.Parsed, at: At, key: string, pos: RulePos, msgs: Messages, item: { rule: string }): Raw<string>[] {
  if (node === null) return [];
  if (!isSeq(node)) {
    msgs.error(pos, `'${key}' must be a list of strings`, item);
    return [];
  }
  const out: Raw<string>[] = [];
  for (const e of node.items) {
    const n = e as Node | null;
    const v = toJs(n, doc);
    const ep = at(n?.range?.[0] ?? 0);
    if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") out.push({ value: String(v), pos: ep });
    else msgs.error(ep, `'${key}' must be a list of strings`, item);
  }
  return out;
}

// ---------------------------------------------------------------- overrides and appends

function kindOf(v: unknown): "list" | "map" | "scalar" {
  if (Array.isArray(v)) return "list";
  if (v !== null && typeof v === "object") return "map";
  return "scalar";
}

/** Talon's merge of a later action's parameters into an earlier one's (same name). */
function mergeLater(into: Record<string, unknown>, later: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(later)) {
    if (v === null || v === undefined) continue;
    const cur = into[k];
    if (cur !== null && cur !== undefined && kindOf(cur) !== kindOf(v)) continue;
    if (Array.isArray(v)) into[k] = cur === undefined || cur === null ? [...v] : [...(cur as unknown[]), ...v];
    else if (kindOf(v) === "map") into[k] = { ...((cur as Record<string, unknown> | undefined) ?? {}), ...(v as Record<string, unknown>) };
    else into[k] = v;
  }
}

function mergeActions(raw: RawAction[]): Map<string, RawAction> {
  const out = new Map<string, RawAction>();
  for (const a of raw) {
    const first = out.get(a.name);
    if (!first) {
      out.set(a.name, { ...a, additionalContexts: [...a.additionalContexts], output: { ...a.output }, ...(a.parameters ? { parameters: structuredClone(a.parameters) } : {}) });
      continue;
    }
    if (a.actionner !== undefined) first.actionner = a.actionner;
    if (a.continue !== undefined) first.continue = a.continue;
    if (a.description !== undefined) first.description = a.description;
    if (a.ignoreErrors !== undefined) first.ignoreErrors = a.ignoreErrors;
    if (first.output.target === undefined && a.output.target !== undefined) first.output.target = a.output.target;
    first.additionalContexts.push(...a.additionalContexts);
    if (a.parameters) mergeLater((first.parameters ??= {}), a.parameters);
    if (a.output.parameters) mergeLater((first.output.parameters ??= {}), a.output.parameters);
  }
  return out;
}

function mergeRules(raw: RawRule[], msgs: Messages): RawRule[] {
  const out = new Map<string, RawRule>();
  for (const r of raw) {
    const first = out.get(r.name);
    if (!first) {
      out.set(r.name, { ...r, notifiers: [...r.notifiers], match: { ...r.match, rules: [...r.match.rules], tags: [...r.match.tags], outputFields: [...r.match.outputFields] }, actions: [...r.actions] });
      continue;
    }
    if (r.continue !== undefined) first.continue = r.continue;
    if (r.dryRun !== undefined) first.dryRun = r.dryRun;
    if (r.description !== undefined) first.description = r.description;
    first.notifiers.push(...r.notifiers);
    first.match.outputFields.push(...r.match.outputFields);
    if (first.match.priority !== "" && r.match.priority === "")
      msgs.warn(r.pos, `rule "${r.name}" is defined again without match.priority: as in Falco Talon, the later definition's (empty) priority replaces "${first.match.priority}"`, { rule: r.name });
    if (first.match.source !== "" && r.match.source === "")
      msgs.warn(r.pos, `rule "${r.name}" is defined again without match.source: as in Falco Talon, the later definition's (empty) source replaces "${first.match.source}"`, { rule: r.name });
    first.match.priority = r.match.priority;
    if (r.match.priorityPos) first.match.priorityPos = r.match.priorityPos;
    first.match.source = r.match.source;
    first.match.rules.push(...r.match.rules);
    first.match.tags.push(...r.match.tags);
    first.actions.push(...r.actions);
  }
  return [...out.values()];
}

/** Talon's fill of a rule's action from the definition it names. */
function fillFromDefinition(into: Record<string, unknown>, def: Record<string, unknown>, onMismatch: (key: string) => void): void {
  for (const [k, v] of Object.entries(def)) {
    if (v === null || v === undefined) continue;
    const cur = into[k];
    if (cur !== null && cur !== undefined && kindOf(cur) !== kindOf(v)) {
      onMismatch(k);
      continue;
    }
    if (Array.isArray(v)) into[k] = cur === undefined || cur === null ? [...v] : [...v, ...(cur as unknown[])];
    else if (kindOf(v) === "map") into[k] = { ...((cur as Record<string, unknown> | undefined) ?? {}), ...(v as Record<string, unknown>) };
    else if (cur === undefined || cur === null) into[k] = v;
  }
}

function finishAction(a: RawAction, def: RawAction | undefined): RuleAction {
  const out: RuleAction = {
    name: a.name,
    description: a.description ?? def?.description ?? "",
    actionner: a.actionner ?? def?.actionner ?? "",
    parameters: structuredClone(a.parameters ?? {}),
    ignoreErrors: a.ignoreErrors ?? def?.ignoreErrors ?? false,
    additionalContexts: a.additionalContexts.length > 0 ? [...a.additionalContexts] : [...(def?.additionalContexts ?? [])],
    pos: a.pos,
  };
  const cont = a.continue ?? def?.continue;
  if (cont !== undefined) out.continue = cont;
  const target = a.output.target ?? def?.output.target;
  const outParams: Record<string, unknown> = structuredClone(a.output.parameters ?? {});
  if (target !== undefined || Object.keys(outParams).length > 0 || def?.output.parameters) out.output = { target: target ?? "", parameters: outParams };
  return out;
}

function compileRule(raw: RawRule, defs: Map<string, RawAction>, used: Set<string>, msgs: Messages, check: RulesCheck | undefined): ResponseRule | undefined {
  const before = msgs.errors.length;
  const item = { rule: raw.name };
  const p = (k: string) => raw.keyPos.get(k) ?? raw.pos;
  const rule: ResponseRule = {
    name: raw.name,
    description: raw.description ?? "",
    dryRun: raw.dryRun ?? false,
    notifiers: [...new Set(raw.notifiers)],
    match: { rules: raw.match.rules, tags: [], outputFields: [] },
    actions: [],
    pos: raw.pos,
  };
  if (raw.continue !== undefined) rule.continue = raw.continue;
  if (raw.match.source !== "") rule.match.source = raw.match.source;

  const pr = PRIORITY_RE.exec(raw.match.priority);
  if (!pr) msgs.error(raw.match.priorityPos ?? p("match"), `incorrect priority '${raw.match.priority}' (Debug … Emergency, optionally after <, >, <=, >=)`, item);
  else if (pr[3] !== "") {
    const priority = PRIORITIES.find((x) => x.toLowerCase() === pr[3]!.toLowerCase())!;
    rule.match.priority = { comparator: `${pr[1] ?? ""}${pr[2] ?? ""}` as PriorityComparator, priority };
  }
  for (const t of raw.match.tags) {
    const group = t.value.replaceAll(" ", "").split(",");
    for (const tag of group) if (!TAG_RE.test(tag)) msgs.error(t.pos, `incorrect tag '${tag}'`, item);
    rule.match.tags.push(group);
  }
  for (const f of raw.match.outputFields) {
    const conds = parseOutputFields(f.value);
    for (const piece of f.value.replaceAll(", ", ",").split(",")) if (!FIELD_KEY_RE.test(piece)) msgs.error(f.pos, `incorrect output field key '${piece}' (use key=value or key!=value)`, item);
    rule.match.outputFields.push(conds);
  }
  if (raw.actions.length === 0) msgs.error(p("actions"), "no action specified", item);

  for (const a of raw.actions) {
    const def = defs.get(a.name);
    if (def) used.add(a.name);
    const action = finishAction(a, def);
    const aitem = { rule: raw.name, action: a.name };
    if (def?.parameters)
      fillFromDefinition(action.parameters, def.parameters, (k) => msgs.error(a.keyPos.get("parameters") ?? a.pos, `mismatch of type for the parameter '${k}' with the action's definition`, aitem));
    if (def?.output.parameters) {
      action.output ??= { target: "", parameters: {} };
      fillFromDefinition(action.output.parameters, def.output.parameters, (k) => msgs.error(a.output.pos ?? a.pos, `mismatch of type for the output parameter '${k}' with the action's definition`, aitem));
    }
    const ap = (k: string) => a.keyPos.get(k) ?? (def && a.keyPos.get(k) === undefined ? def.keyPos.get(k) : undefined) ?? a.pos;
    if (action.actionner === "") {
      msgs.error(ap("actionner"), def ? `missing actionner (neither the rule nor the action "${a.name}" names one)` : `missing actionner: no action named "${a.name}" is defined, and this one names no actionner`, aitem);
    } else if (!ACTIONNER_RE.test(action.actionner)) {
      msgs.error(ap("actionner"), `incorrect actionner '${action.actionner}' (category:name, e.g. kubernetes:terminate)`, aitem);
    } else if (check) {
      const problems = check.checkActionner(action.actionner, action.parameters);
      if (problems === undefined) msgs.error(ap("actionner"), `unknown actionner '${action.actionner}'${didYouMean(action.actionner, check.knownActionners())}; known: ${check.knownActionners().join(", ")}`, aitem);
      else for (const problem of problems) msgs.error(ap("parameters"), `parameters: ${problem}`, aitem);
    }
    if (action.output) {
      const op = a.output.pos ?? def?.output.pos ?? a.pos;
      if (action.output.target === "") msgs.error(op, "output parameters without an output target", aitem);
      else if (Object.keys(action.output.parameters).length === 0) msgs.error(op, "missing 'parameters' for the output", aitem);
      else if (check && !check.outputTargets.includes(action.output.target))
        msgs.error(op, `unknown output target '${action.output.target}'; known: ${check.outputTargets.join(", ")}`, aitem);
      else if (check?.checkOutput) for (const problem of check.checkOutput(action.output.target, action.output.parameters)) msgs.error(op, `output: ${problem}`, aitem);
      if (check?.outputMode && ACTIONNER_RE.test(action.actionner) && check.checkActionner(action.actionner, {}) !== undefined && check.outputMode(action.actionner) === undefined)
        msgs.warn(op, `${action.actionner} produces no file: its output is ignored`, aitem);
    } else if (check?.outputMode?.(action.actionner) === "required") {
      msgs.error(ap("actionner"), `${action.actionner} needs an output (target and parameters) for the files it produces`, aitem);
    }
    rule.actions.push(action);
  }
  return msgs.errors.length === before ? rule : undefined;
}

/** Talon's reading of "k=v, k2!=v2": split on commas, quotes dropped from values. */
export function parseOutputFields(text: string): OutputFieldCondition[] {
  const out: OutputFieldCondition[] = [];
  for (const piece of text.replaceAll(", ", ",").split(",")) {
    const ne = piece.indexOf("!=");
    if (ne >= 0) {
      out.push({ key: piece.slice(0, ne), comparator: "!=", value: piece.slice(ne + 2).replaceAll('"', "") });
      continue;
    }
    const eq = piece.indexOf("=");
    if (eq >= 0) out.push({ key: piece.slice(0, eq), comparator: "=", value: piece.slice(eq + 1).replaceAll('"', "") });
  }
  return out;
}

// ---------------------------------------------------------------- matching

/** Talon's severity numbers: higher is more severe, 0 for an unknown priority. */
function severity(p: string): number {
  const found = PRIORITIES.find((x) => x.toLowerCase() === p.toLowerCase());
  return found === undefined ? 0 : 8 - priorityRank(found);
}

function fieldText(v: unknown): string {
  if (v === null || v === undefined) return "<nil>";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** True when the alert meets every part of the rule's match (Talon's CompareRule). */
export function ruleMatches(rule: ResponseRule, alert: Alert): boolean {
  const m = rule.match;
  if (m.rules.length > 0 && !m.rules.includes(alert.rule)) return false;
  if (m.outputFields.length > 0) {
    const fields = alert.output_fields as Record<string, unknown>;
    const ok = m.outputFields.some((group) =>
      group.every((c) => {
        const present = Object.hasOwn(fields, c.key);
        const equal = present && fieldText(fields[c.key]) === c.value;
        return c.comparator === "=" ? equal : !equal;
      }),
    );
    if (!ok) return false;
  }
  if (m.priority) {
    const a = severity(alert.priority);
    const r = severity(m.priority.priority);
    const cmp = m.priority.comparator;
    const ok = cmp === ">" ? a > r : cmp === ">=" ? a >= r : cmp === "<" ? a < r : cmp === "<=" ? a <= r : a === r;
    if (!ok) return false;
  }
  if (m.tags.length > 0) {
    const tags = new Set(alert.tags ?? []);
    if (!m.tags.some((group) => group.every((t) => tags.has(t)))) return false;
  }
  if (m.source !== undefined && alert.source !== m.source) return false;
  return true;
}

/** One line per message, `file:line:column: severity: message (rule "R", action "A")`. */
export function formatRulesMessage(m: ResponseRulesMessage): string {
  const what = [m.rule !== undefined ? `rule "${m.rule}"` : "", m.action !== undefined ? `action "${m.action}"` : ""].filter(Boolean).join(", ");
  return `${m.pos.file}:${m.pos.line}:${m.pos.column}: ${m.severity}: ${m.message}${what ? ` (${what})` : ""}`;
}
