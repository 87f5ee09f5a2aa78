// The opsgenie output through the real router against the Alert API contract fake: the shared
// output conformance suite. Each run has its own responder team, so each finds its alerts.
import { afterAll, beforeAll, expect } from "vitest";
import { startOpsgenieFake, type OpsgenieAlert, type OpsgenieFake } from "../harness/opsgenie-fake.js";
import { defineConformance } from "./conformance.js";

let fake: OpsgenieFake;
let port = 0;
const earlier: OpsgenieAlert[] = [];

async function start(): Promise<void> {
  fake = await startOpsgenieFake(port);
  port = fake.port;
}
beforeAll(start);
afterAll(() => fake.close());

const ofRun = (run: string) => [...earlier, ...fake.alerts].filter((a) => a.responders?.[0]?.name === run);

defineConformance({
  type: "opsgenie",
  volume: 300,
  config: (run) => ({ api_key: "key-0123", url: fake.url, responders: [{ type: "team", name: run }] }),
  count: async (run) => ofRun(run).length,
  uuids: async (run) => ofRun(run).map((a) => String(a.details?.uuid)),
  stopService: async () => {
    earlier.push(...fake.alerts);
    await fake.close();
  },
  startService: start,
  faults: [
    { name: "HTTP 503", inject: async () => fake.setFault({ status: 503 }), heal: async () => fake.setFault(undefined) },
    { name: "HTTP 429 with Retry-After", inject: async () => fake.setFault({ status: 429, retryAfter: 1 }), heal: async () => fake.setFault(undefined) },
  ],
  permanent: { config: () => ({ api_key: "key-revoked" }), reason: /HTTP 401: .*Could not authenticate/ },
  checkDelivered: async (run, alerts) => {
    expect(fake.refusals).toEqual([]);
    const critical = alerts.find((a) => a.priority === "Critical")!;
    expect(ofRun(run).find((a) => a.alias === critical.uuid)).toMatchObject({ priority: "P2", message: `Critical: ${critical.rule}`, entity: critical.hostname });
  },
});
