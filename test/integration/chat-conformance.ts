/**
 * The output conformance suite for a chat output, through the real router, against the
 * service's contract fake (test/harness/chat-fakes.ts). Every alert must be findable by uuid
 * at the "service", so digests are off here (each alert is shown in full, its uuid in its
 * footer); digests and limits are tested in chat-outputs.test.ts. Each run posts to its own
 * webhook (or chat), and no payload may be off-contract or ignore a 429's wait.
 */
import { afterAll, beforeAll, expect } from "vitest";
import { startChatFake, type AcceptedMessage, type ChatFake, type ChatService } from "../harness/chat-fakes.js";
import { defineConformance } from "./conformance.js";

const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

export function defineChatConformance(service: ChatService, permanentReason: RegExp): void {
  let fake: ChatFake;
  let port = 0;
  /** Messages of stopped fake instances, so a restart does not forget what was delivered. */
  const earlier: AcceptedMessage[] = [];
  const refusals: string[] = [];

  async function start(): Promise<void> {
    fake = await startChatFake(service, { perSecond: 200, burst: 50, port });
    port = fake.port;
  }
  beforeAll(start);
  afterAll(() => fake.close());

  function uuidsOf(run: string): string[] {
    const out: string[] = [];
    for (const m of [...earlier, ...fake.messages]) if (m.hook === run) out.push(...(JSON.stringify(m.payload).match(UUID) ?? []));
    return out;
  }

  defineConformance({
    type: service,
    volume: 300,
    config: (run) => ({
      ...fake.target(run),
      digest: { enabled: false },
      batch: { max_events: 5 },
      rate_limit: { per_second: 100, burst: 20 },
    }),
    count: async (run) => uuidsOf(run).length,
    uuids: async (run) => uuidsOf(run),
    stopService: async () => {
      earlier.push(...fake.messages);
      refusals.push(...fake.refusals.map((r) => r.detail), ...fake.violations.map((v) => v.detail));
      await fake.close();
    },
    startService: start,
    faults: [
      { name: "HTTP 503", inject: async () => fake.setFault({ status: 503 }), heal: async () => fake.setFault(undefined) },
      {
        name: service === "telegram" ? "HTTP 429 with parameters.retry_after" : "HTTP 429 with Retry-After",
        inject: async () => fake.setFault({ status: 429, retryAfter: 1 }),
        heal: async () => fake.setFault(undefined),
      },
    ],
    permanent: { config: (run) => fake.revokedTarget(run), reason: permanentReason },
    checkDelivered: async () => {
      // Every payload was within the service's contract, and no 429's wait was ignored.
      expect([...refusals, ...fake.refusals.map((r) => r.detail), ...fake.violations.map((v) => v.detail)]).toEqual([]);
    },
  });
}
