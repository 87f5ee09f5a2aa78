// The webhook output through the real router against a real HTTP receiver on loopback:
// the same conformance suite the Loki and Kafka outputs pass.
import { afterAll, beforeAll } from "vitest";
import { Receiver, type ReceivedRequest } from "../harness/receiver.js";
import { defineConformance } from "./conformance.js";

const receiver = new Receiver();
beforeAll(() => receiver.start());
afterAll(() => receiver.stop());

const ok = (run: string) => (r: ReceivedRequest) => r.status >= 200 && r.status < 300 && r.headers["x-run"] === run;

defineConformance({
  type: "webhook",
  volume: 2000,
  config: (run) => ({ url: receiver.url, headers: { "x-run": run }, batch: { max_events: 100, max_wait_ms: 50 } }),
  count: async (run) => receiver.alerts(ok(run)).length,
  uuids: async (run) => receiver.alerts(ok(run)).map((a) => a.uuid),
  stopService: () => receiver.stop(),
  startService: async () => {
    await receiver.start(receiver.port);
  },
  faults: [
    {
      name: "HTTP 503",
      inject: async () => {
        receiver.behavior = () => ({ status: 503, body: "maintenance" });
      },
      heal: async () => {
        receiver.behavior = () => ({ status: 200 });
      },
    },
    {
      name: "HTTP 429 with Retry-After",
      inject: async () => {
        receiver.behavior = () => ({ status: 429, headers: { "retry-after": "1" } });
      },
      heal: async () => {
        receiver.behavior = () => ({ status: 200 });
      },
    },
    {
      name: "the receiver down",
      inject: () => receiver.stop(),
      heal: async () => {
        await receiver.start(receiver.port);
      },
    },
  ],
  permanent: {
    config: () => ({ batch: { max_events: 1 } }),
    alert: (a) => ({ ...a, rule: "Refused rule" }),
    before: async () => {
      receiver.behavior = (r) => (r.body.includes("Refused rule") ? { status: 422, body: '{"error":"rule not allowed here"}' } : { status: 200 });
    },
    after: async () => {
      receiver.behavior = () => ({ status: 200 });
    },
    reason: /HTTP 422: .*rule not allowed here/,
  },
});
