/**
 * A contract fake of Datadog's Events API v1 (POST /api/v1/events), since tests cannot reach
 * Datadog. It checks the DD-API-KEY header and each event against the documented schema:
 * title (required, at most 100 characters), text (required, at most 4000), alert_type
 * error | warning | info | success, priority normal | low, tags a list of strings,
 * date_happened a POSIX timestamp. It answers as Datadog does: 202 {"status":"ok","event":...};
 * 400 {"errors":[...]}; 403 {"errors":["Forbidden"]} for an unknown key (ending in "revoked");
 * 429 with X-RateLimit-Limit/-Period/-Remaining/-Reset and no Retry-After.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface DatadogEvent {
  title: string;
  text: string;
  alert_type?: string;
  host?: string;
  tags?: string[];
  [k: string]: unknown;
}

export interface DatadogFake {
  readonly site: string;
  readonly port: number;
  readonly events: DatadogEvent[];
  readonly refusals: string[];
  /** 429 answers with X-RateLimit-Reset = `reset` seconds. */
  setFault(fault: { status: number; reset?: number } | undefined): void;
  close(): Promise<void>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

export function checkDatadogEvent(e: unknown): string | undefined {
  if (!isObj(e)) return "Invalid JSON structure";
  if (typeof e.title !== "string" || e.title === "") return "Event title is required";
  if (e.title.length > 100) return "Event title exceeds 100 characters";
  if (typeof e.text !== "string" || e.text === "") return "Event text is required";
  if (e.text.length > 4000) return "Event text exceeds 4000 characters";
  if (e.alert_type !== undefined && !["error", "warning", "info", "success", "user_update", "recommendation", "snapshot"].includes(e.alert_type as string)) return "Invalid alert_type";
  if (e.priority !== undefined && !["normal", "low"].includes(e.priority as string)) return "Invalid priority";
  if (e.tags !== undefined && (!Array.isArray(e.tags) || e.tags.some((t) => typeof t !== "string"))) return "tags must be a list of strings";
  if (e.date_happened !== undefined && !Number.isInteger(e.date_happened)) return "date_happened must be a POSIX timestamp";
  return undefined;
}

export async function startDatadogFake(port = 0): Promise<DatadogFake> {
  const events: DatadogEvent[] = [];
  const refusals: string[] = [];
  let fault: { status: number; reset?: number } | undefined;
  let nextId = 1;
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(body));
      };
      if (req.method !== "POST" || req.url !== "/api/v1/events") return json(404, { errors: ["Not found"] });
      const key = String(req.headers["dd-api-key"] ?? "");
      if (key === "" || key.endsWith("revoked")) return json(403, { errors: ["Forbidden"] });
      if (fault) {
        if (fault.status === 429)
          return json(429, { errors: ["Too many requests"] }, { "x-ratelimit-limit": "1000", "x-ratelimit-period": "60", "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(fault.reset ?? 1) });
        return json(fault.status, { errors: ["Internal Server Error"] });
      }
      let e: unknown;
      try {
        e = JSON.parse(Buffer.concat(chunks).toString("utf8"));
      } catch {
        return json(400, { errors: ["Invalid JSON structure"] });
      }
      const problem = checkDatadogEvent(e);
      if (problem) {
        refusals.push(problem);
        return json(400, { errors: [problem] });
      }
      events.push(e as DatadogEvent);
      json(202, { status: "ok", event: { id: nextId++, ...(e as object) } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  const p = (server.address() as AddressInfo).port;
  return {
    site: `http://127.0.0.1:${p}`,
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
