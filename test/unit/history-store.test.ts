/**
 * The alert history's queries (range, priority, rule, source, hostname, tags, free text,
 * counts grouped over time, stable cursor pages) and its retention by age and by size.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import type { Alert, Priority } from "../../src/alert.js";
import { HistoryStore, decodeCursor, ftsQuery } from "../../src/history/store.js";
import { historyStats, HistoryQueryError, parseFilter } from "../../src/history/api.js";

const T0 = Date.parse("2026-01-01T00:00:00Z");
const dirs: string[] = [];
const stores: HistoryStore[] = [];
afterEach(() => {
  while (stores.length) stores.pop()!.close();
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

function open(options: Partial<{ retentionMs: number; maxBytes: number; now: () => number; dir: string }> = {}): HistoryStore {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "peregrine-history-"));
  if (!options.dir) dirs.push(dir);
  const store = new HistoryStore({ retentionMs: 0, maxBytes: 1024 ** 3, ...options, dir });
  stores.push(store);
  return store;
}

function alert(i: number, extra: Partial<Alert> = {}): Alert {
  const priorities: Priority[] = ["Critical", "Warning", "Notice", "Error"];
  return {
    uuid: randomUUID(),
    time: new Date(T0 + i * 1000).toISOString(),
    priority: priorities[i % 4]!,
    rule: `Rule ${i % 3}`,
    output: `alert number ${i} opened /etc/shadow`,
    output_fields: { "proc.name": i % 2 ? "cat" : "vim", n: i },
    source: i % 5 === 0 ? "k8s_audit" : "syscall",
    tags: i % 2 ? ["odd", "mitre_discovery"] : ["even"],
    hostname: `host-${i % 2}`,
    ...extra,
  };
}

function fill(store: HistoryStore, n: number): void {
  for (let i = 0; i < n; i++) store.record(alert(i));
}

describe("history store queries", () => {
  it("filters by time range, priority, rule, source, hostname, tags and free text", () => {
    const store = open();
    fill(store, 100);
    const all = store.query({}, { limit: 1000 });
    expect(all.alerts).toHaveLength(100);
    expect(all.next_cursor).toBeUndefined();
    // Oldest first within the page.
    expect((all.alerts[0]!.output_fields.n as number)).toBe(0);

    const range = store.query({ from: T0 + 10_000, to: T0 + 20_000 }, { limit: 1000 }).alerts.map((a) => a.output_fields.n);
    expect(range).toEqual([10, 11, 12, 13, 14, 15, 16, 17, 18, 19]);

    const crit = store.query({ priorities: ["Critical", "Error"] }, { limit: 1000 }).alerts;
    expect(crit).toHaveLength(50);
    expect(new Set(crit.map((a) => a.priority))).toEqual(new Set(["Critical", "Error"]));

    expect(store.query({ rules: ["Rule 1"] }, { limit: 1000 }).alerts.every((a) => a.rule === "Rule 1")).toBe(true);
    expect(store.query({ rules: ["Rule 1"] }, { limit: 1000 }).alerts).toHaveLength(33);
    expect(store.query({ sources: ["k8s_audit"] }, { limit: 1000 }).alerts).toHaveLength(20);
    expect(store.query({ hostnames: ["host-1"] }, { limit: 1000 }).alerts).toHaveLength(50);
    expect(store.query({ tags: ["odd", "mitre_discovery"] }, { limit: 1000 }).alerts).toHaveLength(50);
    expect(store.query({ tags: ["odd", "even"] }, { limit: 1000 }).alerts).toHaveLength(0);

    // Free text over the output and over field names and values.
    expect(store.query({ text: "number 42" }, { limit: 1000 }).alerts.map((a) => a.output_fields.n)).toEqual([42]);
    expect(store.query({ text: "vim" }, { limit: 1000 }).alerts).toHaveLength(50);
    expect(store.query({ text: "/etc/shadow" }, { limit: 1000 }).alerts).toHaveLength(100);
    expect(store.query({ text: "nomatch" }, { limit: 1000 }).alerts).toHaveLength(0);
    // Query syntax is plain text, never an FTS5 error.
    expect(store.query({ text: 'NOT "( * -' }, { limit: 1000 }).alerts).toHaveLength(0);
    expect(ftsQuery("   ")).toBeUndefined();

    // Combined.
    const both = store.query({ from: T0, to: T0 + 50_000, hostnames: ["host-0"], text: "vim", priorities: ["Critical"] }, { limit: 1000 }).alerts;
    expect(both.map((a) => a.output_fields.n)).toEqual([0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48]);
  });

  it("pages newest first with a cursor that stays stable while alerts arrive", () => {
    const store = open();
    // Several alerts share a time: the id breaks the tie.
    for (let i = 0; i < 25; i++) store.record(alert(i, { time: new Date(T0 + Math.floor(i / 5) * 1000).toISOString() }));
    const seen: number[] = [];
    let cursor: { time: number; id: number } | undefined;
    let pages = 0;
    for (;;) {
      const page = store.query({}, cursor ? { limit: 7, cursor } : { limit: 7 });
      pages++;
      seen.push(...page.alerts.map((a) => a.output_fields.n as number).reverse());
      if (pages === 1) for (let i = 100; i < 105; i++) store.record(alert(i, { time: new Date(T0 + 999_000).toISOString() }));
      if (!page.next_cursor) break;
      cursor = decodeCursor(page.next_cursor);
      expect(cursor).toBeDefined();
    }
    expect(pages).toBe(4);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => 24 - i));
  });

  it("bounds a page by bytes", () => {
    const store = open();
    for (let i = 0; i < 10; i++) store.record(alert(i, { output: "x".repeat(10_000) }));
    const page = store.query({}, { limit: 100, maxBytes: 35_000 });
    expect(page.alerts).toHaveLength(3);
    expect(page.next_cursor).toBeDefined();
  });

  it("counts over time grouped by priority, rule, source, hostname and tag", () => {
    const store = open();
    fill(store, 60);
    const range = { from: T0, to: T0 + 60_000 };
    const byPrio = store.counts(range, "priority", 10_000);
    expect(byPrio.buckets).toHaveLength(6);
    expect(byPrio.total).toBe(60);
    expect(byPrio.buckets[0]!.counts).toEqual({ Critical: 3, Warning: 3, Notice: 2, Error: 2 });
    expect(Object.fromEntries(byPrio.totals.map((t) => [t.key, t.count]))).toEqual({ Critical: 15, Warning: 15, Notice: 15, Error: 15 });
    expect(store.counts(range, "rule", 60_000).totals).toEqual([
      { key: "Rule 0", count: 20 },
      { key: "Rule 1", count: 20 },
      { key: "Rule 2", count: 20 },
    ]);
    expect(store.counts(range, "source").totals).toEqual([
      { key: "syscall", count: 48 },
      { key: "k8s_audit", count: 12 },
    ]);
    expect(store.counts(range, "hostname").total).toBe(60);
    const tags = store.counts({ ...range, hostnames: ["host-1"] }, "tag", 60_000);
    expect(tags.totals).toEqual([
      { key: "mitre_discovery", count: 30 },
      { key: "odd", count: 30 },
    ]);
    const stats = historyStats(store, { from: String(T0), to: String(T0 + 60_000), group_by: "rule", top: "2" });
    expect(stats.total).toBe(60);
    expect(stats.top_rules).toHaveLength(2);
    expect(stats.top_rules[0]).toMatchObject({ rule: "Rule 0", count: 20, priority: "Critical" });
    expect(stats.by_source).toEqual({ syscall: 48, k8s_audit: 12 });
    expect(stats.groups?.totals).toHaveLength(3);
    expect(() => historyStats(store, { group_by: "colour" })).toThrow(HistoryQueryError);
    expect(() => parseFilter({ priority: "Loud" })).toThrow(/priority/);
    expect(() => parseFilter({ from: "yesterday" })).toThrow(/from/);
  });

  it("keeps alerts across a close and reopen", () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-history-"));
    dirs.push(dir);
    const a = open({ dir });
    fill(a, 10);
    a.close();
    stores.pop();
    const b = open({ dir });
    expect(b.count()).toBe(10);
    expect(b.query({ text: "number 7" }, { limit: 10 }).alerts).toHaveLength(1);
  });
});

describe("per-minute roll-up", () => {
  /** Counts computed from the alerts themselves, for comparison. */
  function expected(alerts: Alert[], from: number, to: number, bucket: number, key: (a: Alert) => string[]): Record<string, number>[] {
    const out = Array.from({ length: Math.ceil((to - from) / bucket) }, () => ({}) as Record<string, number>);
    for (const a of alerts) {
      const t = Date.parse(a.time);
      if (t < from || t >= to) continue;
      const slot = out[Math.floor((t - from) / bucket)]!;
      for (const k of key(a)) slot[k] = (slot[k] ?? 0) + 1;
    }
    return out;
  }

  it("answers whole minutes from the roll-up exactly as from the alerts, also after pruning", async () => {
    let now = T0 + 4000 * 1000;
    const store = open({ retentionMs: 3000 * 1000, now: () => now });
    // 7 s apart, so minutes hold 8 or 9 alerts; ranges end mid-minute.
    const alerts = Array.from({ length: 571 }, (_, i) => alert(i, { time: new Date(T0 + i * 7000).toISOString() }));
    for (const a of alerts) store.record(a);
    const check = (list: Alert[], from: number, to: number) => {
      for (const [group, key] of [
        ["priority", (a: Alert) => [a.priority]],
        ["rule", (a: Alert) => [a.rule]],
        ["hostname", (a: Alert) => [a.hostname]],
        ["tag", (a: Alert) => a.tags],
      ] as const) {
        const got = store.counts({ from, to }, group, 5 * 60_000);
        expect(got.buckets.map((b) => b.counts), group).toEqual(expected(list, from, to, 5 * 60_000, key));
      }
      const filtered = store.counts({ from, to, priorities: ["Critical"], hostnames: ["host-0"] }, "rule", 5 * 60_000);
      expect(filtered.buckets.map((b) => b.counts)).toEqual(expected(list.filter((a) => a.priority === "Critical" && a.hostname === "host-0"), from, to, 5 * 60_000, (a) => [a.rule]));
      const top = store.topRules({ from, to }, 10);
      const want = new Map<string, number>();
      for (const a of list) if (Date.parse(a.time) >= from && Date.parse(a.time) < to) want.set(a.rule, (want.get(a.rule) ?? 0) + 1);
      expect(Object.fromEntries(top.map((r) => [r.rule, r.count]))).toEqual(Object.fromEntries(want));
    };
    check(alerts, T0, T0 + 3333_500);
    check(alerts, T0 + 10 * 60_000, T0 + 40 * 60_000 + 30_500);
    now += 0;
    await store.prune();
    const kept = alerts.filter((a) => Date.parse(a.time) >= now - 3000 * 1000);
    expect(store.count()).toBe(kept.length);
    check(kept, T0, T0 + 3999_000);
  });

  it("answers whole hours from the hourly roll-up exactly as from the alerts, for ranges starting and ending mid-hour, also after pruning and when built for an existing file", async () => {
    let now = T0 + 12 * 3_600_000;
    const dir = mkdtempSync(join(tmpdir(), "peregrine-history-"));
    dirs.push(dir);
    let store = open({ dir, retentionMs: 7 * 3_600_000, now: () => now });
    // 31 s apart over ~10 hours, so hours hold ~116 alerts and minutes 1 or 2.
    const alerts = Array.from({ length: 1200 }, (_, i) => alert(i, { time: new Date(T0 + i * 31_000).toISOString() }));
    for (const a of alerts) store.record(a);
    const H = 3_600_000;
    const M = 60_000;
    const check = (list: Alert[], from: number, to: number, bucket?: number) => {
      for (const [group, key] of [
        ["priority", (a: Alert) => [a.priority]],
        ["rule", (a: Alert) => [a.rule]],
        ["source", (a: Alert) => [a.source]],
        ["tag", (a: Alert) => a.tags],
      ] as const) {
        const got = store.counts({ from, to }, group, bucket);
        expect(got.buckets.map((b) => b.counts), `${group} ${from - T0}..${to - T0} by ${got.bucket_ms}`).toEqual(expected(list, from, to, got.bucket_ms, key));
      }
      const top = store.topRules({ from, to }, 10);
      const want = new Map<string, { n: number; last: number }>();
      for (const a of list) {
        const t = Date.parse(a.time);
        if (t < from || t >= to) continue;
        const w = want.get(a.rule) ?? { n: 0, last: 0 };
        want.set(a.rule, { n: w.n + 1, last: Math.max(w.last, t) });
      }
      expect(Object.fromEntries(top.map((r) => [r.rule, { n: r.count, last: r.last }]))).toEqual(Object.fromEntries(want));
    };
    const ranges: [number, number, number?][] = [
      [T0, T0 + 10 * H, H], // hour-aligned: hours only
      [T0 + 17 * M, T0 + 9 * H + 43 * M + 30_500, H], // starts and ends mid-hour (and mid-minute)
      [T0 + 17 * M, T0 + 9 * H + 43 * M + 30_500, 90 * M], // buckets that split hours
      [T0 + 17 * M, T0 + 9 * H + 43 * M + 30_500, 7 * M],
      [T0 + 17 * M, T0 + 9 * H + 43 * M + 30_500], // the default bucket
      [T0 + 2 * H + 5 * M, T0 + 2 * H + 55 * M, 5 * M], // within one hour
      [T0 + 59 * M, T0 + 2 * H + M, 3 * H], // one whole hour between two partial ones, in one bucket
    ];
    for (const [from, to, bucket] of ranges) check(alerts, from, to, bucket);
    // A long range picks whole-hour buckets, so its whole hours come from the hourly level.
    expect(store.counts({ from: T0, to: T0 + 7 * 24 * H }, "priority").bucket_ms % H).toBe(0);
    await store.prune();
    const kept = alerts.filter((a) => Date.parse(a.time) >= now - 7 * H);
    expect(kept.length).toBeLessThan(alerts.length);
    expect(store.count()).toBe(kept.length);
    for (const [from, to, bucket] of ranges) check(kept, from, to, bucket);
    // Prune mid-hour: the hour left partly pruned must count only what is left.
    now += 37 * M;
    await store.prune();
    const kept2 = alerts.filter((a) => Date.parse(a.time) >= now - 7 * H);
    expect(store.count()).toBe(kept2.length);
    for (const [from, to, bucket] of ranges) check(kept2, from, to, bucket);
    store.close();
    // A file written before the hourly level existed gets it on open.
    const db = new Database(join(dir, "history.db"));
    db.exec("DELETE FROM hour_counts");
    db.close();
    store = open({ dir, retentionMs: 7 * 3_600_000, now: () => now });
    for (const [from, to, bucket] of ranges) check(kept2, from, to, bucket);
    const reopened = new Database(join(dir, "history.db"), { readonly: true });
    for (const dim of ["priority", "source", "hostname", "rule"]) expect(reopened.prepare("SELECT sum(n) FROM hour_counts WHERE dim = ?").pluck().get(dim), dim).toBe(kept2.length);
    reopened.close();
  });
});

describe("history retention", () => {
  it("prunes by age, in steps, and keeps the newer alerts", async () => {
    let now = T0 + 10_000 * 1000;
    const store = open({ retentionMs: 3_000 * 1000, now: () => now });
    fill(store, 10_000);
    expect(store.count()).toBe(10_000);
    const steps = await store.prune();
    // 7,000 too old, 200 per step.
    expect(steps).toBe(35);
    expect(store.count()).toBe(3000);
    const left = store.query({ to: T0 + 7_000 * 1000 }, { limit: 10 });
    expect(left.alerts).toHaveLength(0);
    // Pruned alerts leave the full-text index and the tags too.
    expect(store.query({ text: "number 42" }, { limit: 10 }).alerts).toHaveLength(0);
    expect(store.counts({ from: T0, to: T0 + 7_000 * 1000 }, "tag").total).toBe(0);
    expect(store.counts({ from: T0, to: now }, "tag").total).toBe(1500 * 2 + 1500);
    now += 1000 * 1000;
    await store.prune();
    expect(store.count()).toBe(2000);
  });

  it("prunes by size down below max_bytes, oldest first", async () => {
    const store = open({ maxBytes: 1024 * 1024 });
    for (let i = 0; i < 2000; i++) store.record(alert(i, { output: `alert number ${i} ` + "y".repeat(1000) }));
    store.flush();
    expect(store.usedBytes()).toBeGreaterThan(1024 * 1024);
    await store.prune();
    expect(store.usedBytes()).toBeLessThanOrEqual(1024 * 1024);
    expect(store.usedBytes()).toBeGreaterThan(0.8 * 1024 * 1024);
    const kept = store.count();
    expect(kept).toBeLessThan(2000);
    const page = store.query({}, { limit: 10_000 }).alerts.map((a) => a.output_fields.n as number);
    // What is left is the newest alerts, without a gap.
    expect(page[page.length - 1]).toBe(1999);
    expect(page[0]).toBe(2000 - kept);
  });
});

describe("history writes on a worker thread (the router's mode)", () => {
  function openThreaded(options: Partial<{ maxBytes: number; dir: string; pruneEveryMs: number }> = {}): HistoryStore {
    const dir = options.dir ?? mkdtempSync(join(tmpdir(), "peregrine-history-"));
    if (!options.dir) dirs.push(dir);
    const store = new HistoryStore({ retentionMs: 0, maxBytes: 1024 ** 3, ...options, dir, writer: "worker" });
    stores.push(store);
    return store;
  }

  it("a query sees every alert recorded before it, and the counts and size follow", () => {
    const store = openThreaded();
    fill(store, 3000);
    expect(store.count()).toBe(3000);
    expect(store.query({ text: "number 2999" }, { limit: 10 }).alerts.map((a) => a.output_fields.n)).toEqual([2999]);
    expect(store.counts({ from: T0, to: T0 + 3000 * 1000 }, "priority").total).toBe(3000);
    expect(store.usedBytes()).toBeGreaterThan(3000 * 200);
    // Recorded after a query: seen by the next one.
    store.record(alert(5000, { output: "late arrival" }));
    expect(store.query({ text: "late arrival" }, { limit: 10 }).alerts).toHaveLength(1);
  });

  it("keeps every alert across a close and a reopen in either mode", () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-history-"));
    dirs.push(dir);
    const a = openThreaded({ dir });
    fill(a, 500);
    a.close();
    stores.pop();
    const b = open({ dir });
    expect(b.count()).toBe(500);
    expect(b.usedBytes()).toBeGreaterThan(500 * 200);
  });

  it("prunes by size on its own thread, oldest first", async () => {
    const store = openThreaded({ maxBytes: 512 * 1024 });
    store.start();
    for (let i = 0; i < 2000; i++) store.record(alert(i, { output: `alert number ${i} ` + "y".repeat(1000) }));
    // Written (a query waits for the thread), so the size is known; about 2.5 MiB recorded.
    expect(store.count()).toBeGreaterThan(0);
    const deadline = Date.now() + 60_000;
    while (store.usedBytes() > 512 * 1024 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(store.usedBytes()).toBeLessThanOrEqual(512 * 1024);
    const page = store.query({}, { limit: 10_000 }).alerts.map((a) => a.output_fields.n as number);
    expect(page.length).toBeLessThan(2000);
    expect(page[page.length - 1]).toBe(1999);
    expect(page[0]).toBe(2000 - page.length);
  });
});
