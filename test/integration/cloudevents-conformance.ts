// The cloudevents output through the real router against a real HTTP receiver that reads each
// request as a CloudEvents 1.0 receiver would: the shared output conformance suite, per mode.
import { afterAll, beforeAll, expect } from "vitest";
import { parseCloudEvent, type ParsedEvent } from "../harness/cloudevents-check.js";
import { Receiver, type ReceivedRequest } from "../harness/receiver.js";
import { defineConformance } from "./conformance.js";

export function defineCloudEventsConformance(mode: "binary" | "structured"): void {
  const receiver = new Receiver();
  const problems: string[] = [];
  const accept = (r: ReceivedRequest) => {
    const e = parseCloudEvent(r);
    if (typeof e === "string") {
      problems.push(e);
      return { status: 400, body: JSON.stringify({ error: e }) };
    }
    return { status: 202 };
  };
  beforeAll(async () => {
    receiver.behavior = accept;
    await receiver.start();
  });
  afterAll(() => receiver.stop());

  const events = (run: string) =>
    receiver.requests
      .filter((r) => r.status >= 200 && r.status < 300)
      .map((r) => parseCloudEvent(r))
      .filter((e): e is ParsedEvent => typeof e !== "string" && e.attributes.run === run);

  defineConformance({
    type: "cloudevents",
    volume: 500,
    config: (run) => ({ url: receiver.url, mode, extensions: { run } }),
    count: async (run) => events(run).length,
    uuids: async (run) => events(run).map((e) => e.attributes.id!),
    stopService: () => receiver.stop(),
    startService: async () => {
      await receiver.start(receiver.port);
    },
    faults: [
      { name: "HTTP 503", inject: async () => void (receiver.behavior = () => ({ status: 503 })), heal: async () => void (receiver.behavior = accept) },
      {
        name: "HTTP 429 with Retry-After",
        inject: async () => void (receiver.behavior = () => ({ status: 429, headers: { "retry-after": "1" } })),
        heal: async () => void (receiver.behavior = accept),
      },
    ],
    permanent: {
      alert: (a) => ({ ...a, rule: "Refused rule" }),
      before: async () => {
        receiver.behavior = (r) => (r.body.includes("Refused rule") ? { status: 422, body: '{"error":"no subscription for this subject"}' } : accept(r));
      },
      after: async () => {
        receiver.behavior = accept;
      },
      reason: /HTTP 422: .*no subscription/,
    },
    checkDelivered: async (run, alerts) => {
      expect(problems).toEqual([]);
      const byId = new Map(events(run).map((e) => [e.attributes.id, e]));
      const first = byId.get(alerts[0]!.uuid)!;
      expect(first.mode).toBe(mode);
      expect(first.attributes).toMatchObject({ type: "falco.rule.output.v1", source: "https://falco.org/peregrine", subject: alerts[0]!.rule, time: alerts[0]!.time });
      expect(first.data).toMatchObject({ uuid: alerts[0]!.uuid, rule: alerts[0]!.rule, output_fields: alerts[0]!.output_fields });
    },
  });
}
