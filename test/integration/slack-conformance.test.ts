// The Slack output through the real router against the local Slack stand-in: the output
// conformance suite. Every alert must be findable by uuid at the "service", so digests are
// off here (each alert is rendered in full, its uuid in the context line); digests and the
// rate limit are tested in slack.test.ts. Each run posts to its own webhook path.
import { afterAll, beforeAll } from "vitest";
import { startSlackServer, type ReceivedMessage, type SlackServer } from "../harness/slack-server.js";
import { defineConformance } from "./conformance.js";

let server: SlackServer;
let port = 0;
/** Messages of stopped server instances, so a restart does not forget what was delivered. */
const earlier: ReceivedMessage[] = [];
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

async function start(): Promise<void> {
  server = await startSlackServer({ perSecond: 200, burst: 50, port });
  port = server.port;
}

beforeAll(start);
afterAll(() => server.close());

function uuidsOf(run: string): string[] {
  const path = `/services/T0/B0/${run}`;
  const out: string[] = [];
  for (const m of [...earlier, ...server.messages]) if (m.path === path) out.push(...(JSON.stringify(m.payload).match(UUID) ?? []));
  return out;
}

defineConformance({
  type: "slack",
  config: (run) => ({
    webhook_url: server.webhookUrl(`T0/B0/${run}`),
    digest: { enabled: false },
    batch: { max_events: 20 },
    rate_limit: { per_second: 100, burst: 20 },
  }),
  count: async (run) => uuidsOf(run).length,
  uuids: async (run) => uuidsOf(run),
  stopService: async () => {
    earlier.push(...server.messages);
    await server.close();
  },
  startService: start,
  faults: [
    {
      name: "HTTP 500 rollup_error",
      inject: async () => server.setFault({ status: 500, body: "rollup_error" }),
      heal: async () => server.setFault(undefined),
    },
    {
      name: "HTTP 429 with Retry-After",
      inject: async () => server.setFault({ status: 429, body: "rate_limited", headers: { "retry-after": "1" } }),
      heal: async () => server.setFault(undefined),
    },
  ],
  permanent: {
    // A webhook Slack no longer knows (revoked or deleted) answers 404 no_service.
    config: (run) => ({ webhook_url: server.webhookUrl(`T0/B0/${run}`).replace("/services/", "/revoked/") }),
    reason: /HTTP 404: no_service/,
  },
});
