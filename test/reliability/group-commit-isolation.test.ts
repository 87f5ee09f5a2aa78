/**
 * One request refusing others (issue 23, finding 3, the journal's half): requests parsed in
 * the same event-loop turn share one group-commit transaction. A row that cannot be written
 * must fail its own request only; before, the throw aborted the shared transaction and every
 * request of that turn got a retryable 503 (14 % of eight clients' requests refused at 30
 * bad requests/s). Parse-time limits keep most bad input out; this checks what gets past them.
 */
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { normalizeAlert, type Alert } from "../../src/alert.js";
import { SqliteJournal } from "../../src/delivery/journal.js";
import { PeregrineError } from "../../src/errors.js";
import { makeAlert } from "../harness/router-process.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

function alert(i: number): Alert {
  const r = normalizeAlert(makeAlert(i, { uuid: randomUUID() }));
  if (!r.ok) throw new Error(r.error.message);
  return r.alert;
}

function journalIn(): { dir: string; journal: SqliteJournal } {
  const dir = mkdtempSync(join(tmpdir(), "peregrine-group-commit-"));
  const journal = new SqliteJournal({ dir, maxBytes: 64 * 1024 * 1024, fsync: true });
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return { dir, journal };
}

describe("reliability: group commit isolates requests", () => {
  it("a row SQLite cannot bind fails its own request; the eight good requests of the same turn are committed", async () => {
    const { dir, journal } = journalIn();
    journal.track("hook");
    const committed: number[] = [];
    journal.onCommit((byOutput) => committed.push(byOutput.get("hook")?.length ?? 0));
    const good = Array.from({ length: 8 }, (_, c) => Array.from({ length: 10 }, (_, k) => alert(c * 10 + k)));
    // A uuid that is an object: the INSERT throws inside the shared transaction.
    const bad = { ...alert(999), uuid: { nested: true } as unknown as string };
    // All in one turn: they join one group commit.
    const results = await Promise.allSettled([
      ...good.slice(0, 4).map((alerts) => journal.append(alerts.map((a) => ({ alert: a, outputs: ["hook"] })))),
      journal.append([{ alert: alert(500), outputs: ["hook"] }, { alert: bad, outputs: ["hook"] }]),
      ...good.slice(4).map((alerts) => journal.append(alerts.map((a) => ({ alert: a, outputs: ["hook"] })))),
    ]);
    const statuses = results.map((r) => r.status);
    expect(statuses).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
    const reason = (results[4] as PromiseRejectedResult).reason as PeregrineError;
    expect(reason).toBeInstanceOf(PeregrineError);
    expect(reason.code).toBe("INGEST_INVALID_FIELD");
    // The bad request is rolled back whole (its good first alert too); lanes were told of
    // exactly the 80 committed alerts.
    expect(committed.reduce((a, b) => a + b, 0)).toBe(80);
    journal.close();
    const again = new SqliteJournal({ dir, maxBytes: 64 * 1024 * 1024, fsync: true });
    cleanups.push(() => again.close());
    const stored = again.pending("hook", 0, 1000).map((e) => e.alert.uuid);
    expect(stored).toEqual(good.flat().map((a) => a.uuid));
  });

  it("an alert that cannot be serialized fails its own request at once; the others commit", async () => {
    const { journal } = journalIn();
    cleanups.push(() => journal.close());
    const circular = alert(1);
    (circular.output_fields as Record<string, unknown>).self = circular;
    const [a, b, c] = await Promise.allSettled([
      journal.append([{ alert: alert(2), outputs: ["hook"] }]),
      journal.append([{ alert: circular, outputs: ["hook"] }]),
      journal.append([{ alert: alert(3), outputs: ["hook"] }]),
    ]);
    expect(a.status).toBe("fulfilled");
    expect(b.status).toBe("rejected");
    expect(((b as PromiseRejectedResult).reason as PeregrineError).code).toBe("INGEST_INVALID_FIELD");
    expect(c.status).toBe("fulfilled");
    expect(journal.pendingCount("hook")).toBe(2);
  });
});
