// The pagerduty output through the real router against the Events API v2 contract fake: the
// shared output conformance suite. Each run has its own component, so each finds its events.
import { afterAll, beforeAll, expect } from "vitest";
import { startPagerDutyFake, type PagerDutyEvent, type PagerDutyFake } from "../harness/pagerduty-fake.js";
import { defineConformance } from "./conformance.js";

const KEY = "R0UTINGKEY0123456789ABCDEFGHIJKL";
let fake: PagerDutyFake;
let port = 0;
const earlier: PagerDutyEvent[] = [];

async function start(): Promise<void> {
  fake = await startPagerDutyFake(port);
  port = fake.port;
}
beforeAll(start);
afterAll(() => fake.close());

const uuidsOf = (run: string) =>
  [...earlier, ...fake.events].filter((e) => e.payload?.component === run).map((e) => String(e.payload?.custom_details?.uuid));

defineConformance({
  type: "pagerduty",
  volume: 300,
  config: (run) => ({ routing_key: KEY, url: fake.url, component: run, rate_limit: { per_second: 200, burst: 50 } }),
  count: async (run) => uuidsOf(run).length,
  uuids: async (run) => uuidsOf(run),
  stopService: async () => {
    earlier.push(...fake.events);
    await fake.close();
  },
  startService: start,
  faults: [
    { name: "HTTP 500", inject: async () => fake.setFault({ status: 500 }), heal: async () => fake.setFault(undefined) },
    { name: "HTTP 429 with Retry-After", inject: async () => fake.setFault({ status: 429, retryAfter: 1 }), heal: async () => fake.setFault(undefined) },
  ],
  permanent: { config: () => ({ routing_key: "R0UTINGKEY0123456789ABCDErevoked" }), reason: /HTTP 400: .*Invalid routing key/ },
  checkDelivered: async (run, alerts) => {
    expect(fake.refusals).toEqual([]);
    const events = fake.events.filter((e) => e.payload?.component === run);
    // The default dedup_key is the alert's uuid: each alert its own incident.
    for (const e of events) expect(e.dedup_key).toBe(e.payload?.custom_details?.uuid);
    const critical = alerts.find((a) => a.priority === "Critical")!;
    expect(events.find((e) => e.dedup_key === critical.uuid)?.payload).toMatchObject({ severity: "critical", source: critical.hostname, class: critical.rule });
  },
});
