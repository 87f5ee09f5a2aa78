// The Alertmanager output through the real router against the harness's Alertmanager:
// the output conformance suite. The router reaches Alertmanager through a gateway (as a
// deployment's proxy), which also answers the 503 and 429 faults. Alertmanager keeps alerts
// in memory only (Prometheus re-sends them), so before a stop the gateway holds traffic
// back, what Alertmanager received is snapshotted, then it stops: as the Slack suite keeps
// its stand-in's earlier messages.
import { afterAll, beforeAll } from "vitest";
import { request } from "undici";
import { ALERTMANAGER } from "../harness/endpoints.js";
import { Gateway } from "../harness/gateway.js";
import { services } from "../harness/services.js";
import { defineConformance } from "./conformance.js";

const gw = new Gateway(ALERTMANAGER.url);
beforeAll(() => gw.start());
afterAll(() => gw.stop());

/** uuids per run that Alertmanager held before it was stopped. */
const earlier = new Map<string, string[]>();

async function held(filter: string): Promise<{ labels: Record<string, string>; annotations: Record<string, string> }[]> {
  const res = await request(`${ALERTMANAGER.url}/api/v2/alerts?filter=${encodeURIComponent(filter)}`);
  if (res.statusCode !== 200) throw new Error(`Alertmanager answered ${res.statusCode}`);
  return (await res.body.json()) as { labels: Record<string, string>; annotations: Record<string, string> }[];
}

async function uuidsOf(run: string): Promise<string[]> {
  const now = (await held(`run="${run}"`)).map((a) => a.annotations.uuid!);
  return [...new Set([...(earlier.get(run) ?? []), ...now])];
}

async function stop(): Promise<void> {
  // No request may be in flight between the snapshot and the stop, or its alerts are forgotten.
  gw.fault = { status: 503, body: "held back while Alertmanager stops" };
  while (gw.requests.some((r) => r.status === 0)) await new Promise((r) => setTimeout(r, 20));
  for (const a of await held('run=~".+"')) {
    const list = earlier.get(a.labels.run!) ?? [];
    list.push(a.annotations.uuid!);
    earlier.set(a.labels.run!, list);
  }
  await services.stop("alertmanager");
  gw.fault = undefined; // the gateway now answers 502: Alertmanager is down
}

defineConformance({
  type: "alertmanager",
  exclusive: () => services.useExclusively("alertmanager"),
  config: (run) => ({ url: gw.url, labels: { run, suite: "conformance" } }),
  count: async (run) => (await uuidsOf(run)).length,
  uuids: (run) => uuidsOf(run),
  stopService: stop,
  startService: () => services.start("alertmanager"),
  faults: [
    {
      name: "HTTP 503",
      inject: async () => {
        gw.fault = { status: 503, body: "service unavailable" };
      },
      heal: async () => {
        gw.fault = undefined;
      },
    },
    {
      name: "HTTP 429 with Retry-After",
      inject: async () => {
        gw.fault = { status: 429, body: "too many requests", headers: { "retry-after": "1" } };
      },
      heal: async () => {
        gw.fault = undefined;
      },
    },
    { name: "Alertmanager stopped", inject: stop, heal: () => services.start("alertmanager") },
  ],
  permanent: {
    // A wrong API path: Alertmanager answers 404 with its own message, for good.
    config: () => ({ endpoint: "/api/v2/alert" }),
    reason: /HTTP 404/,
  },
  async checkDelivered(run, alerts) {
    const got = await held(`run="${run}"`);
    const byUuid = new Map(got.map((a) => [a.annotations.uuid, a]));
    for (const a of alerts.slice(0, 50)) {
      const am = byUuid.get(a.uuid)!;
      if (am.labels.alertname !== a.rule || am.labels.priority !== a.priority || am.labels.seq !== String(a.output_fields.seq))
        throw new Error(`alert ${a.uuid} arrived with labels ${JSON.stringify(am.labels)}`);
    }
  },
});
