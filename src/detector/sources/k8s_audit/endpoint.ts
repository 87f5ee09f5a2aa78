/**
 * The audit webhook endpoint. An API server's webhook backend retries a batch on errors and
 * blocks or drops by its own mode, so the answer is the promise: 200 only once every event of
 * the body was evaluated and its alerts journaled; 400 with the reason for a body that can
 * never be read (retrying cannot help); 413 over the body limit; 429 with Retry-After when
 * max_in_flight batches are already being handled (never an unbounded queue); 503 with
 * Retry-After when the journal refused the alerts (full, or a write failed).
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import type { Logger } from "pino";
import type { ErrorCode } from "../../../errors.js";
import type { DetectorAlert, Ruleset } from "../../ruleset.js";
import type { K8sAuditConfig } from "./config.js";
import { AuditBodyError, parseAuditBody } from "./parse.js";
import { k8sAuditSource, type K8sAuditEvent } from "./source.js";

/** Events evaluated per event-loop turn, so a large batch never holds the loop for long. */
const STEP = 500;

export interface K8sAuditStats {
  /** Bodies answered 200. */
  batches: number;
  events: number;
  alerts: number;
  /** Answers other than 200, by status. */
  rejected: Record<string, number>;
  evaluationErrors: number;
}

export interface K8sAuditEndpointOptions {
  config: K8sAuditConfig;
  ruleset: Ruleset;
  logger: Logger;
  /** Journals the alerts of one body; resolves once they are durable, throws when refused. */
  deliver(alerts: readonly (DetectorAlert & { uuid: string })[]): Promise<void>;
}

export interface K8sAuditEndpoint {
  /** The bound address (port 0 in the config picks a free one). */
  readonly address: { host: string; port: number };
  readonly url: string;
  stats(): K8sAuditStats;
  close(): Promise<void>;
}

/**
 * One alert per (audit event, stage, rule) gets the same uuid every time, so a batch the API
 * server retries after a lost answer carries the uuids of the first attempt.
 */
export function alertUuid(auditId: unknown, stage: unknown, rule: string): string {
  const h = createHash("sha1").update(`${String(auditId)}\u0000${String(stage)}\u0000${rule}`).digest("hex");
  // formatted as a name-based (version 5) UUID
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function send(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function startK8sAuditEndpoint(opts: K8sAuditEndpointOptions): Promise<K8sAuditEndpoint> {
  const { config, ruleset, logger } = opts;
  const stats: K8sAuditStats = { batches: 0, events: 0, alerts: 0, rejected: {}, evaluationErrors: 0 };
  const retryAfter = String(Math.max(1, Math.ceil(config.retryAfterMs / 1000)));
  let inFlight = 0;

  const sendError = (error: ErrorCode, res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void => {
    stats.rejected[status] = (stats.rejected[status] ?? 0) + 1;
    send(res, status, { error: { code: error, message } }, headers);
  };

  /** Reads the body up to the limit; undefined when it was too large (413 already sent). */
  const readBody = (req: IncomingMessage, res: ServerResponse): Promise<string | undefined> =>
    new Promise((resolve, reject_) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on("data", (c: Buffer) => {
        if (over) return;
        size += c.length;
        if (size > config.maxBodyBytes) {
          over = true;
          chunks.length = 0;
          sendError("K8S_AUDIT_BODY_TOO_LARGE", res, 413, `body: larger than detector.k8s_audit.max_body_bytes (${config.maxBodyBytes} bytes)`, { connection: "close" });
          req.resume();
          resolve(undefined);
          return;
        }
        chunks.push(c);
      });
      let ended = false;
      req.on("end", () => {
        ended = true;
        if (!over) resolve(Buffer.concat(chunks, size).toString("utf8"));
      });
      req.on("error", reject_);
      // a sender that goes away mid-body (or is cut by request_timeout) frees its slot
      req.on("close", () => {
        if (!ended && !over) reject_(new Error("the sender closed the connection before the body ended"));
      });
    });

  const evaluate = async (events: readonly K8sAuditEvent[]): Promise<(DetectorAlert & { uuid: string })[]> => {
    const out: (DetectorAlert & { uuid: string })[] = [];
    for (let from = 0; from < events.length; from += STEP) {
      if (from > 0) await new Promise<void>((r) => setImmediate(r));
      const to = Math.min(events.length, from + STEP);
      for (let i = from; i < to; i++) {
        const ev = events[i]!;
        let found: readonly DetectorAlert[];
        try {
          found = ruleset.evaluate(k8sAuditSource, ev);
        } catch (err) {
          // one event the rules cannot evaluate must not hold back the others
          if (stats.evaluationErrors++ < 10) logger.error({ err: (err as Error).message, auditID: ev.doc.auditID }, "k8s_audit rule evaluation failed");
          continue;
        }
        for (const a of found) out.push({ ...a, uuid: alertUuid(ev.doc.auditID, ev.doc.stage, a.rule) });
      }
    }
    return out;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== config.path) return sendError("K8S_AUDIT_NOT_FOUND", res, 404, `no such route; the audit endpoint is POST ${config.path}`);
    if (req.method !== "POST") return sendError("K8S_AUDIT_METHOD_NOT_ALLOWED", res, 405, `${req.method ?? "?"}: the audit endpoint takes POST`, { allow: "POST" });
    const type = req.headers["content-type"] ?? "";
    if (!/^application\/([a-z0-9.+-]*\+)?json\b/i.test(type)) {
      return sendError("K8S_AUDIT_UNSUPPORTED_MEDIA_TYPE", res, 415, `content-type: expected application/json, got ${JSON.stringify(type).slice(0, 80)}`);
    }
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (Number.isFinite(declared) && declared > config.maxBodyBytes) {
      return sendError("K8S_AUDIT_BODY_TOO_LARGE", res, 413, `body: ${declared} bytes, larger than detector.k8s_audit.max_body_bytes (${config.maxBodyBytes})`, { connection: "close" });
    }
    if (inFlight >= config.maxInFlight) {
      // the sender retries after Retry-After; its body is not read, so memory stays bounded
      return sendError("K8S_AUDIT_BUSY", res, 429, `${inFlight} batches are being handled (detector.k8s_audit.max_in_flight); retry after ${retryAfter}s`, {
        "retry-after": retryAfter,
        connection: "close",
      });
    }
    inFlight++;
    try {
      const text = await readBody(req, res);
      if (text === undefined) return;
      let events: K8sAuditEvent[];
      try {
        events = parseAuditBody(text);
      } catch (err) {
        if (err instanceof AuditBodyError) return sendError("K8S_AUDIT_INVALID_BODY", res, 400, err.message);
        throw err;
      }
      const alerts = await evaluate(events);
      try {
        if (alerts.length > 0) await opts.deliver(alerts);
      } catch (err) {
        logger.warn({ err: (err as Error).message, alerts: alerts.length }, "k8s_audit alerts not journaled; the API server will retry the batch");
        return sendError("K8S_AUDIT_NOT_JOURNALED", res, 503, `alerts not journaled: ${(err as Error).message}; retry later`, { "retry-after": retryAfter });
      }
      stats.batches++;
      stats.events += events.length;
      stats.alerts += alerts.length;
      send(res, 200, { events: events.length, alerts: alerts.length });
    } finally {
      inFlight--;
    }
  };

  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((err: unknown) => {
      if (req.destroyed || res.destroyed) {
        logger.debug({ err: (err as Error).message }, "k8s_audit request abandoned by its sender");
        return;
      }
      logger.error({ err: (err as Error).message }, "k8s_audit request failed");
      sendError("INTERNAL_ERROR", res, 500, "internal error; the log has details");
    });
  };

  let server: Server;
  const tls = config.tls;
  if (tls.cert !== undefined && tls.key !== undefined) {
    const mtls = tls.clientCa !== undefined;
    server = createHttpsServer(
      {
        cert: readFileSync(tls.cert),
        key: readFileSync(tls.key),
        ...(mtls ? { ca: readFileSync(tls.clientCa!), requestCert: true, rejectUnauthorized: true } : {}),
      },
      listener,
    );
  } else {
    server = createHttpServer(listener);
  }
  server.requestTimeout = config.requestTimeoutMs;
  server.headersTimeout = Math.min(config.requestTimeoutMs, 60_000);

  await new Promise<void>((resolve, rejectListen) => {
    server.once("error", rejectListen);
    server.listen(config.port, config.address, () => {
      server.off("error", rejectListen);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.address.includes(":") ? `[${addr.address}]` : addr.address;
  const url = `${tls.cert !== undefined ? "https" : "http"}://${host}:${addr.port}${config.path}`;
  return {
    address: { host: addr.address, port: addr.port },
    url,
    stats: () => ({ ...stats, rejected: { ...stats.rejected } }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
