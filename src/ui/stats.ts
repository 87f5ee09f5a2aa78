import { PRIORITIES, priorityRank, type Alert, type Priority } from "../alert.js";
import { LabelCap } from "../metrics.js";

/** Width of one bar of the "alerts over time" chart. */
export const BUCKET_MS = 10_000;
/** Bars kept: 15 minutes of history. */
export const BUCKETS = 90;
/** Distinct rule names counted; past it the rarest half is forgotten (a producer can invent names). */
const MAX_RULES = 5000;
const MAX_HOSTS = 1000;

export interface StatsSnapshot {
  bucket_ms: number;
  now: number;
  /** Oldest first, one per bucket of the window, zeros included. */
  buckets: { start: number; counts: Partial<Record<Priority, number>> }[];
  total: number;
  by_priority: Partial<Record<Priority, number>>;
  by_source: Record<string, number>;
  top_rules: { rule: string; count: number; priority: Priority; last: number }[];
  top_hosts: { hostname: string; count: number }[];
}

interface RuleCount {
  count: number;
  /** The most severe priority seen for the rule. */
  priority: Priority;
  last: number;
}

/**
 * Counts for the dashboard, updated per alert in O(1): a ring of time buckets with one
 * counter per priority, totals, and the rules and hosts that fire most.
 */
export class AlertStats {
  private readonly counts = new Uint32Array(BUCKETS * PRIORITIES.length);
  private readonly bucketStart = new Float64Array(BUCKETS);
  private readonly byPriority = new Uint32Array(PRIORITIES.length);
  private readonly bySource = new Map<string, number>();
  /** Sources are alert-controlled: past 100 distinct ones they count as "other", as in /metrics. */
  private readonly sourceCap = new LabelCap();
  private readonly rules = new Map<string, RuleCount>();
  private readonly hosts = new Map<string, number>();
  private total = 0;

  constructor(private readonly now: () => number = Date.now) {}

  add(alert: Alert, at = this.now()): void {
    const rank = priorityRank(alert.priority);
    if (rank < 0) return;
    const start = Math.floor(at / BUCKET_MS) * BUCKET_MS;
    const slot = Math.floor(start / BUCKET_MS) % BUCKETS;
    if (this.bucketStart[slot] !== start) {
      this.bucketStart[slot] = start;
      this.counts.fill(0, slot * PRIORITIES.length, (slot + 1) * PRIORITIES.length);
    }
    this.counts[slot * PRIORITIES.length + rank]!++;
    this.byPriority[rank]!++;
    this.total++;
    const source = this.sourceCap.of(alert.source);
    this.bySource.set(source, (this.bySource.get(source) ?? 0) + 1);
    const r = this.rules.get(alert.rule);
    if (r) {
      r.count++;
      r.last = at;
      if (rank < priorityRank(r.priority)) r.priority = alert.priority;
    } else {
      this.rules.set(alert.rule, { count: 1, priority: alert.priority, last: at });
      if (this.rules.size > MAX_RULES) pruneRarest(this.rules, (v) => v.count);
    }
    this.hosts.set(alert.hostname, (this.hosts.get(alert.hostname) ?? 0) + 1);
    if (this.hosts.size > MAX_HOSTS) pruneRarest(this.hosts, (v) => v);
  }

  snapshot(topN = 10): StatsSnapshot {
    const now = this.now();
    const current = Math.floor(now / BUCKET_MS) * BUCKET_MS;
    const buckets: StatsSnapshot["buckets"] = [];
    for (let i = BUCKETS - 1; i >= 0; i--) {
      const start = current - i * BUCKET_MS;
      const slot = Math.floor(start / BUCKET_MS) % BUCKETS;
      const counts: Partial<Record<Priority, number>> = {};
      if (this.bucketStart[slot] === start) {
        for (let p = 0; p < PRIORITIES.length; p++) {
          const n = this.counts[slot * PRIORITIES.length + p]!;
          if (n > 0) counts[PRIORITIES[p]!] = n;
        }
      }
      buckets.push({ start, counts });
    }
    const byPriority: Partial<Record<Priority, number>> = {};
    PRIORITIES.forEach((p, i) => {
      if (this.byPriority[i]! > 0) byPriority[p] = this.byPriority[i]!;
    });
    const topRules = [...this.rules.entries()]
      .sort((a, b) => b[1].count - a[1].count || a[0].localeCompare(b[0]))
      .slice(0, topN)
      .map(([rule, r]) => ({ rule, count: r.count, priority: r.priority, last: r.last }));
    const topHosts = [...this.hosts.entries()]
      .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
      .slice(0, topN)
      .map(([hostname, count]) => ({ hostname, count }));
    return {
      bucket_ms: BUCKET_MS,
      now,
      buckets,
      total: this.total,
      by_priority: byPriority,
      by_source: Object.fromEntries(this.bySource),
      top_rules: topRules,
      top_hosts: topHosts,
    };
  }
}

function pruneRarest<V>(map: Map<string, V>, count: (v: V) => number): void {
  const sorted = [...map.entries()].sort((a, b) => count(a[1]) - count(b[1]));
  for (let i = 0; i < sorted.length / 2; i++) map.delete(sorted[i]![0]);
}
