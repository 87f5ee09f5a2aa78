import Handlebars from "handlebars";
import { parsePriority, type Priority } from "../alert.js";
import { formatTime, parseTime } from "./dates.js";

/**
 * The one set of helpers every templated output shares (Slack, webhook bodies, S3 keys,
 * templated fields). Each entry declares its arity so a template that calls a helper
 * wrongly fails when it is compiled (at `config check`), not on the first alert.
 * docs/templates.md documents them; test/unit/templates.test.ts keeps both in step.
 */
export interface HelperSpec {
  /** Positional arguments (the hash `key=value` pairs are not counted). */
  minArgs: number;
  maxArgs: number;
  /** One line for the docs. */
  usage: string;
  fn: (args: unknown[], hash: Record<string, unknown>) => unknown;
}

const PRIORITY_COLORS: Record<Priority, string> = {
  Emergency: "#7b0000",
  Alert: "#b00020",
  Critical: "#e0182d",
  Error: "#f2600c",
  Warning: "#f2c200",
  Notice: "#2f80ed",
  Informational: "#27ae60",
  Debug: "#9e9e9e",
};

const PRIORITY_EMOJIS: Record<Priority, string> = {
  Emergency: ":rotating_light:",
  Alert: ":rotating_light:",
  Critical: ":red_circle:",
  Error: ":large_orange_circle:",
  Warning: ":warning:",
  Notice: ":large_blue_circle:",
  Informational: ":information_source:",
  Debug: ":mag:",
};

export function priorityColor(value: unknown): string {
  const p = typeof value === "string" ? parsePriority(value) : undefined;
  return p ? PRIORITY_COLORS[p] : PRIORITY_COLORS.Debug;
}

export function priorityEmoji(value: unknown): string {
  const p = typeof value === "string" ? parsePriority(value) : undefined;
  return p ? PRIORITY_EMOJIS[p] : PRIORITY_EMOJIS.Debug;
}

/** How a value reads as text in a template: like Handlebars, except objects render as JSON. */
export function toText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (value instanceof Handlebars.SafeString) return value.toString();
  if (Array.isArray(value)) return value.map(toText).join(",");
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function isEmpty(value: unknown): boolean {
  return value === null || value === undefined || value === "" || (Array.isArray(value) && value.length === 0);
}

/** Cuts to at most `max` UTF-16 units including the mark, never splitting a surrogate pair. */
export function truncateText(text: string, max: number, mark = "…"): string {
  if (text.length <= max) return text;
  let keep = Math.max(0, max - mark.length);
  const code = text.charCodeAt(keep - 1);
  if (code >= 0xd800 && code <= 0xdbff) keep--;
  return text.slice(0, keep) + mark;
}

export const HELPERS: Record<string, HelperSpec> = {
  json: {
    minArgs: 1,
    maxArgs: 1,
    usage: "`{{json value}}` — the value as a JSON literal (quotes included); `indent=2` pretty-prints.",
    fn: ([value], hash) => {
      const indent = typeof hash.indent === "number" ? hash.indent : undefined;
      return new Handlebars.SafeString(JSON.stringify(value === undefined ? null : value, null, indent) ?? "null");
    },
  },
  upper: {
    minArgs: 1,
    maxArgs: 1,
    usage: "`{{upper text}}` — upper case.",
    fn: ([v]) => toText(v).toUpperCase(),
  },
  lower: {
    minArgs: 1,
    maxArgs: 1,
    usage: "`{{lower text}}` — lower case.",
    fn: ([v]) => toText(v).toLowerCase(),
  },
  default: {
    minArgs: 2,
    maxArgs: 2,
    usage: '`{{default value "fallback"}}` — the value, or the fallback when it is missing, null, empty or `[]`.',
    fn: ([v, fallback]) => (isEmpty(v) ? fallback : v),
  },
  truncate: {
    minArgs: 2,
    maxArgs: 3,
    usage: '`{{truncate text 80}}` or `{{truncate text 80 " [cut]"}}` — at most that many characters, the mark (default `…`) included.',
    fn: ([v, max, mark]) => truncateText(toText(v), Math.max(0, Math.floor(Number(max) || 0)), mark === undefined ? "…" : toText(mark)),
  },
  join: {
    minArgs: 1,
    maxArgs: 2,
    usage: '`{{join tags ", "}}` — a list joined by the separator (default `, `).',
    fn: ([list, sep]) => (Array.isArray(list) ? list.map(toText).join(sep === undefined ? ", " : toText(sep)) : toText(list)),
  },
  date: {
    minArgs: 1,
    maxArgs: 2,
    usage:
      '`{{date time "YYYY-MM-DD HH:mm:ss"}}` — a time in UTC: `iso` (default, keeps nanoseconds), `unix`, `unix_ms`, or a pattern of YYYY MM DD HH mm ss S…S.',
    fn: ([v, format]) => {
      const t = parseTime(v);
      return t ? formatTime(t, format === undefined ? "iso" : toText(format)) : toText(v);
    },
  },
  priority_color: {
    minArgs: 1,
    maxArgs: 1,
    usage: '`{{priority_color priority}}` — a hex colour for the priority; `format="int"` gives it as a number (Discord).',
    fn: ([v], hash) => (hash.format === "int" ? Number.parseInt(priorityColor(v).slice(1), 16) : priorityColor(v)),
  },
  priority_emoji: {
    minArgs: 1,
    maxArgs: 1,
    usage: "`{{priority_emoji priority}}` — a Slack emoji code for the priority (`:rotating_light:`, `:warning:`, …).",
    fn: ([v]) => priorityEmoji(v),
  },
  index: {
    minArgs: 2,
    maxArgs: 2,
    usage: '`{{index output_fields "k8s.ns.name"}}` — the entry of a map whose key contains dots (own keys only), or of a list by position.',
    fn: ([obj, key]) => {
      if (obj === null || typeof obj !== "object") return undefined;
      const k = typeof key === "number" ? key : toText(key);
      return Object.prototype.hasOwnProperty.call(obj, k) ? (obj as Record<string | number, unknown>)[k] : undefined;
    },
  },
  or: {
    minArgs: 2,
    maxArgs: 16,
    usage: "`{{or a b c}}` — the first argument that is not empty/false, else the last.",
    fn: (args) => args.find((a) => !isEmpty(a) && a !== false) ?? args[args.length - 1],
  },
  and: {
    minArgs: 2,
    maxArgs: 16,
    usage: "`{{#if (and a b)}}` — true when every argument is non-empty and not false.",
    fn: (args) => args.every((a) => !isEmpty(a) && a !== false),
  },
  eq: {
    minArgs: 2,
    maxArgs: 2,
    usage: '`{{#if (eq priority "Critical")}}` — equality (numbers and their text compare equal).',
    fn: ([a, b]) => a === b || (a !== null && b !== null && typeof a !== "object" && typeof b !== "object" && String(a) === String(b)),
  },
  not: {
    minArgs: 1,
    maxArgs: 1,
    usage: "`{{#if (not muted)}}` — true when the argument is empty or false.",
    fn: ([a]) => isEmpty(a) || a === false,
  },
};

/** Handlebars' own helpers a template may use, with their arity (log is left out: it writes to the console). */
export const BUILTIN_BLOCK_HELPERS: Record<string, { minArgs: number; maxArgs: number }> = {
  if: { minArgs: 1, maxArgs: 1 },
  unless: { minArgs: 1, maxArgs: 1 },
  each: { minArgs: 1, maxArgs: 1 },
  with: { minArgs: 1, maxArgs: 1 },
};
export const BUILTIN_LOOKUP = { minArgs: 2, maxArgs: 2 };

/** Adapts a spec to Handlebars' calling convention (positional args, then the options object). */
export function toHandlebarsHelper(spec: HelperSpec): Handlebars.HelperDelegate {
  return function (this: unknown, ...args: unknown[]) {
    const options = args.pop() as Handlebars.HelperOptions;
    return spec.fn(args, options.hash ?? {});
  };
}
