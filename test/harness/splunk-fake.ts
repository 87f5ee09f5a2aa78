/**
 * A contract fake of Splunk's HTTP Event Collector, since tests cannot reach a Splunk: POST
 * /services/collector/event with `Authorization: Splunk <token>` and a body of concatenated
 * JSON event objects, each with an `event` (and optional time as epoch seconds, host, source,
 * sourcetype, index strings). Answers as HEC does: 200 {"text":"Success","code":0} (with
 * "ackId" when the token has indexer acknowledgment, which then needs an
 * X-Splunk-Request-Channel header); 400 {"text":"Invalid data format","code":6,
 * "invalid-event-number":n}; 401 code 2 without a token; 403 {"text":"Invalid token","code":4}
 * (tokens ending in "revoked"); 503 {"text":"Server is busy","code":9}. POST
 * /services/collector/ack {"acks":[ids]} answers {"acks":{"id":true|false}}; events become
 * visible (and acked) once "indexed", after `indexDelayMs`.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface HecEvent {
  time?: number;
  host?: string;
  source?: string;
  sourcetype?: string;
  index?: string;
  event: Record<string, unknown>;
}

export interface SplunkFake {
  readonly url: string;
  readonly port: number;
  /** Indexed events. */
  readonly events: HecEvent[];
  readonly refusals: string[];
  setFault(fault: { status: number; retryAfter?: number } | undefined): void;
  close(): Promise<void>;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Splits concatenated JSON objects as HEC reads them. */
function splitEvents(body: string): unknown[] | undefined {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{") {
      if (depth === 0) start = i;
      depth++;
    } else if (c === "}") {
      depth--;
      if (depth === 0) {
        try {
          out.push(JSON.parse(body.slice(start, i + 1)));
        } catch {
          return undefined;
        }
      }
    } else if (depth === 0 && !/\s/.test(c!)) return undefined;
  }
  return depth === 0 ? out : undefined;
}

export async function startSplunkFake(options: { ackTokens?: string[]; indexDelayMs?: number; port?: number } = {}): Promise<SplunkFake> {
  const ackTokens = new Set(options.ackTokens ?? []);
  const delay = options.indexDelayMs ?? 200;
  const events: HecEvent[] = [];
  const refusals: string[] = [];
  const acked = new Map<string, boolean>();
  let nextAck = 0;
  let fault: { status: number; retryAfter?: number } | undefined;
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(body));
      };
      const auth = String(req.headers.authorization ?? "");
      const token = /^Splunk (\S+)$/.exec(auth)?.[1];
      if (!token) return json(401, { text: "Token is required", code: 2 });
      if (token.endsWith("revoked")) return json(403, { text: "Invalid token", code: 4 });
      const channel = req.headers["x-splunk-request-channel"];
      const body = Buffer.concat(chunks).toString("utf8");
      if (req.url === "/services/collector/ack") {
        const acks = (JSON.parse(body) as { acks: number[] }).acks;
        return json(200, { acks: Object.fromEntries(acks.map((id) => [String(id), acked.get(`${String(channel)}/${id}`) === true])) });
      }
      if (req.url !== "/services/collector/event") return json(404, { text: "The requested URL was not found on this server.", code: 404 });
      if (fault) return json(fault.status, { text: "Server is busy", code: 9 }, fault.retryAfter ? { "retry-after": String(fault.retryAfter) } : {});
      const ack = ackTokens.has(token);
      if (ack && typeof channel !== "string") return json(400, { text: "Data channel is missing", code: 10 });
      const parsed = splitEvents(body);
      if (!parsed || parsed.length === 0) return json(400, { text: parsed ? "No data" : "Invalid data format", code: parsed ? 5 : 6 });
      for (const [n, e] of parsed.entries()) {
        const problem = !isObj(e)
          ? "Invalid data format"
          : !isObj(e.event) && typeof e.event !== "string"
            ? "Event field is required"
            : e.time !== undefined && typeof e.time !== "number"
              ? "Error in handling indexed fields"
              : ["host", "source", "sourcetype", "index"].some((k) => e[k] !== undefined && typeof e[k] !== "string")
                ? "Invalid data format"
                : undefined;
        if (problem) {
          refusals.push(problem);
          return json(400, { text: problem, code: 6, "invalid-event-number": n });
        }
      }
      const id = nextAck++;
      const key = `${String(channel)}/${id}`;
      if (ack) acked.set(key, false);
      // "Indexing" takes a moment: the events show (and are acked) afterwards.
      const t = setTimeout(() => {
        timers.delete(t);
        events.push(...(parsed as HecEvent[]));
        if (ack) acked.set(key, true);
      }, delay);
      timers.add(t);
      json(200, ack ? { text: "Success", code: 0, ackId: id } : { text: "Success", code: 0 });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}`,
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
