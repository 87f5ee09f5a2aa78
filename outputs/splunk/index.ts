import { randomUUID } from "node:crypto";
import type { Alert } from "../../src/alert.js";
import { s } from "../../src/config/schema.js";
import { classifyHttpStatus, classifyNetworkError, createDispatcher, httpSend, tlsShape, type TlsConfig } from "../../src/delivery/http.js";
import { defineOutput, type SendResult } from "../../src/delivery/output.js";

/**
 * Splunk HTTP Event Collector: a batch is one request of concatenated event objects. With
 * `ack` on (indexer acknowledgment), a batch counts as delivered only once Splunk says it
 * was indexed; an ack that does not come in `ack_timeout_ms` sends the batch again
 * (at-least-once: Splunk may then hold it twice).
 */
export const splunkOutput = defineOutput({
  type: "splunk",
  summary: "Sends alerts to Splunk's HTTP Event Collector (HEC), optionally waiting for indexer acknowledgment.",
  schema: s.object({
    url: s.string().asUrl().describe("The HEC base URL (https://splunk:8088); /services/collector/event is appended."),
    token: s.string().notEmpty().describe("The HEC token (a secret: prefer ${SPLUNK_HEC_TOKEN}); sent as Authorization: Splunk <token>."),
    index: s.string().optional().describe("Index for the events (the token's default otherwise)."),
    sourcetype: s.string().default("falco").describe("sourcetype of the events."),
    source: s.string().default("peregrine").describe("source of the events."),
    ack: s.boolean().default(false).describe("Wait for indexer acknowledgment (the token must have it enabled)."),
    ack_timeout_ms: s.int().range(1000).default(60_000).describe("How long to wait for an acknowledgment before sending the batch again."),
    tls: tlsShape.optional(),
  }),
  laneDefaults: { batch: { max_events: 500, max_bytes: 1_000_000, max_wait_ms: 1000 }, concurrency: 2 },
  create(config) {
    const base = config.url.replace(/\/+$/, "");
    const dispatcher = createDispatcher(config.tls as TlsConfig | undefined, 4);
    // One channel per output instance: acks are looked up per channel.
    const headers: Record<string, string> = { "content-type": "application/json", authorization: `Splunk ${config.token}`, "x-splunk-request-channel": randomUUID() };

    function event(alert: Alert): string {
      const seconds = Date.parse(alert.time);
      return JSON.stringify({
        ...(Number.isFinite(seconds) ? { time: seconds / 1000 } : {}),
        host: alert.hostname || "falco",
        source: config.source,
        sourcetype: config.sourcetype,
        ...(config.index !== undefined ? { index: config.index } : {}),
        event: alert,
      });
    }

    async function waitForAck(ackId: number, signal: AbortSignal): Promise<SendResult> {
      const deadline = Date.now() + config.ack_timeout_ms;
      let delay = 100;
      while (Date.now() < deadline) {
        const res = await httpSend(`${base}/services/collector/ack`, { method: "POST", headers, body: JSON.stringify({ acks: [ackId] }), signal, dispatcher, wantBody: true });
        if (res.status !== 200) return classifyHttpStatus(res.status, res.headers, res.text);
        const acks = (JSON.parse(res.text) as { acks?: Record<string, boolean> }).acks ?? {};
        if (acks[String(ackId)] === true) return { kind: "ok" };
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 2000);
      }
      return { kind: "retry", reason: `Splunk did not acknowledge ack ${ackId} within ${config.ack_timeout_ms} ms` };
    }

    return {
      async send(batch, signal): Promise<SendResult> {
        const body = batch.map(event).join("\n");
        try {
          const res = await httpSend(`${base}/services/collector/event`, { method: "POST", headers, body, signal, dispatcher, wantBody: config.ack });
          if (res.status !== 200 || !config.ack) return classifyHttpStatus(res.status, res.headers, res.text);
          const ackId = (JSON.parse(res.text) as { ackId?: unknown }).ackId;
          if (typeof ackId !== "number") return { kind: "reject", reason: `HEC answered without an ackId (is indexer acknowledgment enabled on the token?): ${res.text.slice(0, 200)}` };
          return await waitForAck(ackId, signal);
        } catch (err) {
          return classifyNetworkError(err);
        }
      },
      async close() {
        await dispatcher.close();
      },
    };
  },
});
