import { readFileSync } from "node:fs";
import { Agent, type Dispatcher } from "undici";
import { s } from "../config/schema.js";
import { errorMessage } from "../errors.js";
import type { SendResult } from "./output.js";

/** TLS keys shared by every HTTP output (webhook, Loki, Alertmanager, ...). */
export const tlsShape = s
  .object({
    ca_file: s.string().optional().describe("PEM file of the CA that signed the server's certificate."),
    cert_file: s.string().optional().describe("PEM client certificate, for mutual TLS (needs key_file)."),
    key_file: s.string().optional().describe("PEM private key of cert_file."),
    insecure_skip_verify: s.boolean().default(false).describe("Accept any server certificate. For tests only."),
  })
  .refine((tls, ctx, path) => {
    if ((tls.cert_file === undefined) !== (tls.key_file === undefined))
      ctx.error(`${path}.${tls.cert_file === undefined ? "cert_file" : "key_file"}`, "cert_file and key_file go together");
    for (const key of ["ca_file", "cert_file", "key_file"] as const) {
      const file = tls[key];
      if (file === undefined) continue;
      try {
        readFileSync(file);
      } catch {
        ctx.error(`${path}.${key}`, `cannot read "${file}"`);
      }
    }
  })
  .describe("TLS settings.");

export type TlsConfig = { ca_file?: string; cert_file?: string; key_file?: string; insecure_skip_verify: boolean };

/** One connection pool per output, with its TLS settings; keep-alive keeps batches cheap. */
export function createDispatcher(tls: TlsConfig | undefined, connections = 16): Dispatcher {
  const connect: Record<string, unknown> = {};
  if (tls?.ca_file) connect.ca = readFileSync(tls.ca_file);
  if (tls?.cert_file) connect.cert = readFileSync(tls.cert_file);
  if (tls?.key_file) connect.key = readFileSync(tls.key_file);
  if (tls?.insecure_skip_verify) connect.rejectUnauthorized = false;
  return new Agent({ connections, keepAliveTimeout: 30_000, connect });
}

/** Retry-After in seconds or as an HTTP date, in milliseconds; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === "") return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The usual HTTP answer classification: 2xx ok; 408, 429 and 5xx retry (honoring
 * Retry-After); any other status is a permanent reject carrying a body excerpt.
 */
export function classifyHttpStatus(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  body: string,
): SendResult {
  if (status >= 200 && status < 300) return { kind: "ok" };
  const excerpt = body.length > 500 ? `${body.slice(0, 500)}…` : body;
  const reason = `HTTP ${status}${excerpt ? `: ${excerpt.trim()}` : ""}`;
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(headers["retry-after"]);
    return retryAfterMs === undefined ? { kind: "retry", reason, status } : { kind: "retry", reason, status, retryAfterMs };
  }
  return { kind: "reject", reason, status };
}

/** Network failures (refused, reset, DNS, TLS, timeouts) are worth retrying. */
export function classifyNetworkError(err: unknown): SendResult {
  const code = (err as { code?: string }).code;
  return { kind: "retry", reason: code ? `${code}: ${errorMessage(err)}` : errorMessage(err) };
}
