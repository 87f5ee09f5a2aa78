// The datadog output sending straight to the Events API contract fake: limits and 429 waits.
import { tmpdir } from "node:os";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { datadogOutput } from "../../outputs/datadog/index.js";
import { ParseContext } from "../../src/config/schema.js";
import type { Output } from "../../src/delivery/output.js";
import { makeAlert } from "../harness/alerts.js";
import { startDatadogFake, type DatadogFake } from "../harness/datadog-fake.js";

let fake: DatadogFake;
beforeAll(async () => {
  fake = await startDatadogFake();
});
afterAll(() => fake.close());

function create(): Output {
  const ctx = new ParseContext();
  const config = datadogOutput.schema.parse({ api_key: "k", site: fake.site, tags: ["run:dd1"] }, ctx, "outputs[0]");
  expect(ctx.issues).toEqual([]);
  return datadogOutput.create(config, { name: "dd", logger: pino({ level: "silent" }), dataDir: tmpdir() });
}

describe("datadog output against the Events API contract fake", () => {
  it("cuts an oversized alert to the title and text limits instead of losing it", async () => {
    const out = create();
    const alert = makeAlert(0, { rule: "R".repeat(300), output: "o".repeat(10_000) });
    expect(await out.send([alert], AbortSignal.timeout(30_000))).toEqual({ kind: "ok" });
    await out.close();
    expect(fake.refusals).toEqual([]);
    const e = fake.events.find((x) => x.tags?.includes(`uuid:${alert.uuid}`))!;
    expect(e.title.length).toBe(100);
    expect(e.text.length).toBe(4000);
  });

  it("waits out a 429 for its X-RateLimit-Reset", async () => {
    const out = create();
    fake.setFault({ status: 429, reset: 9 });
    try {
      expect(await out.send([makeAlert(1)], AbortSignal.timeout(30_000))).toMatchObject({ kind: "retry", status: 429, retryAfterMs: 9000 });
    } finally {
      fake.setFault(undefined);
      await out.close();
    }
  });
});
