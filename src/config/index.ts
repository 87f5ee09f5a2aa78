import { readFileSync, existsSync } from "node:fs";
import { dirname, resolve as resolvePath } from "node:path";
import { LineCounter, parseDocument, isNode, visit, type Document } from "yaml";
import { parsePriority, type Priority } from "../alert.js";
import { PeregrineError, errorMessage } from "../errors.js";
import { ParseContext, s, isObject, didYouMean, ObjectSchema, type ConfigIssue, type InferShape, type Shape } from "./schema.js";
import { laneShape, type LaneConfig } from "./lane.js";
import { detectorSchema } from "../detector/sources/syscall/config.js";
import { OUTPUT_TYPES } from "../../outputs/registry.js";
import type { OutputDefinition } from "../delivery/output.js";
import { enrichShape } from "../enrich/config.js";
import { checkOutputRouting } from "../route/check.js";
import { historySchema } from "../history/config.js";
import { responseSchema } from "../response/config.js";
import { checkListenExposure, checkTlsFiles, ingestSchema, listenSchema } from "./listen.js";

export const DEFAULT_CONFIG_FILE = "./peregrine.yaml";
export { DEFAULT_PORT } from "./listen.js";
/** The outputs when the config lists none: one `stdout`, which PEREGRINE_OUTPUTS_STDOUT_* can still change. */
const DEFAULT_OUTPUTS: Record<string, unknown>[] = [{ name: "stdout", type: "stdout" }];


export const rootShape = {
  listen: listenSchema,
  storage: s
    .object({
      path: s.string().notEmpty().default("./data").describe("Directory of the journal and dead-letter store."),
      max_bytes: s
        .bytes()
        .range(1024 * 1024)
        .default(10 * 1024 ** 3)
        .describe("Disk quota of the journal; at the quota ingest answers 503 and nothing is dropped."),
      fsync: s
        .boolean()
        .default(true)
        .describe("fsync each group commit, so an acknowledged alert survives power loss, not only a crash."),
    })
    .describe("The durable journal."),
  ingest: ingestSchema,
  history: historySchema,
  shutdown: s
    .object({
      drain_ms: s.duration().range(0).default(10_000).describe("On SIGTERM, how long outputs may drain before exit."),
    })
    .describe("Graceful stop."),
  log: s
    .object({
      level: s
        .string()
        .oneOf(["trace", "debug", "info", "warn", "error", "fatal", "silent"])
        .default("info")
        .describe("Log level."),
    })
    .describe("Logging."),
  outputs: s.array(s.any()).default(() => structuredClone(DEFAULT_OUTPUTS)).describe("The outputs (see docs/outputs/)."),
  detector: detectorSchema.optional().describe("The embedded detector (see docs/detector.md)."),
  enrich: enrichShape.optional(),
  response: responseSchema,
} satisfies Shape;

export type RootConfig = Omit<InferShape<typeof rootShape>, "outputs" | "detector" | "enrich" | "history" | "response">;
/** The `detector` and `enrich` sections as their schemas read them. */
export type DetectorSection = NonNullable<InferShape<typeof rootShape>["detector"]>;
export type EnrichSection = NonNullable<InferShape<typeof rootShape>["enrich"]>;

export interface OutputConfig extends LaneConfig {
  name: string;
  type: string;
  minimum_priority: Priority;
  filter?: string;
  /** The type's own keys, validated by its definition's schema. */
  options: Record<string, unknown>;
  definition: OutputDefinition;
}

export interface Config extends RootConfig {
  outputs: OutputConfig[];
  detector?: DetectorSection;
  enrich?: EnrichSection;
  /** Always set by loadConfig; optional so a hand-built config (tests, embedders) runs without history. */
  history?: InferShape<typeof rootShape>["history"];
  /** The response engine (Falco Talon's rules); optional like history for hand-built configs. */
  response?: InferShape<typeof rootShape>["response"];
  /** Where the config came from, for messages. */
  source: string;
}

export interface LoadResult {
  config?: Config;
  issues: (ConfigIssue & { line?: number; column?: number })[];
  source: string;
}

const rootSchema = new ObjectSchema(rootShape);

/**
 * Loads and validates the config: the YAML file (or built-in defaults when the default
 * file is absent), `${VAR}` / `${file:PATH}` references, then PEREGRINE_* overrides.
 * Never throws for user mistakes: every problem is returned with its path and line.
 */
export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): LoadResult {
  const path = file ?? DEFAULT_CONFIG_FILE;
  let raw: unknown = {};
  let doc: Document | undefined;
  let lineCounter: LineCounter | undefined;
  const source = existsSync(path) ? path : file === undefined ? "built-in defaults" : path;
  if (existsSync(path)) {
    let text: string;
    try {
      text = readFileSync(path, "utf8");
    } catch (err) {
      throw new PeregrineError("CONFIG_FILE_UNREADABLE", `cannot read ${path}: ${(err as Error).message}`);
    }
    lineCounter = new LineCounter();
    doc = parseDocument(text, { lineCounter, prettyErrors: false });
    if (doc.errors.length > 0) {
      return {
        source,
        issues: doc.errors.map((e) => {
          const pos = e.linePos?.[0] ?? lineCounter!.linePos(e.pos[0]);
          return { path: "", message: `invalid YAML: ${e.message.split("\n")[0]}`, severity: "error" as const, code: "CONFIG_YAML_PARSE" as const, ...(pos ? { line: pos.line, column: pos.col } : {}) };
        }),
      };
    }
    try {
      raw = doc.toJS() ?? {};
    } catch (err) {
      // e.g. an alias (*name) whose anchor (&name) is not set before it
      const pos = lineCounter.linePos(firstAliasOffset(doc) ?? 0);
      return { source, issues: [{ path: "", message: `invalid YAML: ${errorMessage(err).split("\n")[0]}`, severity: "error", code: "CONFIG_YAML_PARSE", line: pos.line, column: pos.col }] };
    }
  } else if (file !== undefined) {
    throw new PeregrineError("CONFIG_FILE_UNREADABLE", `config file not found: ${path}`);
  }

  const ctx = new ParseContext();
  // Paths in a config file (templates) name files beside it, not in whatever folder the command runs from.
  if (doc !== undefined) ctx.baseDir = dirname(resolvePath(path));
  if (!isObject(raw)) {
    ctx.error("", "the config must be a YAML map of sections (listen, storage, outputs, ...)");
    raw = {};
  }
  raw = substituteReferences(raw, env, ctx, "");
  const fromEnv = applyEnvOverrides(raw as Record<string, unknown>, env, ctx);

  const root = rootSchema.parse(raw, ctx, "");
  if (ctx.ok) {
    checkListenExposure(root.listen, root.ingest, ctx);
    checkTlsFiles(root.listen.tls, ctx);
  }
  const outputs: OutputConfig[] = [];
  const seen = new Set<string>();
  const rateLimitedTargets = new Map<string, string>();
  (root.outputs ?? []).forEach((entry, i) => {
    const out = parseOutput(entry, ctx, `outputs[${i}]`);
    if (!out) return;
    if (seen.has(out.name)) ctx.error(`outputs[${i}].name`, `duplicate output name "${out.name}"`);
    checkOutputRouting(out, ctx, `outputs[${i}]`);
    warnSharedTarget(out, rateLimitedTargets, ctx, `outputs[${i}]`);
    seen.add(out.name);
    outputs.push(out);
  });

  const issues = ctx.issues.map((issue) => {
    // A value an environment variable set is not where the file says: name the variable instead.
    const variable = envSource(fromEnv, issue.path);
    if (variable !== undefined) return { ...issue, message: `${issue.message} (set by ${variable})` };
    return { ...issue, ...locate(doc, lineCounter, issue.path) };
  });
  if (!ctx.ok) return { issues, source };
  const config: Config = {
    listen: root.listen,
    storage: root.storage,
    ingest: root.ingest,
    history: root.history,
    response: root.response,
    shutdown: root.shutdown,
    log: root.log,
    outputs,
    source,
  };
  if (root.detector !== undefined) config.detector = root.detector;
  if (root.enrich !== undefined) config.enrich = root.enrich;
  return { config, issues, source };
}

/** An output entry's keys: the lane's, typed, and its type's own. */
type OutputShape = typeof laneShape & Shape;
const outputSchemas = new Map<string, ObjectSchema<OutputShape>>();

function outputSchema(def: OutputDefinition): ObjectSchema<OutputShape> {
  let schema = outputSchemas.get(def.type);
  if (schema === undefined) {
    const overlap = Object.keys(def.schema.shape).filter((k) => k in laneShape);
    if (overlap.length > 0) throw new Error(`output type ${def.type} redefines lane keys: ${overlap.join(", ")}`);
    schema = new ObjectSchema<OutputShape>({ ...def.schema.shape, ...laneShape });
    outputSchemas.set(def.type, schema);
  }
  return schema;
}

/** One `outputs:` entry: its type's schema with the lane keys and the type's lane defaults. */
export function parseOutput(entry: unknown, ctx: ParseContext, path: string): OutputConfig | undefined {
  if (!isObject(entry)) {
    ctx.error(path, "must be a map with at least `name` and `type`");
    return undefined;
  }
  const type = entry.type;
  if (typeof type !== "string") {
    ctx.error(`${path}.type`, `is required; one of ${Object.keys(OUTPUT_TYPES).join(", ")}`);
    return undefined;
  }
  const def = OUTPUT_TYPES[type];
  if (!def) {
    ctx.error(`${path}.type`, `unknown output type "${type}"${didYouMean(type, Object.keys(OUTPUT_TYPES))}; known: ${Object.keys(OUTPUT_TYPES).join(", ")}`);
    return undefined;
  }
  const withDefaults = mergeDefaults((def.laneDefaults ?? {}) as Record<string, unknown>, entry);
  const errorsBefore = ctx.issues.filter((i) => i.severity === "error").length;
  const parsed = outputSchema(def).parse(withDefaults, ctx, path);
  const options: Record<string, unknown> = {};
  for (const k of Object.keys(def.schema.shape)) if (k in parsed) options[k] = parsed[k];
  try {
    def.validate?.(options as never, ctx, path);
  } catch (err) {
    // Cross-field checks assume the fields parsed: a missing or mistyped one, already
    // reported, may make them throw. Anything else is reported at the output, not thrown.
    const errorsNow = ctx.issues.filter((i) => i.severity === "error").length;
    if (errorsNow === errorsBefore) ctx.error(path, `cannot be checked: ${errorMessage(err)}`);
  }
  const lane = parsed;
  const out: OutputConfig = {
    ...lane,
    name: lane.name,
    type,
    minimum_priority: parsePriority(lane.minimum_priority) ?? "Debug",
    options,
    definition: def as OutputDefinition,
  };
  if (lane.filter !== undefined) out.filter = lane.filter;
  return out;
}

function mergeDefaults(defaults: Record<string, unknown>, value: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...value };
  for (const [k, d] of Object.entries(defaults)) {
    const v = out[k];
    if (v === undefined || v === null) out[k] = structuredClone(d);
    else if (isObject(v) && isObject(d)) out[k] = mergeDefaults(d, v);
  }
  return out;
}

/** `${VAR}` takes an environment variable, `${file:PATH}` a file's trimmed content (for secrets). */
function substituteReferences(value: unknown, env: NodeJS.ProcessEnv, ctx: ParseContext, path: string): unknown {
  if (typeof value === "string") {
    return value.replace(/\$\{([^}]+)\}/g, (_m, ref: string) => {
      if (ref.startsWith("file:")) {
        const file = ref.slice(5);
        try {
          return readFileSync(file, "utf8").trim();
        } catch {
          ctx.error(path, `cannot read secret file "${file}"`);
          return "";
        }
      }
      const v = env[ref];
      if (v === undefined) {
        ctx.error(path, `environment variable ${ref} is not set`);
        return "";
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteReferences(v, env, ctx, `${path}[${i}]`));
  if (isObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteReferences(v, env, ctx, path ? `${path}.${k}` : k);
    return out;
  }
  return value;
}

/**
 * PEREGRINE_LISTEN_PORT=9000 sets listen.port; PEREGRINE_OUTPUTS_<NAME>_<KEY> sets a key of
 * the output with that name (name upper-cased, non-alphanumerics as _). Values are YAML
 * scalars, so numbers and booleans keep their type.
 */
function applyEnvOverrides(raw: Record<string, unknown>, env: NodeJS.ProcessEnv, ctx: ParseContext): Map<string, string> {
  /** Config path -> the variable that set it. */
  const set = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith("PEREGRINE_") || value === undefined) continue;
    if (name === "PEREGRINE_LOG_LEVEL" && raw.log === undefined) {
      raw.log = { level: value };
      set.set("log.level", name);
      continue;
    }
    const rest = name.slice("PEREGRINE_".length);
    if (rest.startsWith("OUTPUTS_")) {
      // Without an outputs list the built-in one applies; overrides must reach it too.
      if (raw.outputs === undefined || raw.outputs === null) raw.outputs = structuredClone(DEFAULT_OUTPUTS);
      const outputs = Array.isArray(raw.outputs) ? raw.outputs : [];
      const tail = rest.slice("OUTPUTS_".length);
      const target = outputs.find(
        (o) => isObject(o) && typeof o.name === "string" && tail.startsWith(`${envName(o.name)}_`),
      ) as Record<string, unknown> | undefined;
      if (!target) {
        // A mistyped name would otherwise leave the file's value (often a secret) in force, silently.
        const names = outputs.filter((o) => isObject(o) && typeof o.name === "string").map((o) => `${envName((o as { name: string }).name)} (${(o as { name: string }).name})`);
        ctx.error(name, `names no configured output; PEREGRINE_OUTPUTS_<NAME>_<KEY> takes one of: ${names.join(", ") || "none"}`);
        continue;
      }
      const path = setByEnvPath(target, tail.slice(envName(target.name as string).length + 1), value, `outputs[${outputs.indexOf(target)}]`);
      set.set(path, name);
      continue;
    }
    const path = setByShape(raw, rootShape, rest, value, "");
    if (path !== undefined) set.set(path, name);
    else if (!NON_CONFIG_VARIABLES.has(name))
      // A misspelt override would otherwise leave the file's value in force, silently.
      ctx.warn(name, `environment variable matches no config key; ignored${didYouMean(name, envVariables())}`);
  }
  return set;
}

/** PEREGRINE_* variables read by the CLI and the test harness, not config overrides. */
const NON_CONFIG_VARIABLES = new Set([
  "PEREGRINE_DEBUG",
  "PEREGRINE_LONG",
  "PEREGRINE_SERVICES",
  "PEREGRINE_SERVICES_STOP",
  "PEREGRINE_HARNESS_CACHE",
  "PEREGRINE_BUILD_CACHE",
  "PEREGRINE_TEST_RESPONSE_PAUSE",
]);

let envVariableNames: string[] | undefined;
/** Every override variable of the root config (PEREGRINE_LISTEN_PORT, ...), for did-you-mean. */
function envVariables(): string[] {
  if (envVariableNames) return envVariableNames;
  const names: string[] = ["PEREGRINE_LOG_LEVEL"];
  const walk = (shape: Shape, prefix: string): void => {
    for (const [key, schema] of Object.entries(shape)) {
      const name = `${prefix}_${envName(key)}`;
      if (schema instanceof ObjectSchema) walk(schema.shape, name);
      else names.push(name);
    }
  };
  walk(rootShape, "PEREGRINE");
  return (envVariableNames = names);
}

/** The variable that set this path or one of its parents, if any. */
function envSource(fromEnv: Map<string, string>, path: string): string | undefined {
  for (const [set, variable] of fromEnv) if (path === set || path.startsWith(`${set}.`) || path.startsWith(`${set}[`)) return variable;
  return undefined;
}

function envName(key: string): string {
  return key.toUpperCase().replace(/[^A-Z0-9]/g, "_");
}

/** Sets the key the variable names; returns its config path, or undefined when it names none. */
function setByShape(target: Record<string, unknown>, shape: Shape, rest: string, value: string, path: string): string | undefined {
  for (const [key, schema] of Object.entries(shape)) {
    const k = envName(key);
    const keyPath = path ? `${path}.${key}` : key;
    if (rest === k) {
      target[key] = envValue(value);
      return keyPath;
    }
    if (rest.startsWith(`${k}_`) && schema instanceof ObjectSchema) {
      const child = isObject(target[key]) ? (target[key] as Record<string, unknown>) : {};
      const set = setByShape(child, schema.shape, rest.slice(k.length + 1), value, keyPath);
      if (set !== undefined) {
        target[key] = child;
        return set;
      }
    }
  }
  return undefined;
}

/** For outputs, whose keys depend on the type: match existing keys first, else snake_case the rest. */
function setByEnvPath(target: Record<string, unknown>, rest: string, value: string, path: string): string {
  for (const key of Object.keys(target)) {
    const k = envName(key);
    if (rest === k) {
      target[key] = envValue(value);
      return `${path}.${key}`;
    }
    if (rest.startsWith(`${k}_`) && isObject(target[key])) {
      return setByEnvPath(target[key] as Record<string, unknown>, rest.slice(k.length + 1), value, `${path}.${key}`);
    }
  }
  target[rest.toLowerCase()] = envValue(value);
  return `${path}.${rest.toLowerCase()}`;
}

/**
 * A variable's value read as YAML, so numbers and booleans keep their type; text YAML
 * rejects or warns about (`[1`, `!x`) stays the string it is, and is validated as such.
 */
function envValue(value: string): unknown {
  try {
    const doc = parseDocument(value, { logLevel: "silent" });
    if (doc.errors.length > 0 || doc.warnings.length > 0) return value;
    return doc.toJS();
  } catch {
    return value;
  }
}

/** Where the first alias that names no earlier anchor is (else the first alias): toJS() fails on it. */
function firstAliasOffset(doc: Document): number | undefined {
  let first: number | undefined;
  let unresolved: number | undefined;
  visit(doc, {
    Alias(_key, node) {
      first ??= node.range?.[0];
      if (node.resolve(doc) === undefined) {
        unresolved = node.range?.[0];
        return visit.BREAK;
      }
      return undefined;
    },
  });
  return unresolved ?? first;
}

/** Maps `outputs[2].url` to the YAML node's line and column, when the key exists in the file. */
function locate(doc: Document | undefined, lc: LineCounter | undefined, path: string): { line?: number; column?: number } {
  if (!doc || !lc) return {};
  // A problem with the whole document (not a map) points at its first node.
  const root = isNode(doc.contents) && doc.contents.range ? lc.linePos(doc.contents.range[0]) : { line: 1, col: 1 };
  if (path === "") return { line: root.line, column: root.col };
  const keys: (string | number)[] = [];
  for (const part of path.split(".")) {
    const m = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!m) return {};
    if (m[1] === '""') keys.push("");
    else if (m[1]) keys.push(m[1]);
    for (const idx of m[2]!.matchAll(/\[(\d+)\]/g)) keys.push(Number(idx[1]));
  }
  // Walk up until an existing node: an unknown or missing key points at its parent.
  for (let n = keys.length; n > 0; n--) {
    const node = doc.getIn(keys.slice(0, n), true);
    if (isNode(node) && node.range) {
      const pos = lc.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return {};
}

export function formatIssue(issue: LoadResult["issues"][number], source: string): string {
  const where = issue.line !== undefined ? `${source}:${issue.line}:${issue.column}: ` : "";
  const path = issue.path ? `${issue.path}: ` : "";
  const code = issue.code ? ` [${issue.code}]` : "";
  return `${issue.severity}: ${where}${path}${issue.message}${code}`;
}

/**
 * Slack allows about one message per second per incoming webhook, and each output has its
 * own rate limit: two outputs posting to one webhook would together exceed it and meet 429s.
 */
/** Two outputs on one rate-limited target (see OutputDefinition.rateLimitedTarget) add up their rates. */
function warnSharedTarget(out: OutputConfig, seen: Map<string, string>, ctx: ParseContext, path: string): void {
  const target = out.definition.rateLimitedTarget?.(out.options as never);
  if (target === undefined) return;
  const key = `${out.type}\n${target}`;
  const first = seen.get(key);
  if (first === undefined) {
    seen.set(key, out.name);
    return;
  }
  ctx.warn(
    path,
    `sends to the same ${out.type} destination as output "${first}": each output has its own rate limit, so together ` +
      `they exceed the service's and meet 429s; use one output with a filter, or separate destinations`,
  );
}
