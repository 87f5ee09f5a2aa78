/**
 * Event-type analysis of a resolved condition: the set of event types for which the condition
 * can be true. Every node gets two sets — where it may be true (T) and where its negation may
 * be true (F) — so `not` just swaps them: `and` intersects T and unites F, `or` the reverse.
 * A check that is not about evt.type may be true or false for any type.
 */
import type { Expr } from "../condition/ast.js";

/** Either exactly `set` (neg=false) or every event type except `set` (neg=true). */
export interface TypeSet {
  neg: boolean;
  set: ReadonlySet<string>;
}

const ALL: TypeSet = { neg: true, set: new Set() };
const NONE: TypeSet = { neg: false, set: new Set() };

function intersect(a: TypeSet, b: TypeSet): TypeSet {
  if (!a.neg && !b.neg) return { neg: false, set: new Set([...a.set].filter((x) => b.set.has(x))) };
  if (a.neg && b.neg) return { neg: true, set: new Set([...a.set, ...b.set]) };
  const [pos, neg] = a.neg ? [b, a] : [a, b];
  return { neg: false, set: new Set([...pos.set].filter((x) => !neg.set.has(x))) };
}

function unite(a: TypeSet, b: TypeSet): TypeSet {
  if (!a.neg && !b.neg) return { neg: false, set: new Set([...a.set, ...b.set]) };
  if (a.neg && b.neg) return { neg: true, set: new Set([...a.set].filter((x) => b.set.has(x))) };
  const [pos, neg] = a.neg ? [b, a] : [a, b];
  return { neg: true, set: new Set([...neg.set].filter((x) => !pos.set.has(x))) };
}

function analyze(e: Expr, field = "evt.type"): { t: TypeSet; f: TypeSet } {
  switch (e.kind) {
    case "and": {
      let t = ALL;
      let f = NONE;
      for (const c of e.children) {
        const r = analyze(c, field);
        t = intersect(t, r.t);
        f = unite(f, r.f);
      }
      return { t, f };
    }
    case "or": {
      let t = NONE;
      let f = ALL;
      for (const c of e.children) {
        const r = analyze(c, field);
        t = unite(t, r.t);
        f = intersect(f, r.f);
      }
      return { t, f };
    }
    case "not": {
      const r = analyze(e.child, field);
      return { t: r.f, f: r.t };
    }
    case "binary": {
      if (e.left.kind !== "field" || e.left.name !== field || e.left.arg !== undefined || e.modifier) break;
      const values =
        e.right.kind === "value"
          ? [e.right.value]
          : e.right.kind === "list"
            ? e.right.items.length === 0 && e.right.name !== undefined
              ? [e.right.name]
              : e.right.items.map((v) => v.value)
            : undefined;
      if (!values) break;
      const set = new Set(values);
      if (e.op === "=" || e.op === "==" || e.op === "in" || e.op === "intersects") {
        return { t: { neg: false, set }, f: { neg: true, set } };
      }
      if (e.op === "!=") return { t: { neg: true, set }, f: { neg: false, set } };
      break;
    }
    default:
      break;
  }
  return { t: ALL, f: ALL };
}

/** The event types for which `e` can be true. */
export function eventTypesOf(e: Expr): TypeSet {
  return analyze(e).t;
}

/**
 * The same analysis for another plain string field that every event has (ka.verb, ...): the
 * values of `field` for which `e` can be true. Sound only for events where the field has a
 * value; a caller evaluates every rule for an event without one.
 */
export function fieldValuesOf(e: Expr, field: string): TypeSet {
  return analyze(e, field).t;
}

/** How many of `universe` the set covers. */
export function typeSetSize(s: TypeSet, universe: ReadonlySet<string>): number {
  if (!s.neg) return s.set.size;
  let excluded = 0;
  for (const x of s.set) if (universe.has(x)) excluded++;
  return universe.size - excluded;
}
