/**
 * A loaded ruleset: compiled rules per source, indexed by event type so an event meets only
 * the rules that can match it. Evaluation allocates nothing unless a rule matches.
 */
import { meetsMinimum, type Alert, type FieldValue, type Priority } from "../alert.js";
import type { EventSource, Extractor } from "./event.js";
import type { Expr } from "./condition/ast.js";
import { fieldValuesOf, type TypeSet } from "./compiler/evttypes.js";
import type { Predicate } from "./compiler/compile.js";
import type { CompiledOutput } from "./output/format.js";
import { clockTime, iso8601Time, readTime, timeNs, TIME_FIELDS } from "./output/time.js";

/** A Falco JSON alert as the detector emits it (the router assigns the uuid). */
export type DetectorAlert = Omit<Alert, "uuid">;

export interface ExtraField<E> {
  key: string;
  get: (event: E) => FieldValue;
}

export interface CompiledRule<E = never> {
  name: string;
  description: string;
  priority: Priority;
  tags: readonly string[];
  source: string;
  /** Enabled after rule selection; disabled rules are kept (for listings) but never evaluated. */
  enabled: boolean;
  /** The final condition text (exceptions included), as compiled. */
  condition: string;
  /** The condition's AST with lists expanded and macros resolved: what was compiled. */
  ast: Expr;
  /** Event types the condition can match. */
  eventTypes: TypeSet;
  match: Predicate<E>;
  output: CompiledOutput<E>;
  extraFields: readonly ExtraField<E>[];
}

export interface RulesetOptions {
  hostname: string;
  /** `first` (Falco's default): stop at the first matching rule per event; `all`: every match. */
  ruleMatching: "first" | "all";
  minimumPriority?: Priority;
  /**
   * falco.yaml's time_format_iso_8601: the output's time prefix is `%evt.time.iso8601` instead
   * of `%evt.time` (Falco's default, the local clock time).
   */
  timeFormatIso8601?: boolean;
}

/** The event types a source's rules can match; `all` when some rule matches every event type. */
export interface EventTypeInterest {
  all: boolean;
  types: ReadonlySet<string>;
}

/**
 * One source's enabled rules. Stored erased (`E = never`, which every source's index is
 * assignable to); `indexes` gives it back its event type for the very source it was built from.
 */
interface SourceIndex<E = never> {
  source: EventSource<E>;
  byType: Map<string, CompiledRule<E>[]>;
  /** Rules for events whose type is not indexed (or sources without types). */
  other: CompiledRule<E>[];
  interest: EventTypeInterest;
  /** The source's indexFields: their extractors and, per rule, the values it can match. */
  keyed?: KeyedIndex<E>;
}

interface KeyedIndex<E = never> {
  extractors: Extractor<E>[];
  values: Map<CompiledRule<E>, TypeSet[]>;
  /** Rules per (event type, index values), filled as events arrive; bounded. */
  cache: Map<string, CompiledRule<E>[]>;
}

/** The index was built from this source object, so its rules and extractors take its events. */
function indexes<E>(idx: SourceIndex, source: EventSource<E>): idx is SourceIndex<E> {
  return idx.source === source;
}

/** Distinct (type, values) keys remembered per source; beyond it the cache starts over. */
const KEYED_CACHE_MAX = 4096;

function allows(s: TypeSet, value: string): boolean {
  return s.neg ? !s.set.has(value) : s.set.has(value);
}

export class Ruleset {
  private readonly index = new Map<string, SourceIndex>();

  constructor(
    /** Every compiled rule in load order, enabled or not. */
    readonly rules: readonly CompiledRule[],
    private readonly sources: ReadonlyMap<string, EventSource<never>>,
    private readonly options: RulesetOptions,
  ) {
    this.rebuild();
  }

  /** Rebuilds the per-type index after enabling/disabling rules. */
  rebuild(): void {
    this.index.clear();
    for (const [name, source] of this.sources) {
      const active = this.rules.filter(
        (r) => r.source === name && r.enabled && (!this.options.minimumPriority || meetsMinimum(r.priority, this.options.minimumPriority)),
      );
      const byType = new Map<string, CompiledRule[]>();
      const other: CompiledRule[] = [];
      const types = new Set<string>();
      let all = false;
      for (const r of active) {
        if (r.eventTypes.neg) {
          all = true;
          other.push(r);
        } else {
          for (const t of r.eventTypes.set) {
            types.add(t);
            byType.set(t, []);
          }
        }
      }
      // keep load order inside every bucket; a negated set joins every bucket except its exclusions
      for (const [t, bucket] of byType) {
        for (const r of active) {
          if (r.eventTypes.neg ? !r.eventTypes.set.has(t) : r.eventTypes.set.has(t)) bucket.push(r);
        }
      }
      let keyed: KeyedIndex | undefined;
      if (source.indexFields && source.indexFields.length > 0) {
        const fields = source.indexFields;
        const extractors = fields.map((f) => source.extractor(f, undefined));
        if (extractors.every((x) => x !== undefined)) {
          keyed = { extractors, values: new Map(active.map((r) => [r, fields.map((f) => fieldValuesOf(r.ast, f))])), cache: new Map() };
        }
      }
      this.index.set(name, { source, byType, other, interest: { all, types }, ...(keyed ? { keyed } : {}) });
    }
  }

  /** Event types the loaded, enabled rules of `source` can match (the sensor's interest set). */
  eventTypes(source: string): EventTypeInterest {
    return this.index.get(source)?.interest ?? { all: false, types: new Set() };
  }

  /** Rules that an event of `source` and `type` meets, in load order. */
  rulesFor(source: string, type: string | undefined): readonly CompiledRule[] {
    const idx = this.index.get(source);
    if (!idx) return [];
    return (type !== undefined && idx.byType.get(type)) || idx.other;
  }

  /** The rules one event meets (by its type and the source's index fields), in load order. */
  rulesForEvent<E>(source: EventSource<E>, event: E): readonly CompiledRule<E>[] {
    const idx = this.index.get(source.name);
    if (!idx) return [];
    if (!indexes(idx, source)) {
      throw new Error(`source '${source.name}' is not the source object these rules were compiled for`);
    }
    const type = source.eventType(event);
    const rules = (type !== undefined && idx.byType.get(type)) || idx.other;
    return idx.keyed ? keyedRules(idx.keyed, rules, type, event) : rules;
  }

  /**
   * Evaluates one event from `source` (the same source object the rules were loaded with).
   * Returns the alerts of the matching rules (at most one with rule_matching: first); the
   * empty result is a shared frozen array, so nothing is allocated for a non-matching event.
   * `time` overrides the source's event time (RFC 3339).
   */
  evaluate<E>(source: EventSource<E>, event: E, time?: string): readonly DetectorAlert[] {
    const rules = this.rulesForEvent(source, event);
    let out: DetectorAlert[] | undefined;
    for (let i = 0; i < rules.length; i++) {
      const r = rules[i]!;
      if (!r.match(event)) continue;
      (out ??= []).push(this.alert(r, source, event, time));
      if (this.options.ruleMatching === "first") break;
    }
    return out ?? NO_ALERTS;
  }

  private alert<E>(r: CompiledRule<E>, source: EventSource<E>, event: E, time: string | undefined): DetectorAlert {
    const t = time ?? (source as { eventTime?: (e: E) => string | undefined }).eventTime?.(event) ?? new Date().toISOString();
    const clock = readTime(t);
    const output_fields: Record<string, FieldValue> = {};
    r.output.fields(event, output_fields);
    // as Falco (formats.cpp): the prefix's field joins output_fields after the message's, and
    // its time fields are the event time in nanoseconds
    const iso = this.options.timeFormatIso8601 === true;
    if (clock) {
      const ns = timeNs(clock);
      for (const k of TIME_FIELDS) if (k in output_fields) output_fields[k] = ns;
      output_fields[iso ? "evt.time.iso8601" : "evt.time"] = ns;
    }
    for (const x of r.extraFields) output_fields[x.key] = x.get(event);
    const prefix = clock ? (iso ? iso8601Time(clock) : clockTime(clock)) : t;
    return {
      time: t,
      priority: r.priority,
      rule: r.name,
      // Falco's output line: "<time>: <Priority> <rule output>"
      output: `${prefix}: ${r.priority} ${r.output.text(event)}`,
      output_fields,
      source: r.source,
      // Falco keeps a rule's tags in a std::set: sorted, each once
      tags: [...new Set(r.tags)].sort(),
      hostname: this.options.hostname,
    };
  }
}

const NO_ALERTS: readonly DetectorAlert[] = Object.freeze([]);

/** The rules of `rules` whose conditions can hold for the event's values of the index fields. */
function keyedRules<E>(k: KeyedIndex<E>, rules: CompiledRule<E>[], type: string | undefined, event: E): CompiledRule<E>[] {
  let key = type ?? "";
  const values: string[] = [];
  for (const x of k.extractors) {
    const v = x(event);
    // no text value: the analysis says nothing about it, every rule is a candidate
    if (typeof v !== "string") return rules;
    values.push(v);
    key += "\u0000" + v;
  }
  let hit = k.cache.get(key);
  if (hit) return hit;
  hit = rules.filter((r) => {
    const sets = k.values.get(r);
    return !sets || sets.every((s, i) => allows(s, values[i]!));
  });
  if (k.cache.size >= KEYED_CACHE_MAX) k.cache.clear();
  k.cache.set(key, hit);
  return hit;
}
