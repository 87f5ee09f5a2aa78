/**
 * A contract fake of PagerDuty's Events API v2 (POST /v2/enqueue), since tests cannot reach
 * PagerDuty. It checks each event against the documented schema and limits and answers as
 * PagerDuty does:
 * - routing_key: 32 characters; event_action trigger | acknowledge | resolve; dedup_key at most
 *   255 characters (required for acknowledge and resolve);
 * - payload (trigger): summary (1–1024), source, severity critical | error | warning | info
 *   required; timestamp ISO 8601 when present; custom_details an object;
 * - an event at most 512 KB;
 * - 202 {"status":"success","message":"Event processed","dedup_key":...}; 400 {"status":"invalid
 *   event","message":"Event object is invalid","errors":[...]}; 429 when over the rate.
 * Routing keys ending in "revoked" are unknown to it.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface PagerDutyEvent {
  routing_key: string;
  event_action: string;
  dedup_key?: string;
  payload?: { summary: string; source: string; severity: string; custom_details?: Record<string, unknown>; [k: string]: unknown };
  [k: string]: unknown;
}

export interface PagerDutyFake {
  readonly url: string;
  readonly port: number;
  readonly events: PagerDutyEvent[];
  readonly refusals: string[];
  /** Every request answered with this until cleared; 429 carries Retry-After when `retryAfter` is set. */
  setFault(fault: { status: number; retryAfter?: number } | undefined): void;
  close(): Promise<void>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function checkPagerDutyEvent(e: unknown, raw: string): string | undefined {
  if (Buffer.byteLength(raw) > 512 * 1024) return "Event object is too large (over 512 KB)";
  if (!isObj(e)) return "Event object is invalid";
  if (typeof e.routing_key !== "string" || e.routing_key.length !== 32) return "'routing_key' must be a 32 character string";
  if (!["trigger", "acknowledge", "resolve"].includes(e.event_action as string)) return "'event_action' is invalid (must be trigger, acknowledge or resolve)";
  if (e.dedup_key !== undefined && (typeof e.dedup_key !== "string" || e.dedup_key.length === 0 || e.dedup_key.length > 255)) return "'dedup_key' must be 1 to 255 characters";
  if (e.event_action !== "trigger") return e.dedup_key === undefined ? "'dedup_key' is required for acknowledge and resolve" : undefined;
  const p = e.payload;
  if (!isObj(p)) return "'payload' is missing or invalid";
  if (typeof p.summary !== "string" || p.summary.length === 0 || p.summary.length > 1024) return "'payload.summary' must be 1 to 1024 characters";
  if (typeof p.source !== "string" || p.source.length === 0) return "'payload.source' is missing or blank";
  if (!["critical", "error", "warning", "info"].includes(p.severity as string)) return "'payload.severity' must be critical, error, warning or info";
  if (p.timestamp !== undefined && (typeof p.timestamp !== "string" || Number.isNaN(Date.parse(p.timestamp)))) return "'payload.timestamp' is not a valid ISO 8601 timestamp";
  if (p.custom_details !== undefined && !isObj(p.custom_details)) return "'payload.custom_details' must be an object";
  return undefined;
}

export async function startPagerDutyFake(port = 0): Promise<PagerDutyFake> {
  const events: PagerDutyEvent[] = [];
  const refusals: string[] = [];
  let fault: { status: number; retryAfter?: number } | undefined;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(body));
      };
      const raw = Buffer.concat(chunks).toString("utf8");
      if (req.method !== "POST" || req.url !== "/v2/enqueue") return json(404, { status: "not found", message: "Not Found" });
      if (fault) {
        if (fault.status === 429) return json(429, { status: "throttle event", message: "Requests for this service are arriving too quickly. Please retry later." }, fault.retryAfter ? { "retry-after": String(fault.retryAfter) } : {});
        return json(fault.status, { status: "error", message: "Internal server error" });
      }
      let event: unknown;
      try {
        event = JSON.parse(raw);
      } catch {
        return json(400, { status: "invalid event", message: "Event object is invalid", errors: ["Malformed JSON"] });
      }
      if (isObj(event) && typeof event.routing_key === "string" && event.routing_key.endsWith("revoked"))
        return json(400, { status: "invalid event", message: "Event object is invalid", errors: ["Invalid routing key"] });
      const problem = checkPagerDutyEvent(event, raw);
      if (problem) {
        refusals.push(problem);
        return json(400, { status: "invalid event", message: "Event object is invalid", errors: [problem] });
      }
      const e = event as PagerDutyEvent;
      events.push(e);
      json(202, { status: "success", message: "Event processed", dedup_key: e.dedup_key ?? `generated-${events.length}` });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}/v2/enqueue`,
    port: p,
    events,
    refusals,
    setFault(f) {
      fault = f;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
