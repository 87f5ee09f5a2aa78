/**
 * The `replay` event source: one JSON object per line,
 *   {"source": "syscall", "time": "<RFC 3339>", "fields": {"evt.type": "openat", "proc.name": "cat", ...}}
 * Keys are Falco field names with their argument where the field takes one (`proc.aname[2]`,
 * `evt.arg.flags` or `evt.arg[flags]`). An ancestor field without an index (`proc.aname`,
 * `proc.apid`, ...) may be an array, parent first; it then also answers the indexed forms
 * (`[1]` is the parent, `[0]` the process itself) and `proc.pname` & co. when those are absent.
 * See docs/replay-format.md.
 */
import { isRfc3339 } from "../../alert.js";
import type { EventSource, EventTypeCatalog, ExtractedValue, Extractor, FieldInfo } from "../event.js";
import { FALCO_EXIT_PARAMS, positionalArg } from "../fields/falco-params.js";
import { SYSCALL_EVENT_TYPES, SYSCALL_FIELDS } from "../fields/syscall.js";
import { PeregrineError } from "../../errors.js";

export type ReplayValue = string | number | boolean | (string | number)[];

export interface ReplayEvent {
  source: string;
  time: string;
  fields: Record<string, ReplayValue>;
  /**
   * The same values by slot number (see slotOf): extractors resolve a key to its slot once, at
   * compile time, so evaluation reads an array element instead of a dictionary property.
   */
  slots: (ReplayValue | undefined)[];
}

const SLOTS = new Map<string, number>();

/** The process-wide slot number of a replay field key (`fd.name`, `proc.aname[2]`, ...). */
export function slotOf(key: string): number {
  let i = SLOTS.get(key);
  if (i === undefined) {
    i = SLOTS.size;
    SLOTS.set(key, i);
  }
  return i;
}

const EVT_TYPE_SLOT = slotOf("evt.type");

/**
 * Builds a ReplayEvent from already-typed fields (the slots are derived from `fields`); keys
 * taking an argument use the bracket spelling (`evt.arg[flags]`, as normalizeReplayEvent stores).
 */
export function replayEvent(source: string, time: string, fields: Record<string, ReplayValue>): ReplayEvent {
  for (const key of Object.keys(fields)) slotOf(key);
  // every event gets an array as long as the registry, packed with undefined: element loads stay
  // in bounds and of one elements kind, so V8 keeps them on its fast path
  const slots: (ReplayValue | undefined)[] = new Array<ReplayValue | undefined>(SLOTS.size).fill(undefined);
  for (const key of Object.keys(fields)) slots[SLOTS.get(key)!] = fields[key];
  return { source, time, fields, slots };
}

/** A line of an events file that is not a valid event; names the line and, when known, the field. */
export class ReplayFormatError extends PeregrineError {
  constructor(
    message: string,
    readonly line: number,
    field?: string,
  ) {
    super("RULES_EVENTS_INVALID", message, field === undefined ? {} : { field });
    this.name = "ReplayFormatError";
  }
}

const NUMERIC = new Set(["int", "uint", "port", "abstime", "reltime"]);

/** The process field each ancestor field stands for at index 0, and its parent shortcut. */
const ANCESTOR_SELF: Record<string, [self: string, parent: string | undefined]> = {
  "proc.aname": ["proc.name", "proc.pname"],
  "proc.aexe": ["proc.exe", "proc.pexe"],
  "proc.aexepath": ["proc.exepath", "proc.pexepath"],
  "proc.apid": ["proc.pid", "proc.ppid"],
};
const PARENT_OF: Record<string, string> = {
  "proc.pname": "proc.aname",
  "proc.pexe": "proc.aexe",
  "proc.pexepath": "proc.aexepath",
  "proc.ppid": "proc.apid",
};

function fieldFor(fields: ReadonlyMap<string, FieldInfo>, key: string): FieldInfo | undefined {
  const bracket = key.indexOf("[");
  const base = bracket < 0 ? key : key.slice(0, bracket);
  const exact = fields.get(base);
  if (exact) return exact;
  for (let dot = base.lastIndexOf("."); dot > 0; dot = base.lastIndexOf(".", dot - 1)) {
    const info = fields.get(base.slice(0, dot));
    if (info?.dottedArg) return info;
  }
  return undefined;
}

/** Validates one parsed line against the field registry and converts values to their types. */
export function normalizeReplayEvent(
  raw: unknown,
  line: number,
  fields: ReadonlyMap<string, FieldInfo> = SYSCALL_FIELDS,
  strictFields = true,
  onlySource?: string,
): ReplayEvent {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new ReplayFormatError("an event must be a JSON object", line);
  const o = raw as Record<string, unknown>;
  const source = o.source === undefined ? "syscall" : o.source;
  if (typeof source !== "string" || source === "") throw new ReplayFormatError("'source' must be a non-empty string", line, "source");
  // checked before the fields, which would otherwise fail as unknown syscall fields (or the
  // event would be skipped without a word)
  if (onlySource !== undefined && source !== onlySource) {
    throw new ReplayFormatError(`source '${source}' cannot be replayed here: only '${onlySource}' events can`, line, "source");
  }
  const time = o.time === undefined ? new Date(0).toISOString() : o.time;
  if (typeof time !== "string" || !isRfc3339(time)) throw new ReplayFormatError("'time' must be an RFC 3339 timestamp", line, "time");
  if (!o.fields || typeof o.fields !== "object" || Array.isArray(o.fields)) {
    throw new ReplayFormatError("'fields' must be an object of Falco field names to values", line, "fields");
  }
  const out: Record<string, ReplayValue> = {};
  for (const [key, value] of Object.entries(o.fields as Record<string, unknown>)) {
    const info = fieldFor(fields, key);
    if (!info) {
      if (strictFields) throw new ReplayFormatError(`unknown field '${key}'`, line, key);
      if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") out[key] = value;
      continue;
    }
    // one spelling per argument: evt.arg.flags is stored as evt.arg[flags]
    const canonical = !key.includes("[") && key !== info.name ? `${info.name}[${key.slice(info.name.length + 1)}]` : key;
    out[canonical] = convert(info, key, value, line);
  }
  return replayEvent(source, time, out);
}

const INTERNED = new Map<string, string>();
const INTERN_MAX = 1 << 16;

/**
 * Short, repeated values (event types, process names, paths) share one string object, so many
 * events keep few distinct strings in cache; comparisons then mostly hit memory already loaded.
 */
function intern(s: string): string {
  if (s.length > 64) return s;
  const known = INTERNED.get(s);
  if (known !== undefined) return known;
  if (INTERNED.size < INTERN_MAX) INTERNED.set(s, s);
  return s;
}

function convert(info: FieldInfo, key: string, value: unknown, line: number): ReplayValue {
  const many = Array.isArray(value);
  if (many && !(info.isList || info.ancestors || info.bothEnds)) throw new ReplayFormatError(`field '${key}' takes a single value, not an array`, line, key);
  const one = (v: unknown): string | number | boolean => {
    if (NUMERIC.has(info.type)) {
      const n = typeof v === "number" ? v : typeof v === "string" && v.trim() !== "" ? Number(v) : NaN;
      if (!Number.isFinite(n)) throw new ReplayFormatError(`field '${key}' must be a number`, line, key);
      return n;
    }
    if (info.type === "bool") {
      if (typeof v === "boolean") return v;
      if (v === "true" || v === "false") return v === "true";
      throw new ReplayFormatError(`field '${key}' must be true or false`, line, key);
    }
    if (typeof v === "string") return intern(v);
    // evt.rawarg keeps a number a number: it compares as one, as in libsinsp
    if (typeof v === "number" && info.name === "evt.rawarg") return v;
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    throw new ReplayFormatError(`field '${key}' must be a string`, line, key);
  };
  if (many) return (value as unknown[]).map((v) => one(v) as string | number);
  return one(value);
}

/** Parses a whole JSONL text; errors name the line. With `onlySource`, other sources are errors. */
export function parseReplay(text: string, fields: ReadonlyMap<string, FieldInfo> = SYSCALL_FIELDS, onlySource?: string): ReplayEvent[] {
  const events: ReplayEvent[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    let raw: unknown;
    try {
      raw = JSON.parse(line);
    } catch (err) {
      throw new ReplayFormatError(`not valid JSON: ${(err as Error).message}`, i + 1);
    }
    events.push(normalizeReplayEvent(raw, i + 1, fields, true, onlySource));
  }
  return events;
}

export interface ReplaySource extends EventSource<ReplayEvent>, EventTypeCatalog {
  eventTime(event: ReplayEvent): string;
}

/** A source answering the syscall registry (or another) from replayed events. */
export function replaySource(
  name = "syscall",
  fields: ReadonlyMap<string, FieldInfo> = SYSCALL_FIELDS,
  eventTypes: ReadonlySet<string> = SYSCALL_EVENT_TYPES,
): ReplaySource {
  return {
    name,
    fields,
    eventTypes,
    eventType: (e) => {
      const t = e.slots[EVT_TYPE_SLOT];
      return typeof t === "string" ? t : undefined;
    },
    eventTime: (e) => e.time,
    extractor(field: string, arg: string | undefined): Extractor<ReplayEvent> | undefined {
      const info = fields.get(field);
      if (!info) return undefined;
      if (field === "evt.time") {
        const slot = slotOf(field);
        return (e) => e.slots[slot] ?? e.time;
      }
      if (field === "evt.source") {
        const slot = slotOf(field);
        return (e) => e.slots[slot] ?? e.source;
      }
      if (arg === undefined) {
        const slot = slotOf(field);
        const parentOf = PARENT_OF[field];
        if (parentOf) {
          const ancestors = slotOf(parentOf);
          return (e) => {
            const v = e.slots[slot];
            if (v !== undefined) return v;
            const a = e.slots[ancestors];
            return Array.isArray(a) ? a[0] : undefined;
          };
        }
        return (e) => e.slots[slot];
      }
      const bracket = slotOf(`${field}[${arg}]`);
      const anc = ANCESTOR_SELF[field];
      if (anc) {
        const index = Number(arg);
        const self = slotOf(anc[0]);
        const parent = anc[1] === undefined ? -1 : slotOf(anc[1]);
        const all = slotOf(field);
        return (e): ExtractedValue | undefined => {
          const direct = e.slots[bracket];
          if (direct !== undefined) return direct;
          if (index === 0) return e.slots[self];
          const a = e.slots[all];
          if (Array.isArray(a)) return a[index - 1];
          if (index === 1 && parent >= 0) return e.slots[parent];
          return undefined;
        };
      }
      if ((field === "evt.arg" || field === "evt.rawarg") && /^[0-9]+$/.test(arg)) {
        // positional, as in libsinsp: the N-th parameter of the event type's exit event
        const index = Number(arg);
        const byType = new Map<string, number>();
        for (const type of Object.keys(FALCO_EXIT_PARAMS)) {
          const name = positionalArg(type, index);
          if (name !== undefined) byType.set(type, slotOf(`${field}[${name}]`));
        }
        const res = slotOf(index === 0 ? (field === "evt.arg" ? "evt.res" : "evt.rawres") : `${field}[res]`);
        return (e) => {
          const direct = e.slots[bracket];
          if (direct !== undefined) return direct;
          const t = e.slots[EVT_TYPE_SLOT];
          const slot = typeof t === "string" ? byType.get(t) : undefined;
          const v = slot === undefined ? undefined : e.slots[slot];
          return v !== undefined || index !== 0 ? v : e.slots[res];
        };
      }
      return (e) => e.slots[bracket];
    },
  };
}
