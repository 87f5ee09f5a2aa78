import type { Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { classifyHttpStatus, classifyNetworkError, createDispatcher, httpSend, MAX_RETRY_AFTER_MS } from "../../src/delivery/http.js";
import { defineOutput, type SendResult, sendEach } from "../../src/delivery/output.js";
import { toText, truncateText } from "../../src/templates/index.js";

/** Datadog's Events API v1 limits: title 100 characters, text 4000. */
export const DATADOG_LIMITS = { title: 100, text: 4000 } as const;

/** Falco priorities onto Datadog's alert_type. */
export function datadogAlertType(priority: string): "error" | "warning" | "info" {
  const p = priority.toLowerCase();
  if (["emergency", "alert", "critical", "error"].includes(p)) return "error";
  return p === "warning" ? "warning" : "info";
}

/** Datadog says how long to wait in X-RateLimit-Reset (seconds), not in Retry-After. */
export function datadogAnswer(status: number, headers: Record<string, string | string[] | undefined>, text: string): SendResult {
  const result = classifyHttpStatus(status, headers, text);
  const reset = Number(headers["x-ratelimit-reset"]);
  if (result.kind === "retry" && result.retryAfterMs === undefined && status === 429 && Number.isFinite(reset) && reset >= 0)
    return { ...result, retryAfterMs: Math.min(reset * 1000, MAX_RETRY_AFTER_MS) };
  return result;
}

/** Datadog Events API v1: one event per alert, tagged with the rule, priority, source and Falco tags. */
export const datadogOutput = defineOutput({
  type: "datadog",
  summary: "Posts each alert as a Datadog event (Events API), tagged with rule, priority and tags.",
  schema: s.object({
    api_key: s.string().notEmpty().describe("A Datadog API key (a secret: prefer ${DD_API_KEY}); sent as DD-API-KEY."),
    site: s.string().asUrl().default("https://api.datadoghq.com").describe("The API host of your Datadog site (e.g. https://api.datadoghq.eu)."),
    tags: s.array(s.string()).default([]).describe("Extra tags on every event (key:value)."),
  }),
  laneDefaults: { batch: { max_events: 1, max_wait_ms: 0 }, concurrency: 4 },
  create(config) {
    const url = `${config.site.replace(/\/+$/, "")}/api/v1/events`;
    const dispatcher = createDispatcher(undefined, 4);
    const headers = { "content-type": "application/json", "dd-api-key": config.api_key };

    function event(alert: Alert): string {
      const fields = Object.entries(alert.custom_fields ? { ...alert.output_fields, ...alert.custom_fields } : alert.output_fields)
        .map(([k, v]) => `${k}: ${toText(v)}`)
        .join("\n");
      const tags = [`rule:${alert.rule}`, `priority:${alert.priority.toLowerCase()}`, `source:${alert.source}`, `uuid:${alert.uuid}`, ...(alert.tags ?? []), ...config.tags];
      const seconds = Date.parse(alert.time);
      return JSON.stringify({
        title: truncateText(`${alert.priority}: ${alert.rule}`, DATADOG_LIMITS.title, "…"),
        text: truncateText(`${alert.output || alert.rule}\n\n${fields}`, DATADOG_LIMITS.text, "… (truncated)"),
        alert_type: datadogAlertType(alert.priority),
        source_type_name: "falco",
        ...(alert.hostname ? { host: alert.hostname } : {}),
        ...(Number.isFinite(seconds) ? { date_happened: Math.floor(seconds / 1000) } : {}),
        aggregation_key: alert.uuid,
        tags,
      });
    }

    async function sendOne(alert: Alert, signal: AbortSignal): Promise<SendResult> {
      try {
        const res = await httpSend(url, { method: "POST", headers, body: event(alert), signal, dispatcher });
        return datadogAnswer(res.status, res.headers, res.text);
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
