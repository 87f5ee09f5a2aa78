import { describe, expect, it } from "vitest";
import type { Alert, Priority } from "../../src/alert.js";
import { AlertStats, BUCKETS, BUCKET_MS } from "../../src/ui/stats.js";

function alert(rule: string, priority: Priority, extra: Partial<Alert> = {}): Alert {
  return { uuid: "u", time: "2026-01-01T00:00:00Z", priority, rule, output: "", output_fields: {}, source: "syscall", tags: [], hostname: "h", ...extra };
}

describe("dashboard stats", () => {
  it("puts alerts in 10 s buckets by priority and forgets buckets older than the window", () => {
    let now = 1_000_000_000_000;
    const stats = new AlertStats(() => now);
    stats.add(alert("r", "Critical"));
    stats.add(alert("r", "Critical"));
    stats.add(alert("r", "Debug"));
    now += BUCKET_MS;
    stats.add(alert("r", "Warning"));
    let s = stats.snapshot();
    expect(s.buckets).toHaveLength(BUCKETS);
    expect(s.buckets.at(-1)!.counts).toEqual({ Warning: 1 });
    expect(s.buckets.at(-2)!.counts).toEqual({ Critical: 2, Debug: 1 });
    // A full window later the slot is reused: old counts do not leak into the new bucket.
    now += BUCKETS * BUCKET_MS;
    stats.add(alert("r", "Notice"));
    s = stats.snapshot();
    expect(s.buckets.at(-1)!.counts).toEqual({ Notice: 1 });
    expect(s.buckets.slice(0, -1).every((b) => Object.keys(b.counts).length === 0)).toBe(true);
    // Totals are since start.
    expect(s.total).toBe(5);
    expect(s.by_priority).toEqual({ Critical: 2, Warning: 1, Notice: 1, Debug: 1 });
  });

  it("ranks rules by count with their most severe priority, and hosts", () => {
    const stats = new AlertStats(() => 0);
    for (let i = 0; i < 3; i++) stats.add(alert("b", "Notice", { hostname: "x" }));
    stats.add(alert("b", "Error", { hostname: "y" }));
    stats.add(alert("a", "Warning", { hostname: "y" }));
    const s = stats.snapshot(1);
    expect(s.top_rules).toEqual([{ rule: "b", count: 4, priority: "Error", last: 0 }]);
    expect(s.top_hosts).toEqual([{ hostname: "x", count: 3 }]);
  });

  it("stays bounded when a producer invents a rule name per alert", () => {
    const stats = new AlertStats(() => 0);
    for (let i = 0; i < 3; i++) stats.add(alert("noisy", "Critical"));
    for (let i = 0; i < 20_000; i++) stats.add(alert(`rule-${i}`, "Debug", { hostname: `h-${i}` }));
    const s = stats.snapshot(3);
    expect(s.total).toBe(20_003);
    expect(s.top_rules[0]).toMatchObject({ rule: "noisy", count: 3 });
    expect((stats as unknown as { rules: Map<string, unknown> }).rules.size).toBeLessThanOrEqual(5000);
    expect((stats as unknown as { hosts: Map<string, unknown> }).hosts.size).toBeLessThanOrEqual(1000);
  });
});
