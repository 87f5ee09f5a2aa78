/**
 * Compiles the left or right side of a check — a field or a transformer over fields — into an
 * extractor closure plus its static type, resolving field names against the source's registry.
 */
import type { EventSource, ExtractedValue, Extractor, FieldInfo, FieldType } from "../event.js";
import type { FieldRef, Pos, Transformer, TransformerArg } from "../condition/ast.js";
import { PeregrineError } from "../../errors.js";

export class CompileError extends PeregrineError {
  constructor(
    message: string,
    readonly pos: Pos,
    /** Unknown field or event type: downgraded to a warning by skip-if-unknown-filter. */
    readonly unknown = false,
  ) {
    super("DETECTOR_RULES_INVALID", message);
    this.name = "CompileError";
  }
}

export interface CompiledOperand<E> {
  get: Extractor<E>;
  type: FieldType;
  /** A list value (Falco list field): only in, intersects and exists apply. */
  isList: boolean;
  /** May yield an array of alternatives (ancestor fields): a check holds if any value satisfies it. */
  multi: boolean;
  /** Both ends of a connection (FieldInfo.bothEnds): `!=` must hold for every value. */
  bothEnds?: boolean;
  /** Printable name, used by output_fields keys and messages. */
  name: string;
}

export interface ResolvedField {
  info: FieldInfo;
  arg: string | undefined;
}

/** Finds a field by its written name; `evt.arg.flags` resolves to `evt.arg` with argument `flags`. */
export function resolveField(fields: ReadonlyMap<string, FieldInfo>, name: string, arg: string | undefined): ResolvedField | undefined {
  const exact = fields.get(name);
  if (exact) return { info: exact, arg };
  if (arg !== undefined) return undefined;
  for (let dot = name.lastIndexOf("."); dot > 0; dot = name.lastIndexOf(".", dot - 1)) {
    const info = fields.get(name.slice(0, dot));
    if (info?.dottedArg) return { info, arg: name.slice(dot + 1) };
  }
  return undefined;
}

export function compileField<E>(source: EventSource<E>, ref: FieldRef): CompiledOperand<E> {
  const resolved = resolveField(source.fields, ref.name, ref.arg);
  if (!resolved) throw new CompileError(`nonexistent field '${ref.name}' for source '${source.name}'`, ref.pos, true);
  const { info, arg } = resolved;
  const argKind = info.arg ?? "none";
  if (argKind === "none" && arg !== undefined) {
    throw new CompileError(`field '${info.name}' does not take an argument`, ref.pos);
  }
  if (argKind === "required" && (arg === undefined || arg === "")) {
    throw new CompileError(`field '${info.name}' requires an argument`, ref.pos);
  }
  if (argKind === "index" && arg !== undefined && !/^[0-9]+$/.test(arg)) {
    throw new CompileError(`field '${info.name}' takes a numeric index, not '${arg}'`, ref.pos);
  }
  const get = source.extractor(info.name, arg);
  if (!get) {
    if (arg !== undefined) throw new CompileError(`invalid argument '${arg}' for field '${info.name}'`, ref.pos);
    throw new CompileError(`nonexistent field '${ref.name}' for source '${source.name}'`, ref.pos, true);
  }
  const name = arg === undefined ? info.name : `${info.name}[${arg}]`;
  return {
    get,
    type: info.type,
    isList: info.isList === true && arg === undefined,
    multi: (info.ancestors === true || info.bothEnds === true) && arg === undefined,
    bothEnds: info.bothEnds === true,
    name: ref.arg === undefined && arg !== undefined ? ref.name : name,
  };
}

/** Compiles a field or a transformer; `val(x)` is the field itself, used on the right-hand side. */
export function compileOperand<E>(source: EventSource<E>, node: FieldRef | Transformer): CompiledOperand<E> {
  if (node.kind === "field") return compileField(source, node);
  return compileTransformer(source, node);
}

type ArgProducer<E> = { get: Extractor<E>; type: FieldType; isList: boolean; multi: boolean; constant?: ExtractedValue };

function compileArg<E>(source: EventSource<E>, a: TransformerArg): ArgProducer<E> {
  switch (a.kind) {
    case "field":
    case "transformer":
      return compileOperand(source, a);
    case "value": {
      const v = a.value;
      return { get: () => v, type: "string", isList: false, multi: false, constant: v };
    }
    case "tlist": {
      const items = a.items.map((i) => compileArg(source, i));
      const get: Extractor<E> = (e) => {
        const out: (string | number)[] = [];
        for (const it of items) {
          const v = it.get(e);
          if (v === undefined) continue;
          if (Array.isArray(v)) for (const x of v) out.push(x);
          else out.push(scalarToString(v as string | number | bigint | boolean));
        }
        return out;
      };
      return { get, type: "string", isList: true, multi: false };
    }
  }
}

function scalarToString(v: string | number | bigint | boolean): string {
  return typeof v === "string" ? v : String(v);
}

function mapStrings<E>(inner: ArgProducer<E>, fn: (s: string) => string | undefined): Extractor<E> {
  const get = inner.get;
  return (e) => {
    const v = get(e);
    if (v === undefined) return undefined;
    if (Array.isArray(v)) {
      const out: string[] = [];
      for (const x of v) {
        const r = fn(String(x));
        if (r !== undefined) out.push(r);
      }
      return out;
    }
    return fn(scalarToString(v as string | number | bigint | boolean));
  };
}

function decodeBase64(s: string): string | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 === 1) return undefined;
  return Buffer.from(s, "base64").toString("latin1");
}

function basename(s: string): string {
  const i = s.lastIndexOf("/");
  return i < 0 ? s : s.slice(i + 1);
}

/**
 * Syscall fields libsinsp flags EPF_NO_TRANSFORMER (sinsp_filtercheck_*.cpp): a transformer
 * over them fails to compile in Falco, so it does here.
 */
export const NO_TRANSFORMER_FIELDS: ReadonlySet<string> = new Set([
  "evt.rawarg", "evt.around", "fd.ip", "fd.port", "fd.proto", "fd.net", "fd.cnet", "fd.snet", "fd.lnet", "fd.rnet",
  "fd.cip.name", "fd.sip.name", "fd.lip.name", "fd.rip.name", "proc.aexe", "proc.aexepath", "proc.aname",
  "proc.acmdline", "proc.aenv", "proc.apid",
]);

function refuseTransformer<E>(source: EventSource<E>, t: Transformer): void {
  if (source.name !== "syscall" || t.name === "val" || t.args.length !== 1) return;
  const a = t.args[0]!;
  if (a.kind !== "field") return;
  const resolved = resolveField(source.fields, a.name, a.arg);
  if (resolved && NO_TRANSFORMER_FIELDS.has(resolved.info.name)) {
    // libsinsp's message (sinsp_filter_check::add_transformer)
    throw new CompileError(`field '${resolved.info.name}' does not support transformers`, a.pos);
  }
}

function compileTransformer<E>(source: EventSource<E>, t: Transformer): CompiledOperand<E> {
  refuseTransformer(source, t);
  const name = t.name;
  const args = t.args.map((a) => compileArg(source, a));
  const label = `${name}(${t.args.length === 1 && args[0] && "name" in args[0] ? (args[0] as CompiledOperand<E>).name : "..."})`;
  if (t.arg !== undefined && name !== "getopt" && name !== "val") {
    throw new CompileError(`transformer '${name}' does not take an argument`, t.pos);
  }
  const one = (): ArgProducer<E> => {
    if (args.length !== 1) throw new CompileError(`transformer '${name}' takes exactly one argument`, t.pos);
    return args[0]!;
  };
  switch (name) {
    case "val": {
      const a = one() as CompiledOperand<E>;
      return a;
    }
    case "tolower":
    case "toupper":
    case "b64":
    case "basename": {
      const a = one();
      if (a.type !== "string" && a.type !== "bytes") {
        throw new CompileError(`transformer '${name}' does not support fields of type '${a.type}'`, t.pos);
      }
      const fn =
        name === "tolower"
          ? (s: string) => s.toLowerCase()
          : name === "toupper"
            ? (s: string) => s.toUpperCase()
            : name === "b64"
              ? decodeBase64
              : basename;
      return { get: mapStrings(a, fn), type: "string", isList: a.isList, multi: a.multi, name: label };
    }
    case "len": {
      const a = one();
      if (a.type !== "string" && a.type !== "bytes" && !a.isList) {
        throw new CompileError(`transformer 'len' does not support fields of type '${a.type}'`, t.pos);
      }
      const get = a.get;
      if (a.isList) {
        return { get: (e) => {
          const v = get(e);
          return v === undefined ? undefined : Array.isArray(v) ? v.length : 1;
        }, type: "uint", isList: false, multi: false, name: label };
      }
      return { get: (e) => {
        const v = get(e);
        if (v === undefined) return undefined;
        if (Array.isArray(v)) return v.map((x) => String(x).length);
        return scalarToString(v as string).length;
      }, type: "uint", isList: false, multi: a.multi, name: label };
    }
    case "join": {
      if (args.length !== 2) throw new CompileError("transformer 'join' takes exactly 2 arguments: a separator and a list", t.pos);
      const [sep, list] = args as [ArgProducer<E>, ArgProducer<E>];
      if (sep.isList) throw new CompileError("join() separator must be a single value", t.pos);
      if (!list.isList) throw new CompileError("join() second argument must be a list", t.pos);
      return {
        get: (e) => {
          const s = sep.get(e);
          const l = list.get(e);
          if (s === undefined || l === undefined) return undefined;
          return (l as readonly (string | number)[]).map(String).join(scalarToString(s as string));
        },
        type: "string",
        isList: false,
        multi: false,
        name: "join(...)",
      };
    }
    case "concat": {
      if (args.length < 2) throw new CompileError("transformer 'concat' takes at least 2 arguments", t.pos);
      for (const a of args) if (a.isList) throw new CompileError("concat() arguments must be single values, not lists", t.pos);
      return {
        get: (e) => {
          let out = "";
          for (const a of args) {
            const v = a.get(e);
            if (v === undefined) return undefined;
            out += scalarToString(v as string);
          }
          return out;
        },
        type: "string",
        isList: false,
        multi: false,
        name: "concat(...)",
      };
    }
    case "getopt": {
      if (args.length !== 2) throw new CompileError("getopt() requires exactly 2 arguments: args list and optstring", t.pos);
      const [argv, optstring] = args as [ArgProducer<E>, ArgProducer<E>];
      if (!argv.isList) throw new CompileError("getopt() first argument must be a list", t.pos);
      if (optstring.isList) throw new CompileError("getopt() second argument (optstring) must be a single value", t.pos);
      if (t.arg !== undefined && t.arg.length !== 1) {
        throw new CompileError("getopt() field argument must be a single option character", t.pos);
      }
      const select = t.arg;
      return {
        get: (e) => {
          const a = argv.get(e);
          const o = optstring.get(e);
          if (a === undefined || o === undefined) return undefined;
          const parsed = getopt((a as readonly (string | number)[]).map(String), scalarToString(o as string));
          if (select === undefined) return parsed.flat;
          return parsed.byOption.get(select);
        },
        type: "string",
        isList: select === undefined,
        multi: false,
        name: `getopt(...)${select === undefined ? "" : `[${select}]`}`,
      };
    }
  }
}

/**
 * POSIX getopt(3) over an argument vector: scanning stops at the first non-option or at `--`.
 * Returns every option letter followed by its argument when it takes one ("?" for an unknown
 * option), and the argument (or the letter) of each option for `getopt(...)[x]`.
 */
export function getopt(argv: readonly string[], optstring: string): { flat: string[]; byOption: Map<string, string> } {
  const flat: string[] = [];
  const byOption = new Map<string, string>();
  const spec = optstring.startsWith(":") ? optstring.slice(1) : optstring;
  const takesArg = new Set<string>();
  const valid = new Set<string>();
  for (let i = 0; i < spec.length; i++) {
    const c = spec[i]!;
    if (c === ":") continue;
    valid.add(c);
    if (spec[i + 1] === ":") {
      takesArg.add(c);
      i++;
    }
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") break;
    if (a.length < 2 || a[0] !== "-") break;
    for (let j = 1; j < a.length; j++) {
      const c = a[j]!;
      if (!valid.has(c)) {
        flat.push("?");
        continue;
      }
      if (takesArg.has(c)) {
        let value: string | undefined;
        if (j + 1 < a.length) value = a.slice(j + 1);
        else if (i + 1 < argv.length) value = argv[++i];
        if (value === undefined) {
          // a missing option argument yields an empty value, as libsinsp's getopt() does
          flat.push("");
          break;
        }
        flat.push(c, value);
        byOption.set(c, value);
        break;
      }
      flat.push(c);
      byOption.set(c, c);
    }
  }
  return { flat, byOption };
}
