/**
 * A small declarative schema: one spec per config section validates the YAML, fills
 * defaults, applies PEREGRINE_* environment overrides and renders the reference docs.
 * Every problem is collected (not just the first) with its dotted path.
 */

import { existsSync } from "node:fs";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ErrorCode } from "../errors.js";

export interface ConfigIssue {
  path: string;
  message: string;
  /** "error" fails `config check`; "warning" is printed but passes. */
  severity: "error" | "warning";
  /** A stable code of its own, for problems a script may want to tell apart (else CONFIG_INVALID). */
  code?: ErrorCode;
}

export class ParseContext {
  readonly issues: ConfigIssue[] = [];
  /** The config file's folder: relative paths (`asPath`) resolve against it. Unset: as written. */
  baseDir?: string;
  error(path: string, message: string, code?: ErrorCode): void {
    this.issues.push(code === undefined ? { path, message, severity: "error" } : { path, message, severity: "error", code });
  }
  warn(path: string, message: string): void {
    this.issues.push({ path, message, severity: "warning" });
  }
  get ok(): boolean {
    return !this.issues.some((i) => i.severity === "error");
  }
}

export interface SchemaDoc {
  type: string;
  description?: string;
  default?: unknown;
  required?: boolean;
  fields?: Record<string, SchemaDoc>;
  items?: SchemaDoc;
}

export abstract class Schema<T> {
  description?: string;
  defaultValue?: () => T;
  isOptional = false;

  /** Validates `input` (never undefined here), pushing issues; returns a best-effort value. */
  protected abstract check(input: unknown, ctx: ParseContext, path: string): T;
  abstract typeName(): string;

  parse(input: unknown, ctx: ParseContext, path: string): T {
    if (input === undefined || input === null) {
      if (this.defaultValue) return this.defaultValue();
      if (!this.isOptional) ctx.error(path, "is required");
      return undefined as T;
    }
    return this.check(input, ctx, path);
  }

  describe(text: string): this {
    this.description = text;
    return this;
  }

  default(value: T | (() => T)): this {
    this.defaultValue = typeof value === "function" ? (value as () => T) : () => structuredClone(value);
    return this;
  }

  optional(): Schema<T | undefined> {
    this.isOptional = true;
    return this as Schema<T | undefined>;
  }

  doc(): SchemaDoc {
    const d: SchemaDoc = { type: this.typeName() };
    if (this.description) d.description = this.description;
    if (this.defaultValue) d.default = this.defaultValue();
    if (!this.defaultValue && !this.isOptional) d.required = true;
    return d;
  }
}

/** A string; `oneOf` narrows its type to the literal choices, so a config's type says them. */
export class StringSchema<T extends string = string> extends Schema<T> {
  private choices?: readonly string[];
  private ignoreCase = false;
  private nonEmpty = false;
  private url = false;
  private pattern?: { re: RegExp; hint: string };
  private pathWhen?: (value: string) => boolean;

  /** With ignoreCase the choices are written in lower case, and the value is the choice it matched. */
  oneOf<const C extends string>(this: StringSchema<string>, choices: readonly C[], options: { ignoreCase?: boolean } = {}): StringSchema<C> {
    this.choices = choices;
    this.ignoreCase = options.ignoreCase ?? false;
    // the same schema, now known to yield one of the choices (check() refuses anything else)
    return this as StringSchema<C>;
  }
  notEmpty(): this {
    this.nonEmpty = true;
    return this;
  }
  asUrl(): this {
    this.url = true;
    return this;
  }
  matches(re: RegExp, hint: string): this {
    this.pattern = { re, hint };
    return this;
  }
  /** A file path: relative to the config file's folder (see resolveConfigPath); `when` tells a path from other text. */
  asPath(when: (value: string) => boolean = () => true): this {
    this.pathWhen = when;
    return this;
  }
  typeName(): string {
    if (this.choices) return this.choices.map((c) => JSON.stringify(c)).join(" | ");
    return this.url ? "url" : "string";
  }
  protected check(input: unknown, ctx: ParseContext, path: string): T {
    if (typeof input === "number" || typeof input === "boolean") input = String(input);
    if (typeof input !== "string") {
      ctx.error(path, `must be a string, got ${describeType(input)}`);
      return "" as T;
    }
    if (this.nonEmpty && input.trim() === "") ctx.error(path, "must not be empty");
    const candidate = this.ignoreCase ? input.toLowerCase() : input;
    if (this.choices && !this.choices.includes(candidate)) {
      const hint = didYouMean(input, this.choices);
      ctx.error(path, `must be one of ${this.choices.join(", ")}, got "${input}"${hint}`);
    }
    if (this.url) {
      try {
        const u = new URL(input);
        if (u.protocol !== "http:" && u.protocol !== "https:") ctx.error(path, `not an http(s) URL: "${input}"`);
      } catch {
        ctx.error(path, `not a URL: "${input}"`);
      }
    }
    if (this.pattern && !this.pattern.re.test(input)) ctx.error(path, `${this.pattern.hint}, got "${input}"`);
    if (this.pathWhen && ctx.baseDir !== undefined && input.trim() !== "" && this.pathWhen(input)) return resolveConfigPath(input.trim(), ctx.baseDir) as T;
    // checked against the choices above (an unknown one is reported, and the config not used)
    return (this.choices ? candidate : input) as T;
  }
}

/** The installation: the folder of package.json, from src/config/ under tsx or dist/src/config/ when built. */
const INSTALL_ROOT = (() => {
  const here = dirname(fileURLToPath(import.meta.url));
  return [resolve(here, "../.."), resolve(here, "../../..")].find((d) => existsSync(join(d, "package.json"))) ?? resolve(here, "../..");
})();

/**
 * A relative path in a config file names a file beside that config, wherever the command runs
 * from; when there is none there, a file shipped with Peregrine (`templates/discord.hbs`).
 */
export function resolveConfigPath(value: string, baseDir: string): string {
  if (isAbsolute(value)) return value;
  const local = resolve(baseDir, value);
  if (existsSync(local)) return local;
  const shipped = resolve(INSTALL_ROOT, value);
  return existsSync(shipped) ? shipped : local;
}

export class NumberSchema extends Schema<number> {
  private integer = false;
  private min?: number;
  private max?: number;
  constructor(private readonly unit: "none" | "ms" | "bytes" = "none") {
    super();
  }
  int(): this {
    this.integer = true;
    return this;
  }
  range(min?: number, max?: number): this {
    if (min !== undefined) this.min = min;
    if (max !== undefined) this.max = max;
    return this;
  }
  typeName(): string {
    if (this.unit === "ms") return "duration (ms, or \"500ms\", \"30s\", \"5m\", \"1h\")";
    if (this.unit === "bytes") return "size (bytes, or \"512KiB\", \"1MiB\", \"10MB\", \"1GiB\")";
    return this.integer ? "integer" : "number";
  }
  protected check(input: unknown, ctx: ParseContext, path: string): number {
    let n: number | undefined;
    if (typeof input === "number") n = input;
    else if (typeof input === "string") {
      n = this.unit === "ms" ? parseDuration(input) : this.unit === "bytes" ? parseBytes(input) : Number(input);
      if (input.trim() === "") n = undefined;
    }
    if (n === undefined || !Number.isFinite(n)) {
      const type = this.typeName();
      ctx.error(path, `must be ${/^[aeiou]/.test(type) ? "an" : "a"} ${type}, got ${JSON.stringify(input)}`);
      return 0;
    }
    if (this.integer && !Number.isInteger(n)) ctx.error(path, `must be an integer, got ${n}`);
    if (this.min !== undefined && n < this.min) ctx.error(path, `must be at least ${this.min}, got ${n}`);
    if (this.max !== undefined && n > this.max) ctx.error(path, `must be at most ${this.max}, got ${n}`);
    return n;
  }
}

export class BooleanSchema extends Schema<boolean> {
  typeName(): string {
    return "boolean";
  }
  protected check(input: unknown, ctx: ParseContext, path: string): boolean {
    if (typeof input === "boolean") return input;
    if (input === "true") return true;
    if (input === "false") return false;
    ctx.error(path, `must be true or false, got ${JSON.stringify(input)}`);
    return false;
  }
}

export class ArraySchema<T> extends Schema<T[]> {
  constructor(readonly item: Schema<T>) {
    super();
  }
  typeName(): string {
    return `list of ${this.item.typeName()}`;
  }
  protected check(input: unknown, ctx: ParseContext, path: string): T[] {
    // A lone scalar where a list is expected is accepted as a list of one, as env vars give.
    if (!Array.isArray(input)) {
      if (typeof input === "string" && !(this.item instanceof ObjectSchema))
        return input.split(",").map((s, i) => this.item.parse(s.trim(), ctx, `${path}[${i}]`));
      ctx.error(path, `must be a list, got ${describeType(input)}`);
      return [];
    }
    return input.map((v, i) => this.item.parse(v, ctx, `${path}[${i}]`));
  }
  override doc(): SchemaDoc {
    return { ...super.doc(), items: this.item.doc() };
  }
}

export class RecordSchema<T> extends Schema<Record<string, T>> {
  constructor(readonly value: Schema<T>) {
    super();
  }
  typeName(): string {
    return `map of ${this.value.typeName()}`;
  }
  protected check(input: unknown, ctx: ParseContext, path: string): Record<string, T> {
    if (!isObject(input)) {
      ctx.error(path, `must be a map, got ${describeType(input)}`);
      return {};
    }
    const out: Record<string, T> = {};
    for (const [k, v] of Object.entries(input)) out[k] = this.value.parse(v, ctx, joinPath(path, k));
    return out;
  }
}

export type Shape = Record<string, Schema<unknown>>;
export type Infer<S> = S extends Schema<infer T> ? T : never;
export type InferShape<S extends Shape> = { [K in keyof S]: Infer<S[K]> };

export class ObjectSchema<S extends Shape> extends Schema<InferShape<S>> {
  // Method syntax keeps the check bivariant, so a specific schema widens to ObjectSchema<Shape>.
  private extraCheck?: { run(value: InferShape<S>, ctx: ParseContext, path: string): void };
  constructor(readonly shape: S) {
    super();
  }
  typeName(): string {
    return "object";
  }
  /** A cross-field check run after the fields parsed (e.g. cert_file needs key_file). */
  refine(fn: (value: InferShape<S>, ctx: ParseContext, path: string) => void): this {
    this.extraCheck = { run: fn };
    return this;
  }
  override parse(input: unknown, ctx: ParseContext, path: string): InferShape<S> {
    // An absent object still fills its children's defaults, so `listen:` may be omitted.
    if ((input === undefined || input === null) && !this.isOptional && !this.defaultValue)
      return this.check({}, ctx, path);
    return super.parse(input, ctx, path);
  }
  protected check(input: unknown, ctx: ParseContext, path: string): InferShape<S> {
    if (!isObject(input)) {
      ctx.error(path, `must be a map, got ${describeType(input)}`);
      input = {};
    }
    const obj = input as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    const keys = Object.keys(this.shape);
    const errorsBefore = errorCount(ctx);
    for (const k of Object.keys(obj)) {
      if (k === "") ctx.error(joinPath(path, '""'), "empty key");
      else if (!(k in this.shape)) ctx.error(joinPath(path, k), `unknown key${didYouMean(k, keys)}`);
    }
    for (const k of keys) {
      const v = this.shape[k]!.parse(obj[k], ctx, joinPath(path, k));
      if (v !== undefined) out[k] = v;
    }
    const value = out as InferShape<S>;
    // Cross-field checks assume well-typed fields; a field already reported may be missing or a placeholder.
    if (errorCount(ctx) === errorsBefore) this.extraCheck?.run(value, ctx, path);
    return value;
  }
  override doc(): SchemaDoc {
    const fields: Record<string, SchemaDoc> = {};
    for (const [k, s] of Object.entries(this.shape)) fields[k] = s.doc();
    const d = super.doc();
    delete d.default;
    return { ...d, fields };
  }
}

/** A value the schema does not inspect (checked by its owner, e.g. a rule-language filter). */
export class AnySchema extends Schema<unknown> {
  typeName(): string {
    return "any";
  }
  protected check(input: unknown): unknown {
    return input;
  }
}

export const s = {
  string: () => new StringSchema(),
  number: () => new NumberSchema(),
  int: () => new NumberSchema().int(),
  duration: () => new NumberSchema("ms"),
  bytes: () => new NumberSchema("bytes"),
  boolean: () => new BooleanSchema(),
  array: <T>(item: Schema<T>) => new ArraySchema(item),
  record: <T>(value: Schema<T>) => new RecordSchema(value),
  object: <S extends Shape>(shape: S) => new ObjectSchema(shape),
  any: () => new AnySchema(),
};

export function parseDuration(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? "ms";
  const factor = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit]!;
  return n * factor;
}

export function parseBytes(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|K|M|G)?\s*$/i.exec(text);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? "B").toLowerCase();
  const factors: Record<string, number> = {
    b: 1,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
    tb: 1e12,
    k: 1024,
    m: 1024 ** 2,
    g: 1024 ** 3,
    kib: 1024,
    mib: 1024 ** 2,
    gib: 1024 ** 3,
    tib: 1024 ** 4,
  };
  return Math.round(n * factors[unit]!);
}

function errorCount(ctx: ParseContext): number {
  let n = 0;
  for (const issue of ctx.issues) if (issue.severity === "error") n++;
  return n;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function joinPath(path: string, key: string): string {
  return path === "" ? key : `${path}.${key}`;
}

function describeType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a map";
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** ` (did you mean "x"?)` when a candidate is within a small edit distance, else "". */
export function didYouMean(word: string, candidates: readonly string[]): string {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestDist) {
      bestDist = d;
      best = c;
    }
  }
  if (best !== undefined && bestDist <= Math.max(2, Math.floor(word.length / 3))) return ` (did you mean "${best}"?)`;
  return "";
}

function editDistance(a: string, b: string): number {
  const prev = new Array<number>(b.length + 1);
  for (let j = 0; j <= b.length; j++) prev[j] = j;
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
