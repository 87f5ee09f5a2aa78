/**
 * A loaded ruleset: compiled rules per source, indexed by event type so an event meets only
 * the rules that can match it. Evaluation allocates nothing unless a rule matches.
 */
import { meetsMinimum, type Alert, type FieldValue, type Priority } from "../alert.js";
import type { EventSource } from "./event.js";
import type { Expr } from "./condition/ast.js";
import type { TypeSet } from "./compiler/evttypes.js";
import type { Predicate } from "./compiler/compile.js";
import type { CompiledOutput } from "./output/format.js";

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
}

/** The event types a source's rules can match; `all` when some rule matches every event type. */
export interface EventTypeInterest {
  all: boolean;
  types: ReadonlySet<string>;
}

interface SourceIndex {
  source: EventSource<never>;
  byType: Map<string, CompiledRule[]>;
  /** Rules for events whose type is not indexed (or sources without types). */
  other: CompiledRule[];
  interest: EventTypeInterest;
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
      this.index.set(name, { source, byType, other, interest: { all, types } });
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

  /**
   * Evaluates one event from `source` (the same source object the rules were loaded with).
   * Returns the alerts of the matching rules (at most one with rule_matching: first); the
   * empty result is a shared frozen array, so nothing is allocated for a non-matching event.
   * `time` overrides the source's event time (RFC 3339).
   */
  evaluate<E>(source: EventSource<E>, event: E, time?: string): readonly DetectorAlert[] {
    const idx = this.index.get(source.name);
    if (!idx) return [];
    if (idx.source !== (source as unknown as EventSource<never>)) {
      throw new Error(`source '${source.name}' is not the source object these rules were compiled for`);
    }
    const type = source.eventType(event);
    const rules = ((type !== undefined && idx.byType.get(type)) || idx.other) as unknown as CompiledRule<E>[];
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
    // Falco puts its output prefix's fields in output_fields too; our prefix is the ISO 8601 time
    const output_fields: Record<string, FieldValue> = { "evt.time.iso8601": t };
    r.output.fields(event, output_fields);
    for (const x of r.extraFields) output_fields[x.key] = x.get(event);
    return {
      time: t,
      priority: r.priority,
      rule: r.name,
      // Falco's output line: "<time>: <Priority> <rule output>"
      output: `${t}: ${r.priority} ${r.output.text(event)}`,
      output_fields,
      source: r.source,
      tags: [...r.tags],
      hostname: this.options.hostname,
    };
  }
}

const NO_ALERTS: readonly DetectorAlert[] = Object.freeze([]);
