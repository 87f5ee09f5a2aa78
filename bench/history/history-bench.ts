/**
 * Query times of the alert history at 1,000,000 stored alerts (the dashboard's queries:
 * newest page, time range, filters, free text, deep cursor pages, counts over time).
 *
 *   node --import tsx bench/history/history-bench.ts [ALERTS]
 *   node --import tsx bench/history/history-bench.ts --dir DIR   (queries an existing history.db, kept)
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import type { Alert, Priority } from "../../src/alert.js";
import { HistoryStore, decodeCursor, type GroupKey, type HistoryFilter } from "../../src/history/store.js";
import { historyStats } from "../../src/history/api.js";

const dirArg = process.argv.indexOf("--dir");
const EXISTING = dirArg >= 0 ? process.argv[dirArg + 1] : undefined;
const N = EXISTING ? 0 : Number(process.argv[2] ?? 1_000_000);
const DAYS = 7;
// Whole minutes, as the dashboard asks (its ranges start on a minute).
let NOW = Math.floor(Date.now() / 60_000) * 60_000;
const START = NOW - DAYS * 86_400_000;
const PRIORITIES: Priority[] = ["Emergency", "Alert", "Critical", "Error", "Warning", "Notice", "Informational", "Debug"];
const WORDS = ["shell", "spawned", "container", "file", "below", "etc", "opened", "for", "writing", "sensitive", "read", "network", "connection", "outbound"];

let seed = 42;
function rand(n: number): number {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
}

function alertAt(i: number): Alert {
  const rule = `Rule ${rand(100)}`;
  const words = Array.from({ length: 8 }, () => WORDS[rand(WORDS.length)]).join(" ");
  return {
    uuid: randomUUID(),
    time: new Date(START + Math.floor((i / N) * DAYS * 86_400_000)).toISOString(),
    // Skewed like real alerts: most are Notice/Warning.
    priority: PRIORITIES[[5, 5, 5, 4, 4, 3, 2, 6, 7, 0, 1][rand(11)]!]!,
    rule,
    output: `${rule}: ${words} (user=user${rand(500)} command=cmd${rand(2000)} container_id=${rand(1_000_000).toString(16)})`,
    output_fields: { "proc.name": `proc${rand(300)}`, "user.name": `user${rand(500)}`, "fd.name": `/etc/file${rand(1000)}`, "container.id": rand(1_000_000).toString(16) },
    source: rand(10) === 0 ? "k8s_audit" : "syscall",
    tags: rand(3) === 0 ? ["mitre_execution", "container"] : ["filesystem"],
    hostname: `node-${rand(50)}`,
  };
}

/** Wall-clock median and max, and the median CPU time (steadier on a shared machine). */
function time<T>(label: string, fn: () => T, runs = 5): T {
  let result!: T;
  const samples: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    const c = process.cpuUsage();
    const t = performance.now();
    result = fn();
    samples.push(performance.now() - t);
    const d = process.cpuUsage(c);
    cpu.push((d.user + d.system) / 1000);
  }
  samples.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  console.log(`| ${label} | ${samples[Math.floor(runs / 2)]!.toFixed(1)} | ${samples[runs - 1]!.toFixed(1)} | ${cpu[Math.floor(runs / 2)]!.toFixed(1)} |`);
  return result;
}

const dir = EXISTING ?? mkdtempSync(join(tmpdir(), "peregrine-history-bench-"));
try {
  const tOpen = performance.now();
  const store = new HistoryStore({ dir, retentionMs: 0, maxBytes: 64 * 1024 ** 3 });
  if (EXISTING) {
    console.log(`opened ${store.count().toLocaleString("en")} alerts in ${((performance.now() - tOpen) / 1000).toFixed(1)} s (a history.db without the roll-up gets it on this first open)`);
    const newest = store.query({}, { limit: 1 }).alerts[0];
    if (newest) NOW = Math.floor(Date.parse(newest.time) / 60_000) * 60_000 + 60_000;
  }
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    store.record(alertAt(i), START);
    if (i % 5000 === 4999) store.flush();
  }
  store.flush();
  const insertS = (performance.now() - t0) / 1000;
  const file = statSync(join(dir, "history.db")).size + (() => { try { return statSync(join(dir, "history.db-wal")).size; } catch { return 0; } })();
  console.log(`${N.toLocaleString("en")} alerts recorded in ${insertS.toFixed(1)} s (${Math.round(N / insertS).toLocaleString("en")}/s); history.db ${(file / 1024 ** 2).toFixed(0)} MiB, estimate ${(store.usedBytes() / 1024 ** 2).toFixed(0)} MiB\n`);
  console.log("| query (page of 100 unless said) | median ms | max ms | CPU ms |\n|---|---:|---:|---:|");
  const page = (f: HistoryFilter) => store.query(f, { limit: 100 });
  const hour = { from: NOW - 3_600_000, to: NOW };
  time("newest page, no filter", () => page({}));
  time("last hour", () => page(hour));
  time("a day, 3 days ago", () => page({ from: NOW - 4 * 86_400_000, to: NOW - 3 * 86_400_000 }));
  time("priority=Critical", () => page({ priorities: ["Critical"] }));
  time("priority=Emergency,Alert + last day", () => page({ priorities: ["Emergency", "Alert"], from: NOW - 86_400_000, to: NOW }));
  time("rule", () => page({ rules: ["Rule 42"] }));
  time("source=k8s_audit", () => page({ sources: ["k8s_audit"] }));
  time("hostname", () => page({ hostnames: ["node-7"] }));
  time("tag=mitre_execution", () => page({ tags: ["mitre_execution"] }));
  time("free text, common word (shell)", () => page({ text: "shell" }));
  time("free text, rare (user123 cmd77)", () => page({ text: "user123 cmd77" }));
  time("free text over fields (/etc/file7)", () => page({ text: "/etc/file7" }));
  time("free text + last hour + hostname", () => page({ text: "network", ...hour, hostnames: ["node-3"] }));
  let first = page({});
  time("10th page by cursor", () => {
    let p = first;
    for (let i = 0; i < 9; i++) p = store.query({}, { limit: 100, cursor: decodeCursor(p.next_cursor!)! });
    return p;
  });
  first = page({ priorities: ["Error"] });
  time("cursor page of priority=Error", () => store.query({ priorities: ["Error"] }, { limit: 100, cursor: decodeCursor(first.next_cursor!)! }));
  for (const g of ["priority", "rule", "hostname", "tag"] as GroupKey[]) time(`counts by ${g}, last hour`, () => store.counts({ ...hour }, g), 3);
  for (const g of ["priority", "rule", "source", "tag"] as GroupKey[]) time(`counts by ${g}, last 24 h`, () => store.counts({ from: NOW - 86_400_000, to: NOW }, g), 3);
  time("counts by priority, all 7 days", () => store.counts({ from: START, to: NOW }, "priority"), 3);
  time("/api/stats, last hour", () => historyStats(store, { from: String(hour.from), to: String(hour.to) }, NOW), 3);
  time("/api/stats, last 24 h", () => historyStats(store, { from: String(NOW - 86_400_000), to: String(NOW) }, NOW), 3);
  time("/api/stats, all 7 days", () => historyStats(store, { from: String(START), to: String(NOW) }, NOW), 3);
  // From and to on whole hours: every bucket's hours come from the hourly roll-up, no minutes.
  const H = 3_600_000;
  const hourly = { from: Math.ceil(START / H) * H, to: Math.floor(NOW / H) * H };
  time("counts by priority, 7 days on whole hours", () => store.counts(hourly, "priority"), 3);
  time("/api/stats, 7 days on whole hours", () => historyStats(store, { from: String(hourly.from), to: String(hourly.to) }, NOW), 3);
  time("/api/stats, 7 days, rule filter, group_by=hostname", () => historyStats(store, { from: String(START), to: String(NOW), rule: "Rule 5", group_by: "hostname" }, NOW), 3);
  // Retention: one step of 500 (what ingest may wait behind).
  const store2 = store;
  if (EXISTING) {
    store.close();
    process.exit(0);
  }
  const tPrune = performance.now();
  let steps = 0;
  const slowest: number[] = [];
  (store2 as unknown as { options: { maxBytes: number } }).options.maxBytes = store2.usedBytes() * 0.99;
  (store2 as unknown as { pruning: boolean }).pruning = true;
  for (;;) {
    const t = performance.now();
    if (!store2.pruneStep()) break;
    slowest.push(performance.now() - t);
    steps++;
  }
  slowest.sort((a, b) => a - b);
  console.log(`\nsize pruning of ~10% (${steps} steps of 500 alerts): ${((performance.now() - tPrune) / 1000).toFixed(1)} s, step median ${slowest[Math.floor(steps / 2)]?.toFixed(1)} ms, max ${slowest[steps - 1]?.toFixed(1)} ms`);
  store.close();
} finally {
  if (!EXISTING) rmSync(dir, { recursive: true, force: true });
}
