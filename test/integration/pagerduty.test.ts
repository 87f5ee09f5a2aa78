// The pagerduty output sending straight to the Events API v2 contract fake.
import { tmpdir } from "node:os";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pagerdutyOutput } from "../../outputs/pagerduty/index.js";
import { ParseContext } from "../../src/config/schema.js";
import type { Output } from "../../src/delivery/output.js";
import { makeAlert } from "../harness/alerts.js";
import { startPagerDutyFake, type PagerDutyFake } from "../harness/pagerduty-fake.js";

const KEY = "R0UTINGKEY0123456789ABCDEFGHIJKL";
let fake: PagerDutyFake;
beforeAll(async () => {
  fake = await startPagerDutyFake();
});
afterAll(() => fake.close());

function create(options: Record<string, unknown>): Output {
  const ctx = new ParseContext();
  const config = pagerdutyOutput.schema.parse({ routing_key: KEY, url: fake.url, ...options }, ctx, "outputs[0]");
  pagerdutyOutput.validate!(config, ctx, "outputs[0]");
  expect(ctx.issues).toEqual([]);
  return pagerdutyOutput.create(config, { name: "pd", logger: pino({ level: "silent" }), dataDir: tmpdir() });
}
const signal = () => AbortSignal.timeout(30_000);

describe("pagerduty output against the Events API v2 contract fake", () => {
  it("folds repeats into one incident with a templated dedup_key, and maps priorities to severities", async () => {
    const out = create({ dedup_key: "{{rule}}-{{hostname}}", component: "c1" });
    const alerts = [makeAlert(0, { priority: "Emergency" }), makeAlert(3, { priority: "Error" }), makeAlert(6, { priority: "Notice" })];
    expect(await out.send(alerts, signal())).toEqual({ kind: "ok" });
    await out.close();
    const events = fake.events.filter((e) => e.payload?.component === "c1");
    expect(events.map((e) => e.dedup_key)).toEqual(["Test rule 0-node-1", "Test rule 0-node-1", "Test rule 0-node-1"]);
    expect(events.map((e) => e.payload?.severity)).toEqual(["critical", "error", "info"]);
    expect(fake.refusals).toEqual([]);
  });

  it("cuts an oversized summary and dedup_key and drops fields past 512 KB instead of losing the incident", async () => {
    const out = create({ dedup_key: `${"k".repeat(300)}{{uuid}}`, component: "c2" });
    const alert = makeAlert(1, { output: "o".repeat(5000), output_fields: { big: "x".repeat(600 * 1024) } });
    expect(await out.send([alert], signal())).toEqual({ kind: "ok" });
    await out.close();
    const e = fake.events.find((x) => x.payload?.component === "c2")!;
    expect(e.payload!.summary.length).toBe(1024);
    expect(e.dedup_key!.length).toBe(255);
    expect(e.payload!.custom_details).toMatchObject({ uuid: alert.uuid, note: expect.stringContaining("512 KB") });
  });

  it("retries 429 after its Retry-After and rejects an unknown routing key for good", async () => {
    const out = create({});
    fake.setFault({ status: 429, retryAfter: 3 });
    try {
      expect(await out.send([makeAlert(2)], signal())).toMatchObject({ kind: "retry", status: 429, retryAfterMs: 3000 });
    } finally {
      fake.setFault(undefined);
      await out.close();
    }
    const revoked = create({ routing_key: "R0UTINGKEY0123456789ABCDErevoked" });
    expect(await revoked.send([makeAlert(2)], signal())).toMatchObject({ kind: "reject", reason: expect.stringContaining("Invalid routing key") });
    await revoked.close();
  });

  it("refuses a dedup_key template that does not compile, naming the key", () => {
    const ctx = new ParseContext();
    const config = pagerdutyOutput.schema.parse({ routing_key: KEY, dedup_key: "{{#if rule}}x" }, ctx, "outputs[0]");
    pagerdutyOutput.validate!(config, ctx, "outputs[0]");
    expect(ctx.issues.map((i) => i.path)).toContain("outputs[0].dedup_key");
  });
});
