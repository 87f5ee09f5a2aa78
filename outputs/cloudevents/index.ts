import type { Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { classifyHttpStatus, classifyNetworkError, createDispatcher, httpSend, splitUserinfo, tlsShape, type TlsConfig } from "../../src/delivery/http.js";
import { defineOutput, type SendResult, sendEach } from "../../src/delivery/output.js";

/** CloudEvents 1.0: extension attribute names are lower-case letters and digits, at most 20 characters. */
const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;
/** Attributes the spec defines: an extension may not take their names. */
const RESERVED = new Set(["specversion", "id", "source", "type", "datacontenttype", "dataschema", "subject", "time", "data", "data_base64"]);

/**
 * CloudEvents 1.0 over HTTP, one event per alert (id: the alert's uuid, so a receiver can
 * drop the duplicates at-least-once delivery may bring):
 * - binary: the alert JSON is the body, the attributes are ce-* headers;
 * - structured: the body is the whole event (application/cloudevents+json), the alert its data.
 */
export const cloudeventsOutput = defineOutput({
  type: "cloudevents",
  summary: "Sends each alert as a CloudEvents 1.0 event over HTTP, in binary or structured mode.",
  schema: s.object({
    url: s.string().asUrl().describe("The receiver (a Knative broker, an event gateway, ...)."),
    mode: s.string().oneOf(["binary", "structured"]).default("binary").describe("binary: attributes in ce-* headers, the alert as the body; structured: the whole event as the body."),
    source: s.string().notEmpty().default("https://falco.org/peregrine").describe("The event's source attribute (a URI reference)."),
    event_type: s.string().notEmpty().default("falco.rule.output.v1").describe("The event's type attribute (Falcosidekick's, so subscriptions keep matching)."),
    extensions: s.record(s.string()).default({}).describe("Extension attributes (lower-case letters and digits, at most 20 characters) and their values."),
    headers: s.record(s.string()).default({}).describe("Extra request headers (values may be ${ENV} references)."),
    tls: tlsShape.optional(),
  }),
  laneDefaults: { batch: { max_events: 1, max_wait_ms: 0 }, concurrency: 8 },
  validate(config, ctx, path) {
    for (const name of Object.keys(config.extensions)) {
      if (!EXTENSION_NAME.test(name)) ctx.error(`${path}.extensions.${name}`, "must be lower-case letters and digits, at most 20 characters (CloudEvents 1.0)");
      else if (RESERVED.has(name)) ctx.error(`${path}.extensions.${name}`, "is an attribute CloudEvents defines, not an extension");
    }
  },
  create(config) {
    const dispatcher = createDispatcher(config.tls as TlsConfig | undefined, 8);
    const target = splitUserinfo(config.url);
    const base: Record<string, string> = {};
    if (target.authorization !== undefined) base.authorization = target.authorization;
    for (const [name, value] of Object.entries(config.headers)) base[name.toLowerCase()] = value;

    function attributes(alert: Alert): Record<string, string> {
      return { specversion: "1.0", id: alert.uuid, source: config.source, type: config.event_type, subject: alert.rule, time: alert.time, ...config.extensions };
    }

    function request(alert: Alert): { headers: Record<string, string>; body: string } {
      if (config.mode === "structured")
        return {
          headers: { ...base, "content-type": "application/cloudevents+json; charset=utf-8" },
          body: JSON.stringify({ ...attributes(alert), datacontenttype: "application/json", data: alert }),
        };
      const headers: Record<string, string> = { ...base, "content-type": "application/json" };
      // Header values are percent-encoded where HTTP would not carry them (spec 3.1.3.2).
      for (const [k, v] of Object.entries(attributes(alert))) headers[`ce-${k}`] = encodeURI(v).replace(/%20/g, " ").replace(/"/g, "%22");
      return { headers, body: JSON.stringify(alert) };
    }

    async function sendOne(alert: Alert, signal: AbortSignal): Promise<SendResult> {
      const { headers, body } = request(alert);
      try {
        const res = await httpSend(target.url, { method: "POST", headers, body, signal, dispatcher });
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
