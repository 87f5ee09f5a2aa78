import { mkdtempSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SqliteJournal, StorageFullError } from "../../src/delivery/journal.js";
import type { Alert } from "../../src/alert.js";

function alert(i: number): Alert {
  return { uuid: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, time: new Date().toISOString(), priority: "Warning", rule: `r${i}`, output: "o", output_fields: { i }, source: "syscall", tags: [], hostname: "h" };
}
const dir = () => mkdtempSync(join(tmpdir(), "peregrine-journal-"));

describe("SqliteJournal", () => {
  it("group-commits appends, hands them to listeners per output, and keeps them across reopen", async () => {
    const d = dir();
    const j = new SqliteJournal({ dir: d, maxBytes: 1e9, fsync: true });
    const seen: Record<string, number> = {};
    j.onCommit((m) => {
      for (const [k, v] of m) seen[k] = (seen[k] ?? 0) + v.length;
    });
    const [a, b] = await Promise.all([
      j.append([{ alert: alert(1), outputs: ["x", "y"] }]),
      j.append([{ alert: alert(2), outputs: ["x"] }]),
    ]);
    expect(a![0]!.seq).toBeLessThan(b![0]!.seq);
    expect(seen).toEqual({ x: 2, y: 1 });
    j.close();
    const again = new SqliteJournal({ dir: d, maxBytes: 1e9, fsync: true });
    expect(again.pending("x", 0, 10).map((e) => e.alert.rule)).toEqual(["r1", "r2"]);
    expect(again.pendingCount("y")).toBe(1);
    again.close();
  });

  it("acks remove deliveries; alert bodies are collected once no output needs them", async () => {
    const j = new SqliteJournal({ dir: dir(), maxBytes: 1e9, fsync: false });
    j.track("x");
    j.track("y");
    const entries = await j.append([1, 2, 3].map((i) => ({ alert: alert(i), outputs: ["x", "y"] })));
    j.ack("x", entries.map((e) => e.seq));
    await new Promise((r) => setTimeout(r, 50));
    expect(j.pendingCount("x")).toBe(0);
    expect(j.pending("y", 0, 10)).toHaveLength(3);
    j.close();
  });

  it("dead letters keep status, reason and attempts, and replay puts them back in the queue", async () => {
    const j = new SqliteJournal({ dir: dir(), maxBytes: 1e9, fsync: false });
    const [e] = await j.append([{ alert: alert(7), outputs: ["x"] }]);
    j.deadLetter("x", [{ entry: e!, status: 400, reason: "HTTP 400: bad", attempts: 1 }]);
    expect(j.pendingCount("x")).toBe(0);
    const [dl] = j.listDeadLetters({ output: "x" });
    expect(dl).toMatchObject({ output: "x", uuid: alert(7).uuid, status: 400, reason: "HTTP 400: bad", attempts: 1 });
    expect(j.replayDeadLetters({ output: "x" })).toBe(1);
    expect(j.countDeadLetters()).toBe(0);
    expect(j.pending("x", 0, 10).map((p) => p.alert.uuid)).toEqual([alert(7).uuid]);
    j.close();
  });

  it("reports full at its quota, refuses the append that would pass it, and keeps its files within it", async () => {
    const d = dir();
    const quota = 1024 * 1024; // the smallest storage.max_bytes the config allows
    const j = new SqliteJournal({ dir: d, maxBytes: quota, fsync: false });
    expect(j.isFull()).toBe(false);
    let refused: unknown;
    let accepted = 0;
    for (let i = 0; i < 100 && refused === undefined; i++) {
      const big = { ...alert(i), output: "x".repeat(100_000) };
      await j.append([{ alert: big, outputs: ["x"] }]).then(
        () => accepted++,
        (err: unknown) => (refused = err),
      );
    }
    expect(refused).toBeInstanceOf(StorageFullError);
    // The quota is used, not only reserved: more than half of it holds alerts.
    expect(accepted * 100_000).toBeGreaterThan(quota / 2);
    const onDisk = readdirSync(d)
      .filter((f) => f.startsWith("journal.db"))
      .reduce((n, f) => n + statSync(join(d, f)).size, 0);
    expect(onDisk).toBeLessThanOrEqual(quota);
    expect(j.isFull()).toBe(true);
    // A refused large request does not stop the journal: a small one that fits goes in.
    await j.append([{ alert: alert(1000), outputs: ["x"] }]);
    expect(j.isFull()).toBe(false);
    j.close();
  });
});
