/**
 * The detector's spool to a router, against a real HTTP receiver: retries keep the uuid, a
 * restart of either side loses nothing, one bad alert does not block the rest, and a full
 * spool drops the oldest.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, describe, expect, it } from "vitest";
import type { DetectorAlert } from "../../../src/detector/ruleset.js";
import { AlertForwarder } from "../../../src/detector/sources/syscall/forwarder.js";
import { Receiver } from "../../harness/receiver.js";

const logger = pino({ level: "silent" });

function alert(rule: string): DetectorAlert {
  return { time: new Date().toISOString(), priority: "Warning", rule, output: `${rule} happened`, output_fields: { "proc.name": "cat" }, source: "syscall", tags: [], hostname: "h" };
}

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

const open: (AlertForwarder | Receiver)[] = [];
afterEach(async () => {
  for (const x of open.splice(0)) await x.stop().catch(() => undefined);
});

function forwarder(receiver: Receiver, spoolPath: string, extra: Partial<ConstructorParameters<typeof AlertForwarder>[0]> = {}) {
  const f = new AlertForwarder({ routerUrl: `http://127.0.0.1:${receiver.port}`, spoolPath, logger, initialBackoffMs: 50, maxBackoffMs: 200, ...extra });
  open.push(f);
  return f;
}

describe("detector spool to a router", () => {
  it("retries 503s with the same uuids and delivers each alert once", async () => {
    const rx = await new Receiver().start();
    open.push(rx);
    rx.behavior = (_r, i) => ({ status: i < 2 ? 503 : 200 });
    const f = forwarder(rx, join(mkdtempSync(join(tmpdir(), "pg-spool-")), "s.db"));
    f.start();
    f.enqueue(alert("a"));
    f.enqueue(alert("b"));
    await until(() => f.stats().sent === 2);
    const tried = rx.alerts(() => true).map((a) => a.uuid);
    const delivered = rx.alerts();
    expect(delivered.map((a) => a.rule).sort()).toEqual(["a", "b"]);
    expect(new Set(tried)).toEqual(new Set(delivered.map((a) => a.uuid))); // retried with the same uuids
    expect(f.stats()).toMatchObject({ spooled: 0, sent: 2, failedAttempts: 2 });
  });

  it("alerts spooled while the router is down survive our restart and arrive later", async () => {
    const rx = await new Receiver().start();
    const port = rx.port;
    await rx.stop();
    const path = join(mkdtempSync(join(tmpdir(), "pg-spool-")), "s.db");
    const f1 = new AlertForwarder({ routerUrl: `http://127.0.0.1:${port}`, spoolPath: path, logger, initialBackoffMs: 50, maxBackoffMs: 100 });
    f1.start();
    for (const r of ["x", "y", "z"]) f1.enqueue(alert(r));
    await until(() => f1.stats().failedAttempts > 0);
    await f1.stop();

    await rx.start(port);
    open.push(rx);
    const f2 = forwarder(rx, path);
    expect(f2.stats().spooled).toBe(3);
    f2.start();
    await until(() => f2.stats().sent === 3);
    expect(rx.alerts().map((a) => a.rule)).toEqual(["x", "y", "z"]);
  });

  it("a rejected alert is dropped without blocking the others", async () => {
    const rx = await new Receiver().start();
    open.push(rx);
    rx.behavior = (r) => ({ status: r.body.includes('"rule":"bad"') ? 400 : 200 });
    const f = forwarder(rx, join(mkdtempSync(join(tmpdir(), "pg-spool-")), "s.db"));
    f.enqueue(alert("good1"));
    f.enqueue(alert("bad"));
    f.enqueue(alert("good2"));
    f.start();
    await until(() => f.stats().spooled === 0);
    expect(rx.alerts().map((a) => a.rule).sort()).toEqual(["good1", "good2"]);
  });

  it("a full spool gives way to the newest alerts", async () => {
    const rx = await new Receiver().start();
    open.push(rx);
    const f = forwarder(rx, join(mkdtempSync(join(tmpdir(), "pg-spool-")), "s.db"), { maxSpooled: 2 });
    for (const r of ["1", "2", "3"]) f.enqueue(alert(r));
    expect(f.stats()).toMatchObject({ spooled: 2, dropped: 1 });
    f.start();
    await until(() => f.stats().sent === 2);
    expect(rx.alerts().map((a) => a.rule)).toEqual(["2", "3"]);
  });
});
