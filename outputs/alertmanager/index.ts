/**
 * Prometheus Alertmanager: POSTs batches to `${url}/api/v2/alerts` with Falcosidekick's
 * labels (alertname, rule, priority, severity, source, eventsource, hostname, tags, fields)
 * and annotations (summary, description, info), so existing routes keep matching.
 *
 * Answers: 2xx ok; 429 and 5xx retry; 400 on a batch is resent alert by alert, so one alert
 * Alertmanager refuses does not take the rest of the batch with it (a `partial` result).
 */
import type { Dispatcher } from "undici";
import { PRIORITIES, type Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { classifyHttpStatus, classifyNetworkError, createDispatcher, httpSend, splitUserinfo, tlsShape, type TlsConfig } from "../../src/delivery/http.js";
import { defineOutput, type SendResult } from "../../src/delivery/output.js";
import { encodeAlert, isValidLabelName, type EncodeOptions } from "./encode.js";

const priorities = PRIORITIES.map((p) => p.toLowerCase());

const schema = s
  .object({
    url: s.string().asUrl().describe("Alertmanager's base URL, e.g. http://127.0.0.1:9093; one output per Alertmanager of an HA pair."),
    endpoint: s.string().default("/api/v2/alerts").describe("API path (API v1 was removed in Alertmanager 0.27)."),
    labels: s.record(s.string()).default({}).describe("Extra labels on every alert (Sidekick's extralabels); they win over built-in and field labels."),
    annotations: s.record(s.string()).default({}).describe("Extra annotations on every alert (Sidekick's extraannotations)."),
    field_labels: s
      .array(s.string().notEmpty())
      .default(["*"])
      .describe('Output fields that become labels (sanitized: k8s.ns.name -> k8s_ns_name): ["*"] all string/number fields (Sidekick\'s behaviour), [] none, or a list. Custom fields are always labels.'),
    severity_map: s
      .record(s.string().notEmpty())
      .default({})
      .describe("The `severity` label per priority (e.g. {error: critical}); unlisted priorities use Sidekick's default mapping."),
    expires_after: s
      .duration()
      .range(0)
      .default(0)
      .describe("endsAt = the alert's time + this; 0 leaves endsAt out, so Alertmanager resolves after its resolve_timeout."),
    generator_url: s.string().asUrl().optional().describe("generatorURL of every alert (a link back, e.g. to the dashboard)."),
    headers: s.record(s.string()).default({}).describe("Extra request headers, e.g. Authorization (values may be ${ENV} references)."),
    tls: tlsShape.optional(),
  })
  .refine((c, ctx, path) => {
    for (const k of [...Object.keys(c.labels), ...Object.keys(c.annotations)])
      if (!isValidLabelName(k)) {
        const where = k in c.labels ? "labels" : "annotations";
        ctx.error(`${path}.${where}.${k}`, `"${k}" is not a valid Alertmanager name: use [A-Za-z_][A-Za-z0-9_]*, not starting with __`);
      }
    for (const p of Object.keys(c.severity_map))
      if (!priorities.includes(p.toLowerCase()))
        ctx.error(`${path}.severity_map.${p}`, `unknown priority "${p}"; one of ${priorities.join(", ")}`);
    if (!c.endpoint.startsWith("/")) ctx.error(`${path}.endpoint`, `must start with "/", got "${c.endpoint}"`);
  });

export const alertmanagerOutput = defineOutput({
  type: "alertmanager",
  summary: "Posts alerts to Prometheus Alertmanager (API v2) with Falcosidekick's labels and annotations.",
  schema,
  laneDefaults: { batch: { max_events: 500, max_bytes: 1024 * 1024, max_wait_ms: 200 } },
  create(config) {
    const dispatcher: Dispatcher = createDispatcher(config.tls as TlsConfig | undefined);
    // http://user:pass@host is Basic auth (an Authorization in headers still wins).
    const base = splitUserinfo(config.url);
    const target = new URL(config.endpoint, base.url).toString();
    const severityMap: Record<string, string> = {};
    for (const [p, v] of Object.entries(config.severity_map)) severityMap[p.toLowerCase()] = v;
    const options: EncodeOptions = {
      labels: config.labels,
      annotations: config.annotations,
      fieldLabels: config.field_labels,
      severityMap,
      expiresAfterMs: config.expires_after,
      ...(config.generator_url !== undefined ? { generatorUrl: config.generator_url } : {}),
    };
    const auth: Record<string, string> = base.authorization === undefined ? {} : { authorization: base.authorization };
    const headers: Record<string, string> = { "content-type": "application/json", ...auth, ...config.headers };

    async function post(batch: readonly Alert[], signal: AbortSignal): Promise<SendResult> {
      const body = JSON.stringify(batch.map((a) => encodeAlert(a, options)));
      try {
        const res = await httpSend(target, { method: "POST", headers, body, signal, dispatcher });
        return classifyHttpStatus(res.status, res.headers, res.text);
      } catch (err) {
        return classifyNetworkError(err);
      }
    }

    return {
      async send(batch, signal): Promise<SendResult> {
        const result = await post(batch, signal);
        if (result.kind !== "reject" || result.status !== 400 || batch.length === 1) return result;
        // Alertmanager validates the whole list: find the alerts it refuses, deliver the rest.
        const failed: { index: number; result: SendResult }[] = [];
        for (let i = 0; i < batch.length; i++) {
          const one = await post([batch[i]!], signal);
          if (one.kind !== "ok") failed.push({ index: i, result: one });
        }
        return failed.length === 0 ? { kind: "ok" } : { kind: "partial", failed };
      },
      async healthcheck(signal) {
        const res = await httpSend(new URL("/api/v2/status", base.url), { method: "GET", headers: { ...auth, ...config.headers }, signal, dispatcher });
        if (res.status !== 200) throw new Error(`GET /api/v2/status answered HTTP ${res.status}`);
      },
      async close() {
        await dispatcher.close();
      },
    };
  },
});
