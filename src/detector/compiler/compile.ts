/**
 * Compiles a resolved condition AST (no macros, lists expanded) into one predicate closure.
 * Type compatibility of operator and field is checked here, once, with Falco's table; literals
 * are converted to the field's domain at compile time, so evaluation only compares.
 *
 * Missing values follow Falco: a check on a field that cannot be extracted is false (also for
 * `!=`); `exists` is true only when it can be extracted.
 */
import type { BinaryCheck, Expr, ListValue, Operand, Value } from "../condition/ast.js";
import type { EventSource, EventTypeCatalog, ExtractedValue, FieldInfo, FieldType } from "../event.js";
import { CompileError, compileOperand, resolveField, type CompiledOperand } from "./operand.js";
import {
  escapeRegExp,
  globToRegExp,
  netContains,
  parseBool,
  parseHexBytes,
  parseIp,
  parseIpv4,
  parseNet,
  parseNumber,
  pathMatchesPatterns,
  pathPatterns,
  sameIp,
  type ParsedIp,
} from "./values.js";

export type Predicate<E> = (event: E) => boolean;
type Test = (v: ExtractedValue) => boolean;

const NUMERIC: ReadonlySet<FieldType> = new Set(["int", "uint", "port", "abstime", "reltime"]);

/** Falco's operator/type table (flt_is_comparable). */
const ALLOWED: Record<"numeric" | "bool" | "string" | "bytes" | "ip" | "list", ReadonlySet<string>> = {
  numeric: new Set(["=", "==", "!=", "<", "<=", ">", ">=", "in", "intersects", "exists"]),
  bool: new Set(["=", "==", "!=", "in", "intersects", "exists"]),
  string: new Set([
    "=", "==", "!=", "<", "<=", ">", ">=", "contains", "in", "exists", "icontains", "startswith", "glob", "pmatch",
    "endswith", "intersects", "iglob", "regex",
  ]),
  bytes: new Set(["=", "==", "!=", "contains", "in", "exists", "startswith", "endswith", "intersects", "bcontains", "bstartswith"]),
  ip: new Set(["=", "==", "!=", "in", "exists", "intersects"]),
  list: new Set(["in", "intersects", "exists"]),
};

function typeClass(type: FieldType): keyof typeof ALLOWED {
  if (NUMERIC.has(type)) return "numeric";
  if (type === "bool") return "bool";
  if (type === "ipaddr" || type === "ipnet") return "ip";
  if (type === "bytes") return "bytes";
  return "string";
}

/** Literal conversions a field may define (alert.priority reads priority names). */
export interface LiteralAware {
  literal?: (text: string) => ExtractedValue | undefined;
  /** What `literal` accepts, for the error when it refuses a value. */
  literalHint?: string;
}

/**
 * Compiles a condition to one JavaScript function generated from the AST (never from the
 * condition text): checks on plain fields become inline comparisons against constants, and
 * everything else (transformers, globs, IPs, ancestor fields, ...) calls a closure built by
 * compileBinary. One generated function per rule keeps V8's type feedback per rule, so hot
 * checks stay monomorphic and inlined; shared closures would see every rule's values.
 */
export function compileCondition<E>(ast: Expr, source: EventSource<E>): Predicate<E> {
  const deps: unknown[] = [];
  const body = generate(ast, source, deps);
  // deps are referenced by index only; literals are embedded with JSON.stringify
  const factory = new Function("d", `"use strict"; return function condition(e) { let v; return ${body}; };`) as (
    d: unknown[],
  ) => Predicate<E>;
  return factory(deps);
}

/** The closure-only backend (no generated code); kept for comparison in tests and benches. */
export function compileConditionClosures<E>(ast: Expr, source: EventSource<E>): Predicate<E> {
  return compileExpr(ast, source);
}

function dep(deps: unknown[], x: unknown): string {
  deps.push(x);
  return `d[${deps.length - 1}]`;
}

const INLINE_STRING_OPS = new Set(["=", "!=", "in", "intersects", "startswith", "endswith", "contains", "<", "<=", ">", ">="]);
const INLINE_NUMERIC_OPS = new Set(["=", "!=", "in", "intersects", "<", "<=", ">", ">="]);

function generate<E>(e: Expr, source: EventSource<E>, deps: unknown[]): string {
  switch (e.kind) {
    case "and":
      return `(${e.children.map((c) => generate(c, source, deps)).join(" && ")})`;
    case "or":
      return `(${e.children.map((c) => generate(c, source, deps)).join(" || ")})`;
    case "not":
      return `!${generate(e.child, source, deps)}`;
    case "macro":
      throw new CompileError(`Undefined macro '${e.name}' used in filter.`, e.pos);
    case "unary": {
      const left = compileOperand(source, e.left);
      return `${dep(deps, exists(left.get))}(e)`;
    }
    case "binary":
      return generateBinary(e, source, deps);
  }
}

function generateBinary<E>(e: BinaryCheck, source: EventSource<E>, deps: unknown[]): string {
  // compileBinary validates (types, literals, event types) and is the fallback implementation
  const fallback = compileBinary(e, source);
  const slow = `${dep(deps, fallback)}(e)`;
  if (e.left.kind !== "field" || e.modifier || (e.right.kind !== "value" && e.right.kind !== "list")) return slow;
  const left = compileOperand(source, e.left);
  if (left.multi || left.isList || isDynamic(source, e.left)) return slow;
  const op = e.op === "==" ? "=" : e.op;
  const numeric = NUMERIC.has(left.type);
  const isString = left.type === "string";
  const isBool = left.type === "bool";
  if (!(isString && INLINE_STRING_OPS.has(op)) && !(numeric && INLINE_NUMERIC_OPS.has(op)) && !(isBool && (op === "=" || op === "!="))) {
    return slow;
  }
  const info = fieldInfoOf(source, e.left);
  const values = literalValues(e.right).map((t) => convertLiteral(t, left, info, e.right.pos, op));
  // only literals JSON can spell exactly are inlined (not Infinity, NaN, bigint)
  if (values.some((x) => (typeof x === "number" && !Number.isFinite(x)) || typeof x === "bigint")) return slow;
  const get = `(v = ${dep(deps, left.get)}(e)) !== undefined`;
  const lit = JSON.stringify(values[0]);
  if (isBool) return `(${get} && v ${op === "=" ? "===" : "!=="} ${lit})`;
  const val = numeric ? `(typeof v === "number" ? v : Number(v))` : `(typeof v === "string" ? v : String(v))`;
  switch (op) {
    case "=":
      return `(${get} && ${val} === ${lit})`;
    case "!=":
      return `(${get} && ${val} !== ${lit})`;
    case "<":
    case "<=":
    case ">":
    case ">=":
      return `(${get} && ${val} ${op} ${lit})`;
    case "startswith":
      return `(${get} && ${val}.startsWith(${lit}))`;
    case "endswith":
      return `(${get} && ${val}.endsWith(${lit}))`;
    case "contains":
      return `(${get} && ${val}.includes(${lit}))`;
    case "in":
    case "intersects": {
      if (values.length === 0) return "false";
      // short lists: chained comparisons beat hashing the value
      if (values.length <= 8) {
        return `(${get} && ((v = ${val}) === ${values.map((x) => JSON.stringify(x)).join(` || v === `)}))`;
      }
      return `(${get} && ${dep(deps, new Set(values))}.has(${val}))`;
    }
  }
  return slow;
}

function compileExpr<E>(e: Expr, source: EventSource<E>): Predicate<E> {
  switch (e.kind) {
    case "and": {
      const parts = e.children.map((c) => compileExpr(c, source));
      if (parts.length === 2) {
        const [a, b] = parts as [Predicate<E>, Predicate<E>];
        return (ev) => a(ev) && b(ev);
      }
      if (parts.length === 3) {
        const [a, b, c] = parts as [Predicate<E>, Predicate<E>, Predicate<E>];
        return (ev) => a(ev) && b(ev) && c(ev);
      }
      return (ev) => {
        for (let i = 0; i < parts.length; i++) if (!parts[i]!(ev)) return false;
        return true;
      };
    }
    case "or": {
      const parts = e.children.map((c) => compileExpr(c, source));
      if (parts.length === 2) {
        const [a, b] = parts as [Predicate<E>, Predicate<E>];
        return (ev) => a(ev) || b(ev);
      }
      return (ev) => {
        for (let i = 0; i < parts.length; i++) if (parts[i]!(ev)) return true;
        return false;
      };
    }
    case "not": {
      const inner = compileExpr(e.child, source);
      return (ev) => !inner(ev);
    }
    case "macro":
      throw new CompileError(`Undefined macro '${e.name}' used in filter.`, e.pos);
    case "unary":
      return exists(compileOperand(source, e.left).get);
    case "binary":
      return compileBinary(e, source);
  }
}

/** `exists`: a value was extracted; for a list or the ancestors, at least one (as in Falco). */
function exists<E>(get: (ev: E) => ExtractedValue | undefined): Predicate<E> {
  return (ev) => {
    const v = get(ev);
    return v !== undefined && !(Array.isArray(v) && v.length === 0);
  };
}

function checkAllowed<E>(op: string, left: CompiledOperand<E>, pos: BinaryCheck["pos"]): void {
  const cls = left.isList ? "list" : typeClass(left.type);
  if (!ALLOWED[cls].has(op)) {
    const what = cls === "list" ? "list" : cls === "ip" ? "ip address and network" : cls;
    throw new CompileError(`'${op}' operator not supported for ${what} filters (field '${left.name}')`, pos);
  }
}

/** libsinsp's names of the field types, for its messages. */
const PARAM_TYPE: Record<FieldType, string> = {
  string: "CHARBUF",
  int: "INT64",
  uint: "UINT64",
  bool: "BOOL",
  ipaddr: "IPADDR",
  ipnet: "IPNET",
  port: "PORT",
  abstime: "ABSTIME",
  reltime: "RELTIME",
  bytes: "BYTEBUF",
};

/** As libsinsp (check_rhs_field_type_consistency): both sides of a field comparison have one type. */
function checkRhsType<E>(left: CompiledOperand<E>, right: CompiledOperand<E>, pos: BinaryCheck["pos"]): void {
  if (left.type === right.type && left.isList === right.isList) return;
  const t = (o: CompiledOperand<E>) => `${PARAM_TYPE[o.type]}${o.isList ? " (list)" : ""}`;
  throw new CompileError(`field '${left.name}' has type '${t(left)}' while the right-hand side field '${right.name}' has incompatible type '${t(right)}'`, pos);
}

function literalValues(right: Value | ListValue): string[] {
  if (right.kind === "value") return [right.value];
  if (right.items.length === 0 && right.name !== undefined) return [right.name];
  return right.items.map((v) => v.value);
}

function compileBinary<E>(e: BinaryCheck, source: EventSource<E>): Predicate<E> {
  const left = compileOperand(source, e.left);
  const op = e.op === "==" ? "=" : e.op;
  checkAllowed(e.op, left, e.pos);
  if (e.modifier && (left.type === "ipaddr" || left.type === "ipnet") && op !== "=" && op !== "!=") {
    throw new CompileError(`'${e.op} ${e.modifier}' with modifier not supported for ip address and network filters`, e.pos);
  }

  if (e.right.kind === "field" || e.right.kind === "transformer") {
    if (op === "pmatch" || op === "regex") throw new CompileError(`operator '${op}' doesn't support right-hand side fields`, e.right.pos);
    if (left.type === "ipnet") throw new CompileError("field type 'ipnet' doesn't support right-hand side fields", e.right.pos);
    const right = compileOperand(source, e.right as Operand);
    checkRhsType(left, right, e.right.pos);
    return compileFieldToField(op, left, right);
  }

  const isListOp = op === "in" || op === "intersects" || op === "pmatch";
  if (!isListOp && !e.modifier && e.right.kind === "list") {
    throw new CompileError(`operator '${e.op}' takes a single value, not a list`, e.right.pos);
  }
  const raw = literalValues(e.right);
  checkEventTypes(e, source, raw);
  const info = fieldInfoOf(source, e.left);
  const values = raw.map((text) => convertLiteral(text, left, info, e.right.pos, op));

  let test: Test;
  if (e.modifier) {
    const tests = values.map((v) => scalarTest(op, left.type, [v], e.right.pos));
    const n = tests.length;
    if (n === 0) return () => false;
    if (e.modifier === "anyof") test = (v) => tests.some((t) => t(v));
    else if (e.modifier === "allof") test = (v) => tests.every((t) => t(v));
    else
      test = (v) => {
        let hits = 0;
        for (let i = 0; i < n; i++) if (tests[i]!(v) && ++hits > 1) return false;
        return hits === 1;
      };
  } else if (isListOp && left.isList) {
    return compileListField(op, left, values);
  } else if (isDynamic(source, e.left) && DYNAMIC_NUMERIC_OPS.has(op) && raw.every((x) => /^[+-]?[0-9]+$/.test(x))) {
    // evt.rawarg takes the argument's own type (libsinsp's PT_DYN): a numeric argument
    // compares as a number (evt.rawarg.res < -1 holds for -22), any other as text
    const asNumber = numericTest(op, raw.map(Number));
    const asText = scalarTest(op, left.type, values, e.right.pos);
    test = (v) => (typeof v === "number" || typeof v === "bigint" ? asNumber(Number(v)) : asText(v));
  } else {
    test = scalarTest(op, left.type, values, e.right.pos);
  }
  // Falco: fd.ip != X holds only when neither end is X
  return wrap(left, test, left.bothEnds === true && op === "!=");
}

/**
 * Applies a scalar test to an operand, handling missing values and ancestor alternatives:
 * any value may satisfy it, or with `every` each one must (and there must be one).
 */
function wrap<E>(left: CompiledOperand<E>, test: Test, every = false): Predicate<E> {
  const get = left.get;
  if (!left.multi) {
    return (ev) => {
      const v = get(ev);
      return v !== undefined && test(v);
    };
  }
  return (ev) => {
    const v = get(ev);
    if (v === undefined) return false;
    if (Array.isArray(v)) {
      if (every) return v.length > 0 && v.every((x) => test(x as ExtractedValue));
      for (let i = 0; i < v.length; i++) if (test(v[i] as ExtractedValue)) return true;
      return false;
    }
    return test(v);
  };
}

function compileListField<E>(op: string, left: CompiledOperand<E>, values: ExtractedValue[]): Predicate<E> {
  const set = new Set<unknown>(values);
  const get = left.get;
  if (op === "intersects") {
    return (ev) => {
      const v = get(ev);
      if (v === undefined) return false;
      if (!Array.isArray(v)) return set.has(v);
      for (const x of v) if (set.has(x)) return true;
      return false;
    };
  }
  // in: every value of the list field is in the set; an empty list is, as in Falco
  return (ev) => {
    const v = get(ev);
    if (v === undefined) return false;
    if (!Array.isArray(v)) return set.has(v);
    if (v.length === 0) return true;
    for (const x of v) if (!set.has(x)) return false;
    return true;
  };
}

const DYNAMIC_NUMERIC_OPS = new Set(["=", "!=", "<", "<=", ">", ">=", "in", "intersects"]);

/** A field whose values keep the type of what they read (evt.rawarg.*): numbers compare as numbers. */
function isDynamic<E>(source: EventSource<E>, o: Operand): boolean {
  return o.kind === "field" && source.name === "syscall" && resolveField(source.fields, o.name, o.arg)?.info.name === "evt.rawarg";
}

function fieldInfoOf<E>(source: EventSource<E>, o: Operand): (FieldInfo & LiteralAware) | undefined {
  if (o.kind !== "field") return undefined;
  return source.fields.get(o.name) as (FieldInfo & LiteralAware) | undefined;
}

function checkEventTypes<E>(e: BinaryCheck, source: EventSource<E>, raw: string[]): void {
  if (e.left.kind !== "field" || e.left.name !== "evt.type" || e.left.arg !== undefined) return;
  const catalog = (source as Partial<EventTypeCatalog>).eventTypes;
  if (!catalog) return;
  const op = e.op;
  if (op !== "=" && op !== "==" && op !== "!=" && op !== "in" && op !== "intersects") return;
  for (const t of raw) {
    if (!catalog.has(t)) throw new CompileError(`unknown event type '${t}'`, e.right.pos, true);
  }
}

function convertLiteral<E>(
  text: string,
  left: CompiledOperand<E>,
  info: (FieldInfo & LiteralAware) | undefined,
  pos: BinaryCheck["pos"],
  op: string,
): ExtractedValue {
  if (info?.literal) {
    const v = info.literal(text);
    if (v === undefined) {
      const hint = info.literalHint ? ` (expected ${info.literalHint})` : "";
      throw new CompileError(`'${text}' is not a valid value for field '${left.name}'${hint}`, pos);
    }
    return v;
  }
  const type = left.type;
  if (NUMERIC.has(type)) {
    // libsinsp reads numbers with sscanf("%d%c"): decimal integers only, so 0x10 or 1.5 are
    // refused, with its message
    const n = /^[+-]?[0-9]+$/.test(text) ? parseNumber(text) : undefined;
    if (n === undefined) throw new CompileError(`${text} is not a valid number`, pos);
    return n;
  }
  if (type === "bool") {
    const b = parseBool(text);
    if (b === undefined) throw new CompileError(`'${text}' is not a valid boolean for field '${left.name}' (use true or false)`, pos);
    return b;
  }
  if (type === "ipaddr" || type === "ipnet") {
    if (text.includes("/") || type === "ipnet") {
      if (!parseNet(text)) throw new CompileError(`'${text}' is not a valid IP network for field '${left.name}'`, pos);
    } else if (!parseIp(text)) {
      throw new CompileError(`'${text}' is not a valid IP address for field '${left.name}'`, pos);
    }
    return text;
  }
  if ((op === "bcontains" || op === "bstartswith") && parseHexBytes(text) === undefined) {
    throw new CompileError(`'${text}' is not a valid hex byte string for '${op}'`, pos);
  }
  return text;
}

/** Builds the test for one operator over scalar values of `type`, against literal `values`. */
function scalarTest(op: string, type: FieldType, values: ExtractedValue[], pos: BinaryCheck["pos"]): Test {
  if (NUMERIC.has(type)) return numericTest(op, values as number[]);
  if (type === "bool") {
    const b = values[0] as boolean;
    if (op === "=") return (v) => v === b;
    if (op === "!=") return (v) => v !== b;
    const set = new Set(values);
    return (v) => set.has(v as boolean);
  }
  if (type === "ipaddr" || type === "ipnet") return ipTest(op, type, values as string[]);
  return stringTest(op, values as string[], pos);
}

function toNumber(v: ExtractedValue): number {
  return typeof v === "number" ? v : Number(v);
}

function numericTest(op: string, values: number[]): Test {
  const c = values[0]!;
  switch (op) {
    case "=":
      return (v) => toNumber(v) === c;
    case "!=":
      return (v) => toNumber(v) !== c;
    case "<":
      return (v) => toNumber(v) < c;
    case "<=":
      return (v) => toNumber(v) <= c;
    case ">":
      return (v) => toNumber(v) > c;
    case ">=":
      return (v) => toNumber(v) >= c;
    default: {
      const set = new Set(values);
      return (v) => set.has(toNumber(v));
    }
  }
}

/**
 * IP checks. IPv4 values (the common case) are parsed to a number and compared against
 * pre-masked networks without allocating; IPv6 takes the general path.
 */
function ipTest(op: string, type: FieldType, values: string[]): Test {
  // an address literal compares for equality, a network literal (or any ipnet field) for membership
  const v4: { base: number; size: number }[] = [];
  const general: ((ip: ParsedIp) => boolean)[] = [];
  for (const text of values) {
    const net = type === "ipnet" || text.includes("/") ? parseNet(text)! : undefined;
    if (net) {
      if (net.v === 4) v4.push({ base: net.base as number, size: 2 ** (32 - net.prefix) });
      general.push((ip) => netContains(net, ip));
    } else {
      const addr = parseIp(text)!;
      if (addr.v === 4) v4.push({ base: addr.n, size: 1 });
      general.push((ip) => sameIp(addr, ip));
    }
  }
  const any = (v: ExtractedValue): boolean | undefined => {
    if (typeof v !== "string") return undefined;
    const n = parseIpv4(v);
    if (n !== undefined) {
      for (let i = 0; i < v4.length; i++) {
        const m = v4[i]!;
        if (n >= m.base && n < m.base + m.size) return true;
      }
      return false;
    }
    const ip = parseIp(v);
    if (!ip) return undefined;
    for (const m of general) if (m(ip)) return true;
    return false;
  };
  if (op === "!=") return (v) => any(v) === false;
  return (v) => any(v) === true;
}

function str(v: ExtractedValue): string {
  return typeof v === "string" ? v : String(v);
}

const RE2_ONLY = /\[:(?:alnum|alpha|ascii|blank|cntrl|digit|graph|lower|print|punct|space|upper|word|xdigit):\]|(?<!\\)(?:\\\\)*\\[pP]/;

function stringTest(op: string, values: string[], pos: BinaryCheck["pos"]): Test {
  const c = values[0]!;
  switch (op) {
    case "=":
      return (v) => v === c || (typeof v !== "string" && str(v) === c);
    case "!=":
      return (v) => !(v === c || (typeof v !== "string" && str(v) === c));
    case "<":
      return (v) => str(v) < c;
    case "<=":
      return (v) => str(v) <= c;
    case ">":
      return (v) => str(v) > c;
    case ">=":
      return (v) => str(v) >= c;
    case "contains":
      return (v) => str(v).includes(c);
    case "icontains": {
      const re = new RegExp(escapeRegExp(c), "i");
      return (v) => re.test(str(v));
    }
    case "bcontains": {
      const b = parseHexBytes(c)!;
      return (v) => str(v).includes(b);
    }
    case "startswith":
      return (v) => str(v).startsWith(c);
    case "bstartswith": {
      const b = parseHexBytes(c)!;
      return (v) => str(v).startsWith(b);
    }
    case "endswith":
      return (v) => str(v).endsWith(c);
    case "glob":
    case "iglob": {
      const re = globToRegExp(c, op === "iglob");
      return (v) => re.test(str(v));
    }
    case "regex": {
      let re: RegExp;
      // RE2 (Falco's engine) takes flags as a leading group, (?i) or (?s); JavaScript wants
      // them as RegExp flags.
      const flags = /^\(\?([is]+)\)/.exec(c);
      const pattern = flags ? c.slice(flags[0].length) : c;
      // RE2 syntax that JavaScript would read differently without an error: refuse it rather
      // than match something else ([[:alpha:]] would be the class '[:alph' then ']').
      const unsupported = RE2_ONLY.exec(pattern);
      if (unsupported) {
        throw new CompileError(`invalid regex pattern '${c}': RE2 syntax '${unsupported[0]}' is not supported here; write the characters out (e.g. [a-zA-Z] for [:alpha:])`, pos);
      }
      try {
        // Checked on its own before anchoring: wrapped first, an unbalanced 'a)|(b' would
        // compile to a different, valid expression instead of failing.
        new RegExp(pattern);
        re = new RegExp(`^(?:${pattern})$`, flags ? [...new Set(flags[1])].join("") : "");
      } catch (err) {
        const reason = (err as Error).message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, "");
        throw new CompileError(`invalid regex pattern '${c}': ${reason}`, pos);
      }
      return (v) => re.test(str(v));
    }
    case "pmatch": {
      const patterns = pathPatterns(values);
      return (v) => pathMatchesPatterns(str(v), patterns);
    }
    case "in":
    case "intersects": {
      if (values.length <= 4) {
        const [a, b, d, e] = values;
        return (v) => {
          const s = str(v);
          return s === a || s === b || s === d || s === e;
        };
      }
      const set = new Set(values);
      return (v) => set.has(str(v));
    }
  }
  throw new CompileError(`unsupported operator '${op}'`, pos);
}

/** The equality and ordering operators, alike for numbers and text; undefined for any other. */
function ordered<T extends number | string>(op: string, a: T, b: T): boolean | undefined {
  switch (op) {
    case "=":
    case "in":
    case "intersects":
      return a === b;
    case "!=":
      return a !== b;
    case "<":
      return a < b;
    case "<=":
      return a <= b;
    case ">":
      return a > b;
    case ">=":
      return a >= b;
  }
  return undefined;
}

/** `a op val(b)`: both sides extracted per event; missing on either side is false. */
function compileFieldToField<E>(op: string, left: CompiledOperand<E>, right: CompiledOperand<E>): Predicate<E> {
  const lget = left.get;
  const rget = right.get;
  const type = left.type;
  const numeric = NUMERIC.has(type);
  const cmp = (l: ExtractedValue, r: ExtractedValue): boolean => {
    if (Array.isArray(r)) {
      if (op === "in" || op === "intersects") {
        for (const x of r) if (cmp(l, x as ExtractedValue)) return true;
        return false;
      }
      return false;
    }
    if (numeric) return ordered(op, toNumber(l), toNumber(r)) ?? false;
    const a = str(l);
    const b = str(r);
    const byOrder = ordered(op, a, b);
    if (byOrder !== undefined) return byOrder;
    switch (op) {
      case "contains":
        return a.includes(b);
      case "icontains":
        return a.toLowerCase().includes(b.toLowerCase());
      case "startswith":
      case "bstartswith":
        return a.startsWith(b);
      case "endswith":
        return a.endsWith(b);
      case "bcontains":
        return a.includes(b);
      case "glob":
        return globToRegExp(b, false).test(a);
      case "iglob":
        return globToRegExp(b, true).test(a);
    }
    return false;
  };
  return (ev) => {
    const l = lget(ev);
    if (l === undefined) return false;
    const r = rget(ev);
    if (r === undefined) return false;
    if (Array.isArray(l)) {
      for (const x of l) if (cmp(x as ExtractedValue, r)) return true;
      return false;
    }
    return cmp(l, r);
  };
}

export { CompileError };
