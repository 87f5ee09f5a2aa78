import { readFileSync } from "node:fs";
import { Agent, request, type Dispatcher } from "undici";
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

/**
 * The longest Retry-After honored: a receiver asking for more (or for a date years ahead)
 * is asked again after an hour. Unclamped, a wait past 2^31-1 ms (24.8 days) overflows
 * Node's timers into a 1 ms one, and the lane would retry in a tight loop.
 */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/** Retry-After in seconds or as an HTTP date, in milliseconds (at most MAX_RETRY_AFTER_MS); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === "") return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(v)) return Math.min(MAX_RETRY_AFTER_MS, Math.round(Number(v) * 1000));
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, at - now));
}

/** Bytes of a receiver's answer an output reads at most: enough for any error message, never a huge body held in memory. */
export const ANSWER_BODY_LIMIT = 4096;

/**
 * Reads at most `limit` bytes of a response body as text, then drops the rest (destroying
 * the stream closes the connection instead of downloading it): a receiver answering 500
 * with hundreds of MiB must cost a few KiB, not the whole body.
 */
export async function readBodyExcerpt(
  body: AsyncIterable<Uint8Array | string> & { destroy(): unknown },
  limit = ANSWER_BODY_LIMIT,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  let cut = false;
  try {
    for await (const chunk of body) {
      const b = typeof chunk === "string" ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      chunks.push(Buffer.from(b.subarray(0, limit - size)));
      size += b.length;
      if (size >= limit) {
        cut = true;
        break;
      }
    }
  } catch {
    // A body cut off mid-way still gives its start; the status decides what happens.
  } finally {
    if (cut) body.destroy();
  }
  const text = Buffer.concat(chunks).toString("utf8");
  return cut ? `${text}…` : text;
}

/**
 * A URL's userinfo (https://user:pass@host/) as a Basic Authorization header, and the URL
 * without it: undici would otherwise drop it silently, and a URL carrying a password must
 * never reach a log line. Percent-escapes in the userinfo are decoded, as browsers and curl do.
 */
export function splitUserinfo(url: string): { url: string; authorization?: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url };
  }
  if (parsed.username === "" && parsed.password === "") return { url };
  const decode = (v: string) => {
    try {
      return decodeURIComponent(v);
    } catch {
      return v;
    }
  };
  const credentials = `${decode(parsed.username)}:${decode(parsed.password)}`;
  parsed.username = "";
  parsed.password = "";
  return { url: parsed.toString(), authorization: `Basic ${Buffer.from(credentials).toString("base64")}` };
}

/** What `httpSend` returns: the status, headers and at most ANSWER_BODY_LIMIT bytes of the body. */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * One request as outputs make it: the answer's body is read only up to ANSWER_BODY_LIMIT
 * (2xx bodies only when `wantBody`, else discarded), so no receiver can make an output
 * hold its answer in memory.
 */
export async function httpSend(
  url: string | URL,
  options: { method: "GET" | "POST" | "PUT"; headers: Record<string, string>; body?: string | Buffer; signal: AbortSignal; dispatcher: Dispatcher; wantBody?: boolean },
): Promise<HttpAnswer> {
  const res = await request(url, {
    method: options.method,
    headers: options.headers,
    body: options.body,
    signal: options.signal,
    dispatcher: options.dispatcher,
  });
  const text = res.statusCode >= 300 || options.wantBody ? await readBodyExcerpt(res.body) : (await res.body.dump(), "");
  return { status: res.statusCode, headers: res.headers, text };
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
