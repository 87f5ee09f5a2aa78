// The splunk output, with indexer acknowledgment, through the real router against the HEC
// contract fake: the shared output conformance suite. Each run has its own sourcetype.
import { afterAll, beforeAll, expect } from "vitest";
import { startSplunkFake, type HecEvent, type SplunkFake } from "../harness/splunk-fake.js";
import { defineConformance } from "./conformance.js";

let fake: SplunkFake;
let port = 0;
const earlier: HecEvent[] = [];

async function start(): Promise<void> {
  fake = await startSplunkFake({ ackTokens: ["hec-ack"], port });
  port = fake.port;
}
beforeAll(start);
afterAll(() => fake.close());

const ofRun = (run: string) => [...earlier, ...fake.events].filter((e) => e.sourcetype === run);

defineConformance({
  type: "splunk",
  volume: 1000,
  config: (run) => ({ url: fake.url, token: "hec-ack", ack: true, sourcetype: run, batch: { max_events: 100, max_wait_ms: 50 } }),
  count: async (run) => ofRun(run).length,
  uuids: async (run) => ofRun(run).map((e) => String(e.event.uuid)),
  stopService: async () => {
    earlier.push(...fake.events);
    await fake.close();
  },
  startService: start,
  faults: [
    { name: "HTTP 503 Server is busy", inject: async () => fake.setFault({ status: 503 }), heal: async () => fake.setFault(undefined) },
    { name: "HTTP 429 with Retry-After", inject: async () => fake.setFault({ status: 429, retryAfter: 1 }), heal: async () => fake.setFault(undefined) },
  ],
  permanent: { config: () => ({ token: "hec-revoked" }), reason: /HTTP 403: .*Invalid token/ },
  checkDelivered: async (run, alerts) => {
    expect(fake.refusals).toEqual([]);
    const e = ofRun(run).find((x) => x.event.uuid === alerts[0]!.uuid)!;
    expect(e).toMatchObject({ source: "peregrine", host: alerts[0]!.hostname, time: Date.parse(alerts[0]!.time) / 1000 });
  },
});
