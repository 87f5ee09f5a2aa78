// The datadog output through the real router against the Events API contract fake: the shared
// output conformance suite. Each run tags its events run:<id>, so each finds its own.
import { afterAll, beforeAll, expect } from "vitest";
import { startDatadogFake, type DatadogEvent, type DatadogFake } from "../harness/datadog-fake.js";
import { defineConformance } from "./conformance.js";

let fake: DatadogFake;
let port = 0;
const earlier: DatadogEvent[] = [];

async function start(): Promise<void> {
  fake = await startDatadogFake(port);
  port = fake.port;
}
beforeAll(start);
afterAll(() => fake.close());

const ofRun = (run: string) => [...earlier, ...fake.events].filter((e) => e.tags?.includes(`run:${run}`));
const uuidOf = (e: DatadogEvent) => e.tags!.find((t) => t.startsWith("uuid:"))!.slice(5);

defineConformance({
  type: "datadog",
  volume: 300,
  config: (run) => ({ api_key: "dd-key", site: fake.site, tags: [`run:${run}`] }),
  count: async (run) => ofRun(run).length,
  uuids: async (run) => ofRun(run).map(uuidOf),
  stopService: async () => {
    earlier.push(...fake.events);
    await fake.close();
  },
  startService: start,
  faults: [
    { name: "HTTP 503", inject: async () => fake.setFault({ status: 503 }), heal: async () => fake.setFault(undefined) },
    { name: "HTTP 429 with X-RateLimit-Reset", inject: async () => fake.setFault({ status: 429, reset: 1 }), heal: async () => fake.setFault(undefined) },
  ],
  permanent: { config: () => ({ api_key: "dd-revoked" }), reason: /HTTP 403: .*Forbidden/ },
  checkDelivered: async (run, alerts) => {
    expect(fake.refusals).toEqual([]);
    const critical = alerts.find((a) => a.priority === "Critical")!;
    expect(ofRun(run).find((e) => uuidOf(e) === critical.uuid)).toMatchObject({ alert_type: "error", title: `Critical: ${critical.rule}`, host: critical.hostname });
  },
});
