import type { Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { classifyHttpStatus, classifyNetworkError, createDispatcher, httpSend, tlsShape, type TlsConfig } from "../../src/delivery/http.js";
import { defineOutput, type SendResult, sendEach } from "../../src/delivery/output.js";
import { checkTemplate, compileTemplate, toText, truncateText } from "../../src/templates/index.js";

/** Opsgenie's documented field limits (Alert API, create alert). */
export const OPSGENIE_LIMITS = { message: 130, alias: 512, description: 15_000, tags: 20, tag: 50, details: 8000, entity: 512, source: 100 } as const;
const L = OPSGENIE_LIMITS;

const ENDPOINTS = { us: "https://api.opsgenie.com/v2/alerts", eu: "https://api.eu.opsgenie.com/v2/alerts" } as const;

/** Falco priorities onto P1–P5, as Falcosidekick maps them. */
export function opsgeniePriority(priority: string): "P1" | "P2" | "P3" | "P4" | "P5" {
  switch (priority.toLowerCase()) {
    case "emergency":
    case "alert":
      return "P1";
    case "critical":
      return "P2";
    case "error":
      return "P3";
    case "warning":
      return "P4";
    default:
      return "P5";
  }
}

function compileAlias(source: string) {
  return compileTemplate(source, { name: "alias", escape: "none" });
}

/** Opsgenie Alert API: one create-alert request per alert; `alias` is Opsgenie's de-duplication key. */
export const opsgenieOutput = defineOutput({
  type: "opsgenie",
  summary: "Creates Opsgenie alerts through the Alert API, prioritized P1–P5 from Falco's priority.",
  schema: s.object({
    api_key: s.string().notEmpty().describe("An API integration key (a secret: prefer ${OPSGENIE_API_KEY}); sent as GenieKey."),
    region: s.string().oneOf(["us", "eu"]).default("us").describe("The Opsgenie instance region."),
    url: s.string().asUrl().optional().describe("The alerts endpoint, instead of the region's (a proxy)."),
    alias: s.string().default("{{uuid}}").describe("Handlebars template of the alias (at most 512 characters): open alerts with the same alias are one."),
    responders: s.array(s.object({ type: s.string().oneOf(["team", "user", "escalation", "schedule"]).describe("Responder type."), name: s.string().notEmpty().describe("Its name.") })).default([]).describe("Teams, users, escalations or schedules to notify."),
    tls: tlsShape.optional(),
  }),
  laneDefaults: { batch: { max_events: 1, max_wait_ms: 0 }, concurrency: 4 },
  validate(config, ctx, path) {
    checkTemplate(ctx, `${path}.alias`, () => compileAlias(config.alias));
  },
  create(config) {
    const alias = compileAlias(config.alias);
    const url = config.url ?? ENDPOINTS[config.region as "us" | "eu"];
    const dispatcher = createDispatcher(config.tls as TlsConfig | undefined, 4);
    const headers = { "content-type": "application/json", authorization: `GenieKey ${config.api_key}` };

    function body(alert: Alert): string {
      // details: string values, cut so that all of them fit Opsgenie's 8000 characters.
      const details: Record<string, string> = { uuid: alert.uuid, rule: alert.rule, priority: alert.priority, source: alert.source };
      let used = Object.entries(details).reduce((n, [k, v]) => n + k.length + v.length, 0);
      const fields = alert.custom_fields ? { ...alert.output_fields, ...alert.custom_fields } : alert.output_fields;
      for (const [k, v] of Object.entries(fields)) {
        const value = truncateText(toText(v), 500, "…");
        if (used + k.length + value.length > L.details) break;
        details[k] = value;
        used += k.length + value.length;
      }
      const tags = (alert.tags ?? []).slice(0, L.tags).map((t) => truncateText(t, L.tag, ""));
      return JSON.stringify({
        message: truncateText(`${alert.priority}: ${alert.rule}`, L.message, "…"),
        alias: truncateText(alias.render(alert).trim() || alert.uuid, L.alias, ""),
        description: truncateText(alert.output || alert.rule, L.description, "…"),
        responders: config.responders,
        tags,
        details,
        entity: truncateText(alert.hostname || "falco", L.entity, ""),
        source: "Peregrine",
        priority: opsgeniePriority(alert.priority),
      });
    }

    async function sendOne(alert: Alert, signal: AbortSignal): Promise<SendResult> {
      try {
        const res = await httpSend(url, { method: "POST", headers, body: body(alert), signal, dispatcher });
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
