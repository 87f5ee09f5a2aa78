import type { Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { classifyHttpStatus, classifyNetworkError, createDispatcher, httpSend } from "../../src/delivery/http.js";
import { defineOutput, type SendResult, sendEach } from "../../src/delivery/output.js";
import { errorMessage } from "../../src/errors.js";
import { checkTemplate, compileTemplate, truncateText } from "../../src/templates/index.js";

/** Events API v2's documented limits: summary 1024 characters, dedup_key 255, an event 512 KB. */
export const PAGERDUTY_LIMITS = { summary: 1024, dedupKey: 255, eventBytes: 512 * 1024 } as const;

const ENDPOINTS = { us: "https://events.pagerduty.com/v2/enqueue", eu: "https://events.eu.pagerduty.com/v2/enqueue" } as const;

/** Falco priorities onto the four Events API severities. */
export function pagerdutySeverity(priority: string): "critical" | "error" | "warning" | "info" {
  switch (priority.toLowerCase()) {
    case "emergency":
    case "alert":
    case "critical":
      return "critical";
    case "error":
      return "error";
    case "warning":
      return "warning";
    default:
      return "info";
  }
}

function compileDedup(source: string) {
  return compileTemplate(source, { name: "dedup_key", escape: "none" });
}

/**
 * PagerDuty Events API v2: one `trigger` event per alert (the API takes one event per
 * request). `dedup_key` decides which alerts are one incident: by default each alert is its
 * own, as in Falcosidekick; `{{rule}}-{{hostname}}` folds repeats into one open incident.
 */
export const pagerdutyOutput = defineOutput({
  type: "pagerduty",
  summary: "Triggers PagerDuty incidents through the Events API v2, with a templated dedup_key.",
  schema: s.object({
    routing_key: s.string().notEmpty().describe("The integration's routing key (a secret: prefer ${PAGERDUTY_ROUTING_KEY})."),
    region: s.string().oneOf(["us", "eu"]).default("us").describe("The PagerDuty service region (the Events API host)."),
    url: s.string().asUrl().optional().describe("The Events API enqueue URL, instead of the region's (a proxy)."),
    dedup_key: s.string().default("{{uuid}}").describe("Handlebars template of the dedup_key (at most 255 characters): alerts with the same key are one incident."),
    source: s.string().default("{{#if hostname}}{{hostname}}{{else}}falco{{/if}}").describe("Template of payload.source: where the problem is."),
    component: s.string().optional().describe("payload.component (e.g. a cluster name)."),
    group: s.string().optional().describe("payload.group."),
  }),
  laneDefaults: {
    batch: { max_events: 1, max_wait_ms: 0 },
    concurrency: 4,
    // 120 events per minute per routing key.
    rate_limit: { per_second: 2, burst: 20 },
  },
  rateLimitedTarget: (config) => config.routing_key,
  validate(config, ctx, path) {
    checkTemplate(ctx, `${path}.dedup_key`, () => compileDedup(config.dedup_key));
    checkTemplate(ctx, `${path}.source`, () => compileDedup(config.source));
  },
  create(config) {
    const dedup = compileDedup(config.dedup_key);
    const source = compileDedup(config.source);
    const url = config.url ?? ENDPOINTS[config.region as "us" | "eu"];
    const dispatcher = createDispatcher(undefined, 4);
    const headers = { "content-type": "application/json" };

    function event(alert: Alert): Record<string, unknown> {
      const key = truncateText(dedup.render(alert).trim() || alert.uuid, PAGERDUTY_LIMITS.dedupKey, "");
      const payload: Record<string, unknown> = {
        summary: truncateText(`${alert.priority}: ${alert.rule}${alert.output ? ` - ${alert.output}` : ""}`, PAGERDUTY_LIMITS.summary, "…"),
        source: source.render(alert).trim() || "falco",
        severity: pagerdutySeverity(alert.priority),
        timestamp: alert.time,
        class: alert.rule,
        custom_details: { uuid: alert.uuid, rule: alert.rule, priority: alert.priority, output: alert.output, source: alert.source, tags: alert.tags, output_fields: alert.output_fields, ...(alert.custom_fields ? { custom_fields: alert.custom_fields } : {}) },
      };
      if (config.component !== undefined) payload.component = config.component;
      if (config.group !== undefined) payload.group = config.group;
      return { routing_key: config.routing_key, event_action: "trigger", dedup_key: key, payload, client: "Peregrine" };
    }

    async function sendOne(alert: Alert, signal: AbortSignal): Promise<SendResult> {
      let body: string;
      try {
        body = JSON.stringify(event(alert));
      } catch (err) {
        return { kind: "reject", reason: `cannot build the PagerDuty event: ${errorMessage(err)}` };
      }
      if (Buffer.byteLength(body) > PAGERDUTY_LIMITS.eventBytes) {
        // Fields are what can be large: drop them rather than lose the incident.
        const e = event(alert);
        (e.payload as Record<string, unknown>).custom_details = { uuid: alert.uuid, rule: alert.rule, priority: alert.priority, note: "output fields left out: the event exceeded 512 KB" };
        body = JSON.stringify(e);
      }
      try {
        const res = await httpSend(url, { method: "POST", headers, body, signal, dispatcher, wantBody: true });
        return classifyHttpStatus(res.status, res.headers, res.text);
      } catch (err) {
        return classifyNetworkError(err);
      }
    }

    return {
      send: (batch, signal) => sendEach(batch, (alert) => sendOne(alert, signal)),
      async close() {
        await dispatcher.close();
      },
    };
  },
});
