/**
 * The alert history against the real router process: alerts posted before a restart (and
 * before a kill -9) are still served by GET /api/alerts, paginated with a stable cursor and
 * filtered, and GET /api/stats counts a time range of them grouped by rule or tag.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { makeAlert, startRouter, waitUntil, type RouterProcess } from "../harness/router-process.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!().catch(() => {});
});

interface Page {
  alerts: { uuid: string; priority: string; rule: string; hostname: string; output: string; tags: string[]; time: string }[];
  next_cursor?: string;
}

const T0 = Date.now() - 3_600_000;

function alertAt(i: number): Record<string, unknown> {
  return makeAlert(i, {
    uuid: randomUUID(),
    time: new Date(T0 + i * 60_000).toISOString(),
    hostname: i % 2 ? "host-odd" : "host-even",
    tags: i % 3 === 0 ? ["test", "third"] : ["test"],
    output: `history alert ${i} by user${i}`,
  });
}

describe("alert history over HTTP", () => {
  it("serves alerts from before a restart and a kill, paginated and filtered, and counts them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "peregrine-history-it-"));
    const dataDir = join(dir, "data");
    const config = { storage: { fsync: false }, outputs: [{ name: "file", type: "file", path: join(dir, "out.ndjson") }] };
    let router: RouterProcess = await startRouter({ config, dataDir });
    cleanups.push(() => router.kill());
    const sent: string[] = [];
    for (let i = 0; i < 30; i++) {
      const a = alertAt(i);
      expect((await router.post(a)).status).toBe(200);
      sent.push(a.uuid as string);
    }
    expect(await router.stop("SIGTERM")).toBe(0);

    router = await startRouter({ config, dataDir });
    cleanups.push(() => router.kill());
    // Page through everything, 7 at a time: newest page first, each page oldest first.
    const seen: string[] = [];
    let url = "/api/alerts?limit=7";
    let pages = 0;
    for (;;) {
      const res = await router.get(url);
      expect(res.status).toBe(200);
      const page = res.json as Page;
      pages++;
      seen.unshift(...page.alerts.map((a) => a.uuid));
      if (!page.next_cursor) break;
      url = `/api/alerts?limit=7&cursor=${encodeURIComponent(page.next_cursor)}`;
    }
    expect(pages).toBe(5);
    expect(seen).toEqual(sent);

    const get = async (query: string) => {
      const res = await router.get(`/api/alerts?${query}`);
      expect(res.status, JSON.stringify(res.json)).toBe(200);
      return (res.json as Page).alerts;
    };
    const from = new Date(T0 + 10 * 60_000).toISOString();
    const to = new Date(T0 + 20 * 60_000).toISOString();
    expect((await get(`from=${from}&to=${to}`)).map((a) => a.uuid)).toEqual(sent.slice(10, 20));
    expect((await get("priority=Critical")).map((a) => a.uuid)).toEqual(sent.filter((_, i) => i % 4 === 0));
    expect((await get("priority=critical,error")).length).toBe(15);
    expect((await get(`rule=${encodeURIComponent("Test rule 3")}`)).every((a) => a.rule === "Test rule 3")).toBe(true);
    expect((await get("hostname=host-odd")).length).toBe(15);
    expect((await get("tag=third")).map((a) => a.uuid)).toEqual(sent.filter((_, i) => i % 3 === 0));
    expect((await get("source=syscall")).length).toBe(30);
    expect((await get("q=user17")).map((a) => a.uuid)).toEqual([sent[17]]);
    // Free text covers the fields too (proc.name cat, n: 12).
    expect((await get("q=cat&hostname=host-even&tag=third")).map((a) => a.uuid)).toEqual(sent.filter((_, i) => i % 6 === 0));

    const bad = await router.get("/api/alerts?priority=Loud");
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { code: "INGEST_INVALID_FIELD", field: "priority" } });
    const badCursor = await router.get("/api/alerts?cursor=nonsense");
    expect(badCursor.status).toBe(400);
    expect(badCursor.json).toMatchObject({ error: { code: "INGEST_INVALID_FIELD", field: "cursor" } });

    const stats = await router.get(`/api/stats?from=${T0}&to=${T0 + 30 * 60_000}&bucket_ms=600000&group_by=tag`);
    expect(stats.status).toBe(200);
    const s = stats.json as { total: number; buckets: unknown[]; by_priority: Record<string, number>; top_rules: { rule: string }[]; groups: { totals: { key: string; count: number }[] } };
    expect(s.total).toBe(30);
    expect(s.buckets).toHaveLength(3);
    expect(s.by_priority).toEqual({ Critical: 8, Warning: 8, Notice: 7, Error: 7 });
    expect(s.top_rules).toHaveLength(7);
    expect(s.groups.totals).toEqual([
      { key: "test", count: 30 },
      { key: "third", count: 10 },
    ]);
    const badStats = await router.get("/api/stats?from=1&group_by=colour");
    expect(badStats.status).toBe(400);
    expect(badStats.json).toMatchObject({ error: { code: "INGEST_INVALID_FIELD", field: "group_by" } });

    // An alert the router answered and served survives a kill -9.
    const late = makeAlert(99, { uuid: randomUUID(), output: "after the restart" });
    expect((await router.post(late)).status).toBe(200);
    await waitUntil(async () => (await get("q=restart")).length === 1, 60_000, "the late alert in the history");
    await router.kill();
    router = await startRouter({ config, dataDir });
    cleanups.push(() => router.kill());
    expect((await get("q=restart")).map((a) => a.uuid)).toEqual([late.uuid]);
    expect((await get("limit=1000")).length).toBe(31);
  }, 300_000);
});
