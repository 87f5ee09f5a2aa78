/**
 * loadRules: the rule engine's entry point. Reads rules files (directories load their .yaml /
 * .yml files in name order; files in the order given, later ones appending to or overriding
 * earlier ones), collects and compiles them, applies rule selection, and returns a Ruleset
 * together with Falco-style load results.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { hostname as osHostname } from "node:os";
import { join } from "node:path";
import { parsePriority, type Priority } from "../alert.js";
import { PeregrineError } from "../errors.js";
import type { EventSource } from "./event.js";
import { Collector } from "./loader/collector.js";
import { compileCollected, type AppendOutput } from "./loader/compile-rules.js";
import { readRulesText } from "./loader/reader.js";
import { LoadResults, type LoadMessage } from "./loader/results.js";
import { Ruleset, type CompiledRule } from "./ruleset.js";
import { alertSource } from "./sources/alert.js";
import { jsonSource } from "./sources/json.js";
import { k8sAuditSource } from "./sources/k8s_audit/source.js";
import { replaySource } from "./sources/replay.js";

/** One step of rule selection, as in falco.yaml's `rules:` list; `*` is a wildcard in names. */
export type RuleSelectionStep = { enable: { rule?: string; tag?: string } } | { disable: { rule?: string; tag?: string } };

export interface LoadRulesOptions {
  /** Rules files or directories, in load order. */
  files?: readonly string[];
  /** In-memory rules documents, loaded after `files` (tests, embedded defaults). */
  documents?: readonly { name: string; text: string }[];
  /** Event sources rules may target; default: replay-backed `syscall`, `alert`, `json`. */
  sources?: readonly EventSource<never>[];
  /** Enable/disable by rule name or tag, applied in order after loading. */
  selection?: readonly RuleSelectionStep[];
  /** falco.yaml's append_output. */
  appendOutput?: readonly AppendOutput[];
  /** Rules less severe than this are loaded but never evaluated. */
  minimumPriority?: Priority | string;
  /** `first` (default, as Falco): one alert per event at most; `all`: every matching rule. */
  ruleMatching?: "first" | "all";
  /** The alerts' hostname; default: this machine's. */
  hostname?: string;
  /** falco.yaml's time_format_iso_8601 (default false, as Falco): the output's time prefix. */
  timeFormatIso8601?: boolean;
}

export interface LoadRulesResult {
  ruleset: Ruleset;
  results: { ok: boolean; errors: LoadMessage[]; warnings: LoadMessage[] };
}

/** The default sources: `syscall` answered from replayed events, `alert`, `json`, `k8s_audit`. */
export function defaultSources(): EventSource<never>[] {
  return [
    replaySource(),
    alertSource,
    jsonSource,
    k8sAuditSource,
  ];
}

const READ_FAILURES: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  ENOTDIR: "a part of the path is not a directory",
  EISDIR: "it is a directory",
};

/** The system's code and what it means, e.g. "ENOENT (no such file or directory)". */
function readFailure(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === undefined) return (err as Error).message;
  return READ_FAILURES[code] ? `${code} (${READ_FAILURES[code]})` : code;
}

/** Expands directories into their .yaml/.yml files, sorted by name. */
export function expandRulesPaths(paths: readonly string[], results: LoadResults): string[] {
  const out: string[] = [];
  for (const p of paths) {
    let st;
    try {
      st = statSync(p);
    } catch (err) {
      results.error("LOAD_ERR_FILE_READ", `cannot read '${p}': ${readFailure(err)}`, { file: p, line: 0, column: 0 });
      continue;
    }
    if (st.isDirectory()) {
      const names = readdirSync(p)
        .filter((n) => n.endsWith(".yaml") || n.endsWith(".yml"))
        .sort();
      // An empty directory is almost always a wrong path; loading nothing silently would
      // leave a detector that never alerts.
      if (names.length === 0)
        results.error("LOAD_ERR_FILE_READ", `cannot load '${p}': the directory has no .yaml or .yml files`, { file: p, line: 0, column: 0 });
      for (const n of names) out.push(join(p, n));
    } else {
      out.push(p);
    }
  }
  return out;
}

/** Selection steps or append_output entries that are not shaped as documented. */
export class RulesOptionsError extends PeregrineError {
  constructor(readonly problems: readonly string[]) {
    super("RULES_OPTIONS_INVALID", problems.join("; "));
    this.name = "RulesOptionsError";
  }
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const isStr = (v: unknown): v is string => typeof v === "string" && v !== "";

/**
 * Checks rule selection steps and append_output entries (they come from configuration
 * files); each problem names its path, e.g. `rules[0].enable.rule: must be a non-empty string`.
 * `names` are the configuration keys the two lists are read from.
 */
export function checkRulesOptions(
  options: { selection?: readonly unknown[]; appendOutput?: readonly unknown[] },
  names: { selection: string; appendOutput: string } = { selection: "rules", appendOutput: "append_output" },
): string[] {
  const problems: string[] = [];
  (options.selection ?? []).forEach((step, i) => {
    const at = `${names.selection}[${i}]`;
    const keys = isObj(step) ? Object.keys(step) : [];
    if (keys.length !== 1 || (keys[0] !== "enable" && keys[0] !== "disable")) {
      problems.push(`${at}: must be a map with one key, enable or disable`);
      return;
    }
    const sel = (step as Record<string, unknown>)[keys[0]!];
    const selKeys = isObj(sel) ? Object.keys(sel) : [];
    if (!isObj(sel) || selKeys.length === 0 || selKeys.some((k) => k !== "rule" && k !== "tag")) {
      problems.push(`${at}.${keys[0]}: must name a rule and/or a tag (rule: NAME, tag: TAG)`);
      return;
    }
    for (const k of selKeys) if (!isStr(sel[k])) problems.push(`${at}.${keys[0]}.${k}: must be a non-empty string`);
  });
  (options.appendOutput ?? []).forEach((entry, i) => {
    const at = `${names.appendOutput}[${i}]`;
    if (!isObj(entry)) {
      problems.push(`${at}: must be a map with match, extra_output, extra_fields and/or suggested_output`);
      return;
    }
    for (const k of Object.keys(entry)) {
      if (k !== "match" && k !== "extra_output" && k !== "extra_fields" && k !== "suggested_output") {
        problems.push(`${at}: unknown key '${k}' (expected match, extra_output, extra_fields, suggested_output)`);
      }
    }
    if (entry.suggested_output !== undefined && typeof entry.suggested_output !== "boolean") problems.push(`${at}.suggested_output: must be true or false`);
    const m = entry.match;
    if (m !== undefined) {
      if (!isObj(m)) problems.push(`${at}.match: must be a map with source, tags and/or rule`);
      else
        for (const [k, v] of Object.entries(m)) {
          if (k === "source" || k === "rule") {
            if (!isStr(v)) problems.push(`${at}.match.${k}: must be a non-empty string`);
          } else if (k === "tags") {
            if (!Array.isArray(v) || !v.every(isStr)) problems.push(`${at}.match.tags: must be a list of tags`);
          } else problems.push(`${at}.match: unknown key '${k}' (expected source, tags, rule)`);
        }
    }
    if (entry.extra_output !== undefined && typeof entry.extra_output !== "string") problems.push(`${at}.extra_output: must be a string`);
    const f = entry.extra_fields;
    if (f !== undefined) {
      if (!Array.isArray(f)) problems.push(`${at}.extra_fields: must be a list of field names or {key: format} maps`);
      else
        f.forEach((x, j) => {
          const ok = isStr(x) || (isObj(x) && Object.keys(x).length > 0 && Object.values(x).every((v) => typeof v === "string"));
          if (!ok) problems.push(`${at}.extra_fields[${j}]: must be a field name or a {key: format} map`);
        });
    }
  });
  return problems;
}

/** Throws RulesOptionsError when `selection` or `appendOutput` is malformed. */
export function loadRules(options: LoadRulesOptions): LoadRulesResult {
  const problems = checkRulesOptions({
    ...(options.selection ? { selection: options.selection } : {}),
    ...(options.appendOutput ? { appendOutput: options.appendOutput } : {}),
  });
  if (problems.length > 0) throw new RulesOptionsError(problems);
  const results = new LoadResults();
  const sources = new Map<string, EventSource<never>>();
  for (const s of options.sources ?? defaultSources()) sources.set(s.name, s);
  const collector = new Collector(results, new Set(sources.keys()));

  const docs: { name: string; text: string }[] = [];
  for (const file of expandRulesPaths(options.files ?? [], results)) {
    try {
      docs.push({ name: file, text: readFileSync(file, "utf8") });
    } catch (err) {
      results.error("LOAD_ERR_FILE_READ", `cannot read '${file}': ${readFailure(err)}`, { file, line: 0, column: 0 });
    }
  }
  docs.push(...(options.documents ?? []));
  for (const d of docs) for (const item of readRulesText(d.name, d.text, results)) collector.collect(item);

  const rules = compileCollected(collector, sources, results, options.appendOutput ?? []);
  applySelection(rules, options.selection ?? []);

  let minimumPriority: Priority | undefined;
  if (options.minimumPriority !== undefined) {
    minimumPriority = parsePriority(options.minimumPriority);
    if (!minimumPriority) throw new Error(`unknown minimum priority '${options.minimumPriority}'`);
  }
  const rulesetOptions: ConstructorParameters<typeof Ruleset>[2] = {
    hostname: options.hostname ?? osHostname(),
    ruleMatching: options.ruleMatching ?? "first",
    ...(options.timeFormatIso8601 !== undefined ? { timeFormatIso8601: options.timeFormatIso8601 } : {}),
  };
  if (minimumPriority) rulesetOptions.minimumPriority = minimumPriority;
  const ruleset = new Ruleset(rules, sources, rulesetOptions);
  return { ruleset, results: { ok: results.ok, errors: results.errors, warnings: results.warnings } };
}

function wildcard(pattern: string): RegExp {
  return new RegExp(`^${pattern.split("*").map((s) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
}

/** Applies enable/disable steps in order; a step names a rule (with `*` wildcards) or a tag. */
export function applySelection(rules: readonly CompiledRule[], steps: readonly RuleSelectionStep[]): void {
  for (const step of steps) {
    const enable = "enable" in step;
    const sel = enable ? step.enable : step.disable;
    const re = sel.rule !== undefined ? wildcard(sel.rule) : undefined;
    for (const r of rules) {
      if ((re && re.test(r.name)) || (sel.tag !== undefined && r.tags.includes(sel.tag))) {
        (r as { enabled: boolean }).enabled = enable;
      }
    }
  }
}
