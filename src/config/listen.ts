import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { PeregrineError, errorMessage } from "../errors.js";
import { s, type ParseContext } from "./schema.js";

export const DEFAULT_PORT = 2801;

/** `listen:`: where the HTTP API binds, and its TLS. */
export const listenSchema = s
  .object({
    address: s
      .string()
      .default("127.0.0.1")
      .describe(
        "Address the HTTP API binds to. Loopback by default; any other address needs `ingest.auth.tokens` or `listen.tls.client_ca` (or `listen.allow_insecure: true`).",
      ),
    port: s.int().range(0, 65535).default(DEFAULT_PORT).describe("HTTP port (Falcosidekick's is 2801 too)."),
    allow_insecure: s
      .boolean()
      .default(false)
      .describe("Allow listening beyond loopback with no token and no client certificate (alerts, dead letters and replay open to the network)."),
    tls: s
      .object({
        cert: s.string().notEmpty().optional().describe("PEM certificate (chain) file: serve HTTPS. Reloaded when the file changes."),
        key: s.string().notEmpty().optional().describe("PEM private key file of `cert`. Reloaded when the file changes."),
        client_ca: s
          .string()
          .notEmpty()
          .optional()
          .describe("PEM CA file: require a client certificate it signed (mTLS) on every connection. Reloaded when the file changes."),
      })
      .refine((tls, ctx, path) => {
        if ((tls.cert === undefined) !== (tls.key === undefined))
          ctx.error(`${path}.${tls.cert === undefined ? "cert" : "key"}`, "listen.tls.cert and listen.tls.key go together");
        if (tls.client_ca !== undefined && tls.cert === undefined) ctx.error(`${path}.client_ca`, "needs listen.tls.cert and listen.tls.key (mTLS is TLS)");
      })
      .describe("TLS on the HTTP API (ingest, /api, /ui, /metrics)."),
  })
  .describe("Where the HTTP API listens.");

/** `ingest:`: limits, auth and idempotency of the HTTP ingest. */
export const ingestSchema = s
  .object({
    max_body_bytes: s.bytes().range(1024).default(1024 * 1024).describe("Largest accepted request body."),
    max_depth: s
      .int()
      .range(2, 1000)
      .default(64)
      .describe("Deepest nesting of objects and arrays in one alert; deeper bodies get 400 INGEST_TOO_DEEP before anything is journaled."),
    request_timeout: s
      .duration()
      .range(1000)
      .default(30_000)
      .describe("A request (headers and body) not fully received within this is cut: the socket is closed."),
    dedup_window: s
      .duration()
      .range(0)
      .default(3_600_000)
      .describe(
        "An alert whose `uuid` was accepted within this window is answered 200 again but not journaled twice (a producer's retry); 0 turns it off.",
      ),
    recent_alerts: s
      .object({
        max_alerts: s.int().range(0).default(10_000).describe("Most alerts `/api/alerts` and the dashboard's backlog keep in memory."),
        max_bytes: s
          .bytes()
          .range(0)
          .default(64 * 1024 ** 2)
          .describe("Most bytes (of the alerts' JSON) those alerts may take; the oldest go first."),
      })
      .describe("The in-memory ring of recent alerts."),
    auth: s
      .object({
        tokens: s
          .array(s.string().notEmpty())
          .default([])
          .describe("Bearer tokens accepted on ingest, /api and /ui (header `Authorization: Bearer T`); empty turns auth off."),
        query_token: s
          .boolean()
          .default(false)
          .describe("Also accept `?token=T` in the URL, for producers that cannot set a header (the URL lands in proxies' logs)."),
      })
      .describe("Ingest authentication."),
  })
  .describe("The HTTP ingest.");

/** True for 127.0.0.0/8, ::1 and `localhost`: nothing beyond this host can connect. */
export function isLoopback(address: string): boolean {
  const a = address.trim().toLowerCase();
  if (a === "localhost" || a === "::1" || a === "[::1]") return true;
  if (isIP(a) === 4) return a.startsWith("127.");
  if (a.startsWith("::ffff:")) return isLoopback(a.slice(7));
  return false;
}

/**
 * Listening beyond loopback with neither a token nor a client certificate opens alert
 * bodies, dead letters, replay and /test to the network: refused unless asked for.
 */
export function checkListenExposure(
  listen: { address: string; allow_insecure: boolean; tls: { client_ca?: string | undefined } },
  ingest: { auth: { tokens: string[] } },
  ctx: ParseContext,
): void {
  if (isLoopback(listen.address) || listen.allow_insecure) return;
  if (ingest.auth.tokens.length > 0 || listen.tls.client_ca !== undefined) return;
  ctx.error(
    "listen.address",
    `listening on ${listen.address} (beyond loopback) with no ingest.auth.tokens and no listen.tls.client_ca opens alerts, dead letters and replay to the network; ` +
      "set a token or a client CA, or listen.allow_insecure: true to accept that",
    "CONFIG_INSECURE_LISTEN",
  );
}

/** `config check` and the start refuse TLS files that cannot be read or do not fit together. */
export function checkTlsFiles(tls: { cert?: string | undefined; key?: string | undefined; client_ca?: string | undefined }, ctx: ParseContext): void {
  if (tls.cert === undefined || tls.key === undefined) return;
  try {
    readTls({ cert: tls.cert, key: tls.key, ...(tls.client_ca === undefined ? {} : { ca: tls.client_ca }) });
  } catch (err) {
    const field = err instanceof PeregrineError && err.field ? err.field : "listen.tls";
    ctx.error(field, errorMessage(err).replace(/^listen\.tls(\.\w+)?: /, ""), "LISTEN_TLS_INVALID");
  }
}

/** Reads the PEM files of `listen.tls` and checks that they form a usable context. */
export function readTls(files: { cert: string; key: string; ca?: string }): SecureContextOptions {
  const read = (what: string, path: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new PeregrineError("LISTEN_TLS_INVALID", `listen.tls.${what}: cannot read ${path}: ${errorMessage(err)}`, { field: `listen.tls.${what}` });
    }
  };
  const options: SecureContextOptions = { cert: read("cert", files.cert), key: read("key", files.key) };
  if (files.ca !== undefined) options.ca = read("client_ca", files.ca);
  try {
    // Fails here, with the reason, rather than on the first handshake.
    createSecureContext(options);
  } catch (err) {
    throw new PeregrineError("LISTEN_TLS_INVALID", `listen.tls: the certificate, key or client CA is not usable: ${errorMessage(err)}`, { field: "listen.tls" });
  }
  return options;
}
