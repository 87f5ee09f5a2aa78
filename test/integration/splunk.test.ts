// The splunk output against the HEC contract fake: indexer acknowledgment.
import { tmpdir } from "node:os";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { splunkOutput } from "../../outputs/splunk/index.js";
import { ParseContext } from "../../src/config/schema.js";
import type { Output } from "../../src/delivery/output.js";
import { makeAlerts } from "../harness/alerts.js";
import { startSplunkFake, type SplunkFake } from "../harness/splunk-fake.js";

let fake: SplunkFake;
beforeAll(async () => {
  // Indexing takes 1.5 s: an output that does not wait for the ack would report delivery before it.
  fake = await startSplunkFake({ ackTokens: ["with-ack"], indexDelayMs: 1500 });
});
afterAll(() => fake.close());

function create(options: Record<string, unknown>): Output {
  const ctx = new ParseContext();
  const config = splunkOutput.schema.parse({ url: fake.url, ...options }, ctx, "outputs[0]");
  expect(ctx.issues).toEqual([]);
  return splunkOutput.create(config, { name: "splunk", logger: pino({ level: "silent" }), dataDir: tmpdir() });
}

describe("splunk output against the HEC contract fake", () => {
  it("with ack, reports a batch delivered only once Splunk has indexed it", async () => {
    const out = create({ token: "with-ack", ack: true, sourcetype: "acked" });
    const alerts = makeAlerts(25);
    expect(await out.send(alerts, AbortSignal.timeout(30_000))).toEqual({ kind: "ok" });
    await out.close();
    // Checked right after send returned: every event is already indexed.
    expect(fake.events.filter((e) => e.sourcetype === "acked").map((e) => e.event.uuid)).toEqual(alerts.map((a) => a.uuid));
  });

  it("says so when the token has no indexer acknowledgment", async () => {
    const out = create({ token: "plain", ack: true });
    const result = await out.send(makeAlerts(1), AbortSignal.timeout(30_000));
    await out.close();
    expect(result).toMatchObject({ kind: "reject", reason: expect.stringContaining("indexer acknowledgment") });
  });

  it("sends the batch again when the ack does not come in time", async () => {
    const out = create({ token: "with-ack", ack: true, ack_timeout_ms: 1000 });
    const result = await out.send(makeAlerts(1), AbortSignal.timeout(30_000));
    await out.close();
    expect(result).toMatchObject({ kind: "retry", reason: expect.stringContaining("did not acknowledge") });
  });
});
