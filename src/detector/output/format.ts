/**
 * Output formatting: a rule's `output` string with `%field`, `%field[arg]` and
 * `%transformer(field)` tokens, compiled once into literal pieces and extractors. Rendering
 * yields Falco's text (`<NA>` for missing values) and typed `output_fields` (null for missing).
 */
import type { FieldValue } from "../../alert.js";
import type { EventSource, ExtractedValue, Extractor } from "../event.js";
import { parseCondition } from "../condition/parser.js";
import { CompileError, compileOperand, resolveField } from "../compiler/operand.js";
import { PeregrineError } from "../../errors.js";

export class OutputError extends PeregrineError {
  constructor(
    message: string,
    /** 0-based offset of the bad token in the format string. */
    readonly offset: number,
    readonly unknown: boolean,
  ) {
    super("DETECTOR_RULES_INVALID", message);
    this.name = "OutputError";
  }
}

interface Piece<E> {
  literal: string;
  key?: string;
  get?: Extractor<E>;
  /** `%20proc.name`: the value cut or padded with spaces to this many characters, as libsinsp does. */
  width?: number;
}

export interface CompiledOutput<E> {
  /** The output text for an event. */
  text(event: E): string;
  /** Every field the format names, with typed values (null when missing). */
  fields(event: E, into: Record<string, FieldValue>): void;
  /** The field keys the format references, in order. */
  readonly keys: readonly string[];
}

const FIELD_TOKEN = /[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z0-9_]+)+(\[[^\]]*\])?/y;
const TRANSFORMER_TOKEN = /(tolower|toupper|b64|basename|len|join|concat|getopt|val)\(/y;

export function renderValue(v: ExtractedValue | undefined): string {
  if (v === undefined) return "<NA>";
  if (Array.isArray(v)) return `(${v.join(",")})`;
  return String(v);
}

export function typedValue(v: ExtractedValue | undefined): FieldValue {
  if (v === undefined) return null;
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (Array.isArray(v)) return v.map((x) => x);
  return v as FieldValue;
}

/** Compiles an output format for a source; throws OutputError naming the bad token. */
export function compileOutput<E>(format: string, source: EventSource<E>): CompiledOutput<E> {
  const pieces: Piece<E>[] = [];
  let literal = "";
  // a leading '*' is libsinsp's "print <NA> for missing values" flag, which Falco always sets:
  // it is never printed
  let i = format.startsWith("*") ? 1 : 0;
  while (i < format.length) {
    const c = format[i]!;
    if (c !== "%") {
      literal += c;
      i++;
      continue;
    }
    if (format[i + 1] === "%") {
      literal += "%";
      i += 2;
      continue;
    }
    // `%20proc.name`: a width before the field (libsinsp's token length)
    const digits = /^[0-9]*/.exec(format.slice(i + 1, i + 12))![0];
    const width = digits === "" ? undefined : Number(digits);
    const start = i + 1 + digits.length;
    let tokenText: string | undefined;
    TRANSFORMER_TOKEN.lastIndex = start;
    if (TRANSFORMER_TOKEN.test(format)) {
      let depth = 0;
      let j = start;
      for (; j < format.length; j++) {
        if (format[j] === "(") depth++;
        else if (format[j] === ")" && --depth === 0) break;
      }
      j++;
      if (format[j] === "[") {
        const close = format.indexOf("]", j);
        if (close > 0) j = close + 1;
      }
      tokenText = format.slice(start, j);
    } else {
      FIELD_TOKEN.lastIndex = start;
      const m = FIELD_TOKEN.exec(format);
      if (m) tokenText = m[0];
    }
    if (!tokenText) throw new OutputError(`invalid formatting token at '${format.slice(i, i + 20)}'`, i, false);
    const parsed = parseCondition(`${tokenText} exists`);
    if (!parsed.ok || parsed.ast.kind !== "unary") {
      throw new OutputError(`invalid formatting token %${tokenText}`, i, false);
    }
    let get: Extractor<E>;
    try {
      get = compileOperand(source, parsed.ast.left).get;
    } catch (err) {
      if (err instanceof CompileError) throw new OutputError(`invalid formatting token %${tokenText}: ${err.message}`, i, err.unknown);
      throw err;
    }
    const left = parsed.ast.left;
    const info = left.kind === "field" ? resolveField(source.fields, left.name, left.arg) : undefined;
    if (info && info.info.ancestors && info.arg === undefined && info.info.type === "string") {
      // libsinsp prints an ancestor field without an index as one text: every ancestor,
      // parent first, separated by spaces (proc.aname: "bash sshd systemd")
      const all = get;
      get = (e) => {
        const v = all(e);
        return Array.isArray(v) ? (v.length > 0 ? v.join(" ") : undefined) : v;
      };
    }
    pieces.push({ literal, key: tokenText, get, ...(width !== undefined && width > 0 ? { width } : {}) });
    literal = "";
    i = start + tokenText.length;
  }
  if (literal) pieces.push({ literal });

  const fieldPieces = pieces.filter((p) => p.get) as Required<Piece<E>>[];
  const keys = [...new Set(fieldPieces.map((p) => p.key))];
  return {
    keys,
    text(event: E): string {
      let out = "";
      for (let k = 0; k < pieces.length; k++) {
        const p = pieces[k]!;
        out += p.literal;
        if (p.get) {
          const text = renderValue(p.get(event));
          out += p.width === undefined ? text : text.length >= p.width ? text.slice(0, p.width) : text.padEnd(p.width, " ");
        }
      }
      return out;
    },
    fields(event: E, into: Record<string, FieldValue>): void {
      for (let k = 0; k < fieldPieces.length; k++) {
        const p = fieldPieces[k]!;
        into[p.key] = typedValue(p.get(event));
      }
    },
  };
}
