// The Loki output through the real router against the harness's Loki-protocol store:
// the conformance suite with the acceptance volume (10,000 alerts).
import { afterAll, beforeAll, expect } from "vitest";
import { LOGS } from "../harness/endpoints.js";
import { Gateway } from "../harness/gateway.js";
import { countLogs, queryLogs } from "../harness/logs-query.js";
import { services } from "../harness/services.js";
import { defineConformance } from "./conformance.js";

const gw = new Gateway(LOGS.url);
beforeAll(() => gw.start());
afterAll(() => gw.stop());
const viaGateway = () => ({ url: `${gw.url}/insert` });

defineConformance({
  type: "loki",
  volume: 10_000,
  exclusive: () => services.useExclusively("victorialogs"),
  config: (run) => ({
    url: LOGS.lokiUrl,
    labels: { run, env: "conformance" },
    label_fields: ["k8s.ns.name"],
    structured_metadata: ["uuid"],
  }),
  count: (run) => countLogs(`{run="${run}"}`),
  uuids: async (run) => (await queryLogs(`{run="${run}"} | fields uuid`)).map((r) => r.uuid!),
  stopService: async () => {
    await services.stop("victorialogs");
  },
  startService: () => services.start("victorialogs"),
  faults: [
    {
      name: "HTTP 503",
      config: viaGateway,
      inject: async () => {
        gw.fault = { status: 503, body: "ingester not ready" };
      },
      heal: async () => {
        gw.fault = undefined;
      },
    },
    {
      name: "HTTP 429 with Retry-After",
      config: viaGateway,
      inject: async () => {
        gw.fault = { status: 429, body: "ingestion rate limit exceeded", headers: { "retry-after": "1" } };
      },
      heal: async () => {
        gw.fault = undefined;
      },
    },
    {
      name: "the store unavailable",
      inject: async () => {
        await services.stop("victorialogs");
      },
      heal: () => services.start("victorialogs"),
    },
  ],
  permanent: {
    // The store refuses a tenant it cannot parse with 400 and its own message.
    config: () => ({ tenant: "no-such-tenant" }),
    reason: /HTTP 400: .*no-such-tenant/,
  },
  async checkDelivered(run, alerts) {
    // The configured labels, and the built-in ones, on every line.
    const perStream = await queryLogs(`{run="${run}"} | stats by (_stream) count() as n`);
    const expected = new Map<string, number>();
    for (const a of alerts) {
      const s = `{env="conformance",hostname="${a.hostname}",k8s_ns_name="payments",priority="${a.priority}",rule="${a.rule}",run="${run}",source="${a.source}"}`;
      expected.set(s, (expected.get(s) ?? 0) + 1);
    }
    expect(new Map(perStream.map((r) => [r._stream, Number(r.n)]))).toEqual(expected);
  },
});
